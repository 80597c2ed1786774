"""Report a verdict back to CodePipeline.

An approval action ("GenAIGate") is approved or rejected with
PutApprovalResult; its token comes from GetPipelineState. A Step Functions
invoke action needs no callback: CodePipeline reads the execution's status.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from genai_cicd.errors import GenAICicdError, TransientAwsError
from genai_cicd.models.results import ApprovalAnswer

# Error codes AWS uses for throttling (botocore's retry handler, standard mode: THROTTLING_ERROR_CODES).
_THROTTLING = {"Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
               "TooManyRequestsException", "ProvisionedThroughputExceededException", "TransactionInProgressException",
               "RequestLimitExceeded", "BandwidthLimitExceeded", "LimitExceededException", "RequestThrottled",
               "SlowDown", "PriorRequestNotComplete", "EC2ThrottledException"}


def _transient(exc: Exception) -> bool:
    if isinstance(exc, (BotoConnectionError, HTTPClientError)):
        return True  # timeouts and connection failures
    if isinstance(exc, ClientError):
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        return exc.response.get("Error", {}).get("Code") in _THROTTLING or status >= 500
    return False


class PipelineReporter:
    """Every answer names the pipeline execution it is for: a release answers only its own approval."""

    def __init__(self, codepipeline: Any) -> None:
        self._cp = codepipeline

    def approval_token(self, pipeline: str, stage: str, action: str, execution_id: str,
                       action_execution_id: str | None = None) -> str | None:
        """The open approval's token, only if the stage runs that pipeline execution.

        GetPipelineState returns the stage's latest execution (StageState.latestExecution,
        ``pipelineExecutionId``): after a supersede the approval may belong to a newer execution,
        which a release of the older one must never answer. With ``action_execution_id`` (the
        approval action's STARTED event names it), only that request (ActionExecution
        ``actionExecutionId``): a retried stage opens a new one under the same pipeline execution.
        """
        try:
            state = self._cp.get_pipeline_state(name=pipeline)
        except (ClientError, BotoConnectionError, HTTPClientError) as exc:
            if _transient(exc):
                raise TransientAwsError(f"GetPipelineState: {exc}") from None
            code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else None
            if code == "PipelineNotFoundException":
                return None  # deleted (or never there): no approval of it is in progress
            raise
        for stage_state in state.get("stageStates", []):
            if stage_state.get("stageName") != stage:
                continue
            running = (stage_state.get("latestExecution") or {}).get("pipelineExecutionId")
            if running != execution_id:
                return None
            for action_state in stage_state.get("actionStates", []):
                if action_state.get("actionName") == action:
                    latest = action_state.get("latestExecution") or {}
                    mine = action_execution_id is None or latest.get("actionExecutionId") == action_execution_id
                    if latest.get("status") == "InProgress" and mine:
                        return latest.get("token")
        return None

    def answer_if_pending(self, pipeline: str, stage: str, action: str, approved: bool, summary: str,
                          execution_id: str, token: str | None = None) -> bool:
        """Answer the approval if it is still open for this execution; False when there is none to answer
        (decided, superseded, gone) or CodePipeline refused the answer. A throttle, 5xx or timeout raises
        TransientAwsError: the caller's retry answers it later."""
        try:
            self.put_approval(pipeline, stage, action, approved, summary, execution_id=execution_id, token=token)
        except TransientAwsError:
            raise
        except (GenAICicdError, ClientError):
            return False
        return True

    def put_approval(self, pipeline: str, stage: str, action: str, approved: bool, summary: str,
                     execution_id: str, token: str | None = None) -> ApprovalAnswer:
        """With ``token`` (recorded when the release started), only that approval request: a retried stage
        opens a new request under the same pipeline execution id, which an older attempt must not answer."""
        current = self.approval_token(pipeline, stage, action, execution_id)
        if current is None:
            raise GenAICicdError(f"{pipeline}/{stage}/{action} has no approval in progress for this execution "
                                 "(superseded or decided)")
        if token is not None and current != token:
            raise GenAICicdError(f"{pipeline}/{stage}/{action}: the approval in progress is a newer request "
                                 "(a retried stage), not this release's")
        token = current
        try:
            self._cp.put_approval_result(
                pipelineName=pipeline, stageName=stage, actionName=action, token=token,
                result={"summary": summary[:512], "status": "Approved" if approved else "Rejected"},
            )
        except (ClientError, BotoConnectionError, HTTPClientError) as exc:
            if _transient(exc):
                raise TransientAwsError(f"PutApprovalResult: {exc}") from None
            raise
        return ApprovalAnswer(pipeline=pipeline, stage=stage, action=action,
                              status="Approved" if approved else "Rejected")
