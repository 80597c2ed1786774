"""CodePipeline pipeline state and approval/job results, simulated."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from genai_cicd_local.embedded.services.base import BackendError

if TYPE_CHECKING:
    from genai_cicd_local.embedded.clock import SimulatedClock


class CodePipelineService:
    clock: SimulatedClock
    approvals: dict[tuple[str, str, str], dict[str, Any]]
    approval_results: list[dict[str, Any]]
    job_results: list[dict[str, Any]]

    def _init_codepipeline(self) -> None:
        self.approvals, self.approval_results, self.job_results = {}, [], []

    def open_approval(self, pipeline: str, stage: str, action: str, execution_id: str) -> str:
        """Simulate a manual-approval action entering InProgress; returns its token."""
        token = str(uuid.uuid4())
        self.approvals[(pipeline, stage, action)] = {"token": token, "status": "InProgress",
                                                     "pipelineExecutionId": execution_id,
                                                     "actionExecutionId": str(uuid.uuid4())}
        return token

    def approval_action_execution_id(self, pipeline: str, stage: str, action: str) -> str:
        """The action execution id of the latest approval request: what its STARTED event carries."""
        return str(self.approvals[(pipeline, stage, action)]["actionExecutionId"])

    def get_pipeline_state(self, p: dict[str, Any]) -> dict[str, Any]:
        name = p["name"]
        # GetPipelineState's documented shape: per stage, actionStates[].latestExecution (ActionExecution:
        # actionExecutionId, status, token) and latestExecution (StageExecution: pipelineExecutionId, status).
        stages: dict[str, list[dict[str, Any]]] = {}
        running: dict[str, dict[str, Any]] = {}
        for (pipeline, stage, action), state in self.approvals.items():
            if pipeline == name:
                stages.setdefault(stage, []).append({"actionName": action, "latestExecution": {
                    "actionExecutionId": state["actionExecutionId"], "status": state["status"],
                    "token": state["token"]}})
                running[stage] = {"pipelineExecutionId": state["pipelineExecutionId"],
                                  "status": "InProgress" if state["status"] == "InProgress" else "Succeeded"}
        if not stages:
            raise BackendError("PipelineNotFoundException", f"pipeline {name} not found")
        return {"pipelineName": name, "stageStates": [{"stageName": s, "actionStates": a, "latestExecution": running[s]}
                                                      for s, a in stages.items()]}

    def put_approval_result(self, p: dict[str, Any]) -> dict[str, Any]:
        key = (p["pipelineName"], p["stageName"], p["actionName"])
        state = self.approvals.get(key)
        if state is None or state["token"] != p["token"] or state["status"] != "InProgress":
            raise BackendError("InvalidApprovalTokenException", "the approval token is not valid")
        state["status"] = "Succeeded" if p["result"]["status"] == "Approved" else "Failed"
        self.approval_results.append({"pipeline": key[0], "stage": key[1], "action": key[2], **p["result"]})
        return {"approvedAt": self.clock.utc_now()}

    def put_job_success_result(self, p: dict[str, Any]) -> dict[str, Any]:
        self.job_results.append({"jobId": p["jobId"], "status": "Succeeded"})
        return {}

    def put_job_failure_result(self, p: dict[str, Any]) -> dict[str, Any]:
        self.job_results.append({"jobId": p["jobId"], "status": "Failed", **p.get("failureDetails", {})})
        return {}
