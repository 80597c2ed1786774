"""In-memory fakes of the ports in ``ports.py``, for unit tests of the logic that takes them."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from genai_cicd.errors import GenAICicdError
from genai_cicd.models.results import ApprovalAnswer
from genai_cicd.ports import Execution, RecordedExecution, Tombstone


@dataclass
class FakeApprovals:
    tokens: dict[str, str] = field(default_factory=dict)

    def park(self, release_id: str, task_token: str, expires_at: int) -> None:
        self.tokens[release_id] = task_token

    def token(self, release_id: str) -> str | None:
        return self.tokens.get(release_id)

    def forget(self, release_id: str) -> None:
        self.tokens.pop(release_id, None)


@dataclass
class FakePipelineRecords:
    records: dict[tuple[str, str], list[RecordedExecution]] = field(default_factory=dict)
    tombstones: dict[tuple[str, str], Tombstone] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)

    def record_execution(self, pipeline: str, execution_id: str, execution_name: str, execution_arn: str,
                         attempt: int, approval_token: str | None) -> None:
        self.calls.append("record_execution")
        self.records.setdefault((pipeline, execution_id), []).append(
            RecordedExecution(arn=execution_arn, attempt=attempt, approval_token=approval_token))

    def executions(self, pipeline: str, execution_id: str) -> list[RecordedExecution]:
        self.calls.append("executions")
        return list(self.records.get((pipeline, execution_id), []))

    def bury(self, pipeline: str, execution_id: str, state: str, attempt: int, expires_at: int) -> None:
        self.calls.append("bury")
        buried = self.tombstones.get((pipeline, execution_id))
        if buried is None or buried.attempt <= attempt:
            self.tombstones[(pipeline, execution_id)] = Tombstone(state=state, attempt=attempt)

    def tombstone(self, pipeline: str, execution_id: str) -> Tombstone | None:
        self.calls.append("tombstone")
        return self.tombstones.get((pipeline, execution_id))


@dataclass
class FakeExecutions:
    running: dict[str, Execution] = field(default_factory=dict)
    stopped: list[tuple[str, str]] = field(default_factory=list)
    task_results: list[tuple[str, str, str]] = field(default_factory=list)  # (token, "success"|"failure", detail)
    # called between a start and the caller's next step, to play a concurrent event
    on_start: Any = None

    def start(self, state_machine_arn: str, name: str, input_json: str) -> str | None:
        arn = f"{state_machine_arn.replace(':stateMachine:', ':execution:')}:{name}"
        if arn in self.running:
            return None
        self.running[arn] = Execution(arn=arn, name=name, status="RUNNING", input=input_json)
        if self.on_start is not None:
            self.on_start()
        return arn

    def describe(self, execution_arn: str) -> Execution | None:
        return self.running.get(execution_arn)

    def stop(self, execution_arn: str, error: str, cause: str) -> None:
        self.stopped.append((execution_arn, error))
        self.running[execution_arn] = self.running[execution_arn].model_copy(update={"status": "ABORTED"})

    def succeed_task(self, task_token: str, output_json: str) -> None:
        self.task_results.append((task_token, "success", json.loads(output_json)["approver"]))

    def fail_task(self, task_token: str, error: str, cause: str) -> None:
        self.task_results.append((task_token, "failure", cause))


def request_action_id(token: str) -> str:
    """The fake's action execution id of the approval request with ``token``."""
    return f"ae-{token}"


@dataclass
class FakePipelineCallbacks:
    """CodePipeline's approvals: every execution id in ``pending`` has one open approval."""

    pending: set[str] | None = None  # None: every execution has one
    answers: list[tuple[str | None, bool]] = field(default_factory=list)
    # execution id -> the token of its open approval request (a retried stage opens a new request); the
    # request's action execution id (what its STARTED event names) is request_action_id(token)
    tokens: dict[str, str] = field(default_factory=dict)

    def approval_token(self, pipeline: str, stage: str, action: str, execution_id: str,
                       action_execution_id: str | None = None) -> str | None:
        open_ = self.pending is None or execution_id in self.pending
        token = self.tokens.get(execution_id, f"token-{execution_id}")
        if not open_ or action_execution_id not in (None, request_action_id(token)):
            return None
        return token

    def put_approval(self, pipeline: str, stage: str, action: str, approved: bool, summary: str,
                     execution_id: str, token: str | None = None) -> ApprovalAnswer:
        current = self.approval_token(pipeline, stage, action, execution_id)
        if current is None or (token is not None and token != current):
            raise GenAICicdError(f"{pipeline}/{stage}/{action} has no approval in progress for this release")
        if self.pending is not None:
            self.pending.discard(str(execution_id))
        self.answers.append((execution_id, approved))
        return ApprovalAnswer(pipeline=pipeline, stage=stage, action=action,
                              status="Approved" if approved else "Rejected")

    def answer_if_pending(self, pipeline: str, stage: str, action: str, approved: bool, summary: str,
                          execution_id: str, token: str | None = None) -> bool:
        try:
            self.put_approval(pipeline, stage, action, approved, summary, execution_id, token)
        except GenAICicdError:
            return False
        return True
