"""Settle a release whose execution ended or was stopped, from the services' own state.

Called by CancelRelease (the pipeline superseded/stopped the release) and by
ReconcileRelease (Step Functions reports the execution ABORTED, TIMED_OUT or
FAILED). Both may see the same release, in any order, more than once, so:

- the ledger says whether the release already reached an outcome; if it did,
  only a lock left behind is released (traffic was settled by the execution);
- otherwise the lock is released first (a shift still in flight sees it gone
  and undoes itself, see ``fenced_shift``), then traffic is rolled back and
  read back, then the outcome is announced and recorded once;
- and a release started by a pipeline's approval action answers that approval
  (Rejected, with the reason) whichever way it ended — an invalid manifest, a
  stop, a timeout, an uncatchable failure — so the pipeline never waits for its
  own approval timeout; a release that ended with its approval still open (the
  answer failed) has it answered as its outcome says. Only the approval of the
  pipeline execution StartRelease recorded for this execution is answered.
"""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from genai_cicd import s3_keys
from genai_cicd.deps import Deps
from genai_cicd.errors import InvalidInput
from genai_cicd.logic.canary import shifter
from genai_cicd.logic.notify import notify
from genai_cicd.models.manifest import ReleaseManifest, load_manifest_text
from genai_cicd.models.results import ApprovalAnswered, Settlement
from genai_cicd.models.tasks import NotifyInput, PipelineContext, ReleaseContext
from genai_cicd.ports import Execution

# Outcomes after which the execution itself left traffic where it belongs.
SETTLED = {"promoted", "blocked", "rolled_back", "failed", "rejected", "invalid", "locked", "cancelled",
           "reconciled"}


def settle(deps: Deps, described: Execution, event: Literal["cancelled", "reconciled"], cause: str,
           *, answer_approval: bool = True) -> Settlement:
    """``described`` is the ended (or stopping) execution; ``event`` is ``cancelled`` or ``reconciled``.
    ``answer_approval=False`` when a retry of the pipeline stage ended it: the approval request open now
    is the retry's, never this release's to answer."""
    name = described.name

    def answer(reason: str, approved: bool = False) -> ApprovalAnswered:
        if not answer_approval:
            return "superseded by a retry"
        return answer_pending_approval(deps, described, reason, approved=approved)

    found = release_context(deps, described)
    if found is None:
        return Settlement(release_id=name, action="none", reason="manifest never validated: nothing moved",
                          approval=answer(f"release {event}: the manifest was not valid"))
    context, manifest = found
    # First free the lock (conditional on us holding it): a shift still in flight then undoes itself.
    freed = deps.lock.release(manifest.app, manifest.environment, name)
    history = [e.event for e in deps.ledger.entries(name)]
    # The last entry decides: a failed_rollback after an outcome still needs traffic restored.
    if history and history[-1] in SETTLED:
        # Traffic is where the outcome left it; the approval may still be open (its answer failed at the
        # end of the execution): answer it as the outcome says.
        return Settlement(release_id=name, action="none", reason=f"already settled: {history[-1]}", lock_freed=freed,
                          approval=answer(f"release {history[-1]}", approved=history[-1] == "promoted"))
    if "started" not in history:
        # Stopped before it announced anything: nothing to restore.
        return Settlement(release_id=name, action="none", reason="stopped before the release started",
                          approval=answer(f"release {event} before it started: {cause}"))
    receipt = shifter(deps, context, manifest).rollback()
    notify(NotifyInput(release=context, event=event,
                       detail={"cause": cause, "receipt": receipt.model_dump(mode="json")}), deps)
    return Settlement(release_id=name, action="rolled_back", receipt=receipt,
                      approval=answer(f"release {event}, traffic on the baseline: {cause}"))


def answer_pending_approval(deps: Deps, described: Execution, reason: str, *,
                             approved: bool = False) -> ApprovalAnswered:
    """Answer (reject, unless the release was promoted) the approval this execution was started for, if
    it is still open. Only an execution StartRelease recorded for that pipeline execution answers it: an
    execution input naming a pipeline decides nothing by itself."""
    try:
        start_input = json.loads(described.input or "{}")
        pipeline = PipelineContext.model_validate(start_input.get("pipeline"))
    except (json.JSONDecodeError, ValidationError, AttributeError):
        return "no pipeline"
    if pipeline.callback != "approval":
        return "no approval to answer"
    records = deps.pipeline_records.executions(pipeline.pipeline, pipeline.execution_id)
    own = next((r for r in records if r.arn == described.arn), None)
    if own is None:
        return "not started by the pipeline"
    if any(r.attempt > own.attempt for r in records):
        return "superseded by a retry"  # the open approval request, if any, is the newer attempt's
    if own.approval_token is None:
        return "no approval pending"  # none was open when the release started: any open now is another's
    answered = deps.pipeline.answer_if_pending(pipeline.pipeline, pipeline.stage, pipeline.action, approved,
                                               f"genai-cicd: {reason}", execution_id=pipeline.execution_id,
                                               token=own.approval_token)
    if not answered:
        return "no approval pending"
    return "approved" if approved else "rejected"


def release_context(deps: Deps, described: Execution) -> tuple[ReleaseContext, ReleaseManifest] | None:
    """The context and manifest of an execution (stored by LoadManifest), read once."""
    name = described.name
    uri = deps.artifacts.uri(s3_keys.release_manifest(name))
    try:
        manifest = load_manifest_text(deps.artifacts.read_text(uri), uri)
    except InvalidInput:
        return None
    try:
        start_input = json.loads(described.input or "{}")
    except json.JSONDecodeError:
        start_input = {}
    context = ReleaseContext(release_id=name, execution_arn=described.arn, app=manifest.app,
                             environment=manifest.environment, manifest_uri=uri, manifest_hash="",
                             change_kinds=[k.value for k in manifest.change.kinds], gates={},
                             approval_required=False, approval_timeout_seconds=1, bake_seconds=1,
                             bedrock_poll_seconds=1, started_by=str(start_input.get("started_by", "unknown")))
    return context, manifest


class ExecutionStatusDetail(BaseModel):
    """``detail`` of a Step Functions Execution Status Change event (fields we use)."""

    model_config = ConfigDict(extra="allow")

    executionArn: str = Field(pattern=r"^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:execution:")  # noqa: N815
    stateMachineArn: str = Field(pattern=r"^arn:aws[a-z-]*:states:")  # noqa: N815
    name: str = Field(min_length=1, max_length=80)
    status: Literal["RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE"]


def reconcile_execution(detail: ExecutionStatusDetail, deps: Deps) -> Settlement:
    described = deps.executions.describe(detail.executionArn)
    if described is None:
        return Settlement(release_id=detail.name, action="none", reason="no such execution")
    if described.status == "RUNNING":
        # A redriven or stale event: the execution is alive and will settle itself.
        return Settlement(release_id=described.name, action="none", reason="execution is running")
    return settle(deps, described, "reconciled", f"execution {described.status}")


def execution_running(deps: Deps, execution_arn: str) -> bool:
    """False only when Step Functions says the execution has ended (or never existed)."""
    described = deps.executions.describe(execution_arn)
    return described is not None and described.status == "RUNNING"
