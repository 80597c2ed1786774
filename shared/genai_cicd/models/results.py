"""What the event-driven functions (StartRelease, CancelRelease, ReconcileRelease) and the pipeline
tasks (ReportToPipeline, RequestApproval) return: ids, statuses and reasons, never content.

Their callers are EventBridge (which discards the result: it is for the logs and ``sam local
invoke``) and Step Functions (which stores it in the execution history), so the shapes are stable.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from genai_cicd.models.traffic import TrafficReceipt


class Result(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StartResult(Result):
    """StartRelease: whether this pipeline action started a release (and which), or why not."""

    started: bool
    reason: str
    execution_name: str | None = None  # None when the event was not one to start a release for
    execution_arn: str | None = None


# How a settle answered the approval the release was started for (logic/reconcile.answer_pending_approval).
ApprovalAnswered = Literal["approved", "rejected", "no approval pending", "no approval to answer", "no pipeline",
                           "not started by the pipeline", "superseded by a retry"]


class Settlement(Result):
    """A release whose execution ended or was stopped, settled: traffic rolled back, or why nothing moved."""

    release_id: str
    action: Literal["none", "rolled_back"]
    reason: str | None = None
    receipt: TrafficReceipt | None = None  # the traffic adapter's read-back receipt when rolled back
    approval: ApprovalAnswered | None = None
    lock_freed: bool | None = None


class CancelledExecution(Settlement):
    execution_arn: str
    status: str  # the execution's status when the cancel found it (RUNNING, SUCCEEDED, ...)


class CancelResult(Result):
    """CancelRelease: the releases of the ended pipeline execution, each settled."""

    cancelled: list[CancelledExecution]
    reason: str | None = None  # set when the pipeline state does not cancel


class ApprovalAnswer(Result):
    """The answer put to a CodePipeline manual approval (PutApprovalResult)."""

    pipeline: str
    stage: str
    action: str
    status: Literal["Approved", "Rejected"]


class PipelineReport(Result):
    """ReportToPipeline: the approval answered with the outcome (its fields), or why there was none to answer."""

    reported: bool
    reason: str | None = None
    pipeline: str | None = None
    stage: str | None = None
    action: str | None = None
    status: Literal["Approved", "Rejected"] | None = None


class ApprovalParked(Result):
    """RequestApproval: the task token is stored and the request announced."""

    parked: bool
    release_id: str
