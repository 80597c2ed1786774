"""Report a verdict back to CodePipeline.

An approval action ("GenAIGate") is approved or rejected with
PutApprovalResult; its token comes from GetPipelineState. A Step Functions
invoke action needs no callback: CodePipeline reads the execution's status.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from genai_cicd.errors import GenAICicdError
from genai_cicd.models.results import ApprovalAnswer


class PipelineReporter:
    def __init__(self, codepipeline: Any) -> None:
        self._cp = codepipeline

    def approval_token(self, pipeline: str, stage: str, action: str, execution_id: str | None = None) -> str | None:
        """The open approval's token; with ``execution_id``, only if the stage runs that pipeline execution.

        GetPipelineState returns the stage's latest execution (StageState.latestExecution,
        ``pipelineExecutionId``): after a supersede the approval may belong to a newer execution,
        which a release of the older one must never answer.
        """
        state = self._cp.get_pipeline_state(name=pipeline)
        for stage_state in state.get("stageStates", []):
            if stage_state.get("stageName") != stage:
                continue
            running = (stage_state.get("latestExecution") or {}).get("pipelineExecutionId")
            if execution_id is not None and running != execution_id:
                return None
            for action_state in stage_state.get("actionStates", []):
                if action_state.get("actionName") == action:
                    latest = action_state.get("latestExecution") or {}
                    if latest.get("status") == "InProgress":
                        return latest.get("token")
        return None

    def reject_if_pending(self, pipeline: str, stage: str, action: str, summary: str,
                          execution_id: str | None = None) -> bool:
        """Reject the approval if it is still open for this execution; False when there is none to answer
        (decided, superseded, gone) or CodePipeline refused: a clean-up that must not fail on it."""
        try:
            self.put_approval(pipeline, stage, action, False, summary, execution_id=execution_id)
        except (GenAICicdError, ClientError):
            return False
        return True

    def put_approval(self, pipeline: str, stage: str, action: str, approved: bool, summary: str,
                     execution_id: str | None = None) -> ApprovalAnswer:
        token = self.approval_token(pipeline, stage, action, execution_id)
        if token is None:
            raise GenAICicdError(f"{pipeline}/{stage}/{action} has no approval in progress for this execution "
                                 "(superseded or decided)")
        self._cp.put_approval_result(
            pipelineName=pipeline, stageName=stage, actionName=action, token=token,
            result={"summary": summary[:512], "status": "Approved" if approved else "Rejected"},
        )
        return ApprovalAnswer(pipeline=pipeline, stage=stage, action=action,
                              status="Approved" if approved else "Rejected")
