"""CodePipeline events in (start, cancel) and the verdict out (report).

Start: an *approval* action (``detail.type.category`` = Approval) named like
GATE_ACTION_NAME entering STARTED starts one release; the pipeline kit's
Step Functions invoke action of the same name starts its own execution and
never a second one from its event. The execution name is derived from
pipeline execution id + stage + action + attempt
(``pipeline-execution-attempt``, documented in "Monitoring CodePipeline
events"), so a duplicate event maps to the same name and starts nothing new
(Step Functions refuses a second execution with that name), while a retried
stage is a new attempt and starts a fresh release for its new approval. The
manifest is the one CodeBuild wrote for that pipeline execution.

Cancel: SUPERSEDED / STOPPED / FAILED / CANCELED for a pipeline execution stops
its release and puts traffic back on the baseline. It leaves a tombstone (with
the attempt it ended) first, so the two events give the same end state in
either order, and a later retry of the same execution may still start.

EventBridge delivers at least once and in no promised order, so every event
acts only on its own attempt and older ones: a cancel stops the releases of
attempts up to its own (a re-delivered FAILED of attempt 1 never touches
attempt 2's release); a STARTED of attempt n ends what older attempts left
running (the retry means they ended) and buries them, and a STARTED of an
attempt older than one already started or ended starts nothing.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from genai_cicd import clock as clock_seam
from genai_cicd import s3_keys
from genai_cicd.deps import Deps
from genai_cicd.errors import GenAICicdError, TransientAwsError, domain_message
from genai_cicd.logic.reconcile import settle
from genai_cicd.models.aws_ids import PipelineExecutionId, PipelineName
from genai_cicd.models.results import CancelledExecution, PipelineReport, StartResult
from genai_cicd.models.tasks import PipelineContext, ReportInput


class ActionDetail(BaseModel):
    """``detail`` of a CodePipeline Action Execution State Change event."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    pipeline: PipelineName
    execution_id: PipelineExecutionId = Field(alias="execution-id")
    stage: str = Field(min_length=1, max_length=100)
    action: str = Field(min_length=1, max_length=100)
    state: str
    type: dict[str, Any] = Field(default_factory=dict)
    attempt: int = Field(default=1, alias="pipeline-execution-attempt", ge=1, le=10_000)
    # The action execution this event is about; for an approval, the one request it opened (GetPipelineState
    # shows it as actionStates[].latestExecution.actionExecutionId). Absent only before March 2020.
    action_execution_id: str | None = Field(default=None, alias="action-execution-id", min_length=1,
                                            max_length=200)


class PipelineExecutionDetail(BaseModel):
    """``detail`` of a CodePipeline Pipeline Execution State Change event."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    pipeline: PipelineName
    execution_id: PipelineExecutionId = Field(alias="execution-id")
    state: str
    attempt: int = Field(default=1, alias="pipeline-execution-attempt", ge=1, le=10_000)


# CodePipeline keeps a superseded execution's events for far less than this.
TOMBSTONE_SECONDS = 30 * 86400


def execution_name(pipeline: str, execution_id: str, stage: str, action: str, attempt: int = 1) -> str:
    """One name per gate entry: the first attempt keeps the original form, a retry adds its number."""
    retry = f"|attempt-{attempt}" if attempt > 1 else ""
    digest = hashlib.sha256(f"{pipeline}|{execution_id}|{stage}|{action}{retry}".encode()).hexdigest()[:20]
    prefix = re.sub(r"[^A-Za-z0-9-_]", "-", pipeline)[:40]
    return f"cp-{prefix}-{digest}"


def manifest_key(pipeline: str, execution_id: str) -> str:
    return s3_keys.pipeline_manifest(pipeline, execution_id)


def start_from_pipeline(detail: ActionDetail, state_machine_arn: str, deps: Deps) -> StartResult:
    if detail.type.get("category") != "Approval":
        # An invoke action's event: CodePipeline already started the execution it waits for.
        name = execution_name(detail.pipeline, detail.execution_id, detail.stage, detail.action, detail.attempt)
        return StartResult(execution_name=name, execution_arn=None, started=False,
                           reason="not an approval action: a Step Functions invoke action starts its own execution")
    name = execution_name(detail.pipeline, detail.execution_id, detail.stage, detail.action, detail.attempt)
    context = PipelineContext(pipeline=detail.pipeline, execution_id=detail.execution_id, stage=detail.stage,
                              action=detail.action,
                              callback="approval" if detail.type.get("category") == "Approval" else "none")
    payload = {"manifest_uri": deps.artifacts.uri(manifest_key(detail.pipeline, detail.execution_id)),
               "pipeline": context.model_dump(mode="json"), "started_by": f"codepipeline:{detail.pipeline}"}
    if (cancelled := _cancelled_state(deps, detail.pipeline, detail.execution_id, detail.attempt)) is not None:
        return StartResult(execution_name=name, execution_arn=None, started=False,
                           reason=f"pipeline execution already {cancelled}: nothing to release")
    recorded = deps.pipeline_records.executions(detail.pipeline, detail.execution_id)
    newer = max((r.attempt for r in recorded), default=0)
    if newer > detail.attempt:
        return StartResult(execution_name=name, execution_arn=None, started=False,
                           reason=f"attempt {detail.attempt} is stale: attempt {newer} already started")
    if any(r.attempt < detail.attempt for r in recorded):
        # A retry: the older attempts ended (their FAILED event may still be on its way). End their
        # releases first, so the lock and the traffic are free for this one.
        _end_attempts(deps, detail.pipeline, detail.execution_id, detail.attempt - 1, "RETRIED")
    # This attempt's approval request: the one this event's action execution opened, if it is still open. A
    # late STARTED finds the next attempt's request open and records no token, so it can never answer it.
    token = None if detail.action_execution_id is None else deps.pipeline.approval_token(
        detail.pipeline, detail.stage, detail.action, detail.execution_id, detail.action_execution_id)
    arn = deps.executions.start(state_machine_arn, name, json.dumps(payload, sort_keys=True))
    if arn is None:
        return StartResult(execution_name=name, execution_arn=None, started=False,
                           reason="duplicate event: this pipeline action already has a release")
    deps.pipeline_records.record_execution(detail.pipeline, detail.execution_id, name, arn, detail.attempt, token)
    # A cancel that arrived between the check above and this record did not see us: stop ourselves.
    if (cancelled := _cancelled_state(deps, detail.pipeline, detail.execution_id, detail.attempt)) is not None:
        deps.executions.stop(arn, "PipelineCancelled", f"pipeline execution {cancelled}")
        return StartResult(execution_name=name, execution_arn=arn, started=False,
                           reason=f"pipeline execution {cancelled} while starting: stopped")
    return StartResult(execution_name=name, execution_arn=arn, started=True, reason="started")


def _cancelled_state(deps: Deps, pipeline: str, execution_id: str, attempt: int) -> str | None:
    """The state that ended this attempt (or a later one) of the pipeline execution, if any."""
    tombstone = deps.pipeline_records.tombstone(pipeline, execution_id)
    if tombstone is None or tombstone.attempt < attempt:
        return None  # nothing ended, or a retry started after the attempt that ended
    return tombstone.state


def cancel_for_pipeline(detail: PipelineExecutionDetail, deps: Deps) -> list[CancelledExecution]:
    """Stop the releases of this attempt of the pipeline execution (and older ones), restore the baseline."""
    return _end_attempts(deps, detail.pipeline, detail.execution_id, detail.attempt, detail.state)


def _end_attempts(deps: Deps, pipeline: str, execution_id: str, attempt: int, state: str) -> list[CancelledExecution]:
    # First a tombstone, so a STARTED event that arrives late (out of order) starts nothing.
    deps.pipeline_records.bury(pipeline, execution_id, state, attempt,
                               expires_at=int(clock_seam.now()) + TOMBSTONE_SECONDS)
    done = []
    for record in deps.pipeline_records.executions(pipeline, execution_id):
        if record.attempt > attempt:
            continue  # a newer attempt's release: this event is about an attempt that ended before it
        arn = record.arn
        described = deps.executions.describe(arn)
        if described is None:
            continue  # recorded but gone (history expired): nothing left to stop
        if described.status == "RUNNING":
            deps.executions.stop(arn, "PipelineCancelled", f"pipeline execution {state}")
        outcome = settle(deps, described, "cancelled", f"pipeline {pipeline} execution {state}",
                         answer_approval=state != "RETRIED")
        done.append(CancelledExecution(execution_arn=arn, status=described.status, **outcome.model_dump()))
    return done


def report_to_pipeline(event: ReportInput, deps: Deps) -> PipelineReport:
    pipeline = event.release.pipeline
    if pipeline is None or pipeline.callback == "none":
        return PipelineReport(reported=False, reason="no callback: the caller reads the execution status")
    # Only the approval StartRelease started this execution for: an execution input that names a pipeline
    # (anyone may call StartExecution) decides nothing by itself.
    recorded = {r.arn: r for r in deps.pipeline_records.executions(pipeline.pipeline, pipeline.execution_id)}
    own = recorded.get(event.release.execution_arn)
    if own is None:
        return PipelineReport(reported=False, reason=f"execution not started by {pipeline.pipeline}'s gate action "
                                                     f"for execution {pipeline.execution_id}: no approval answered")
    if own.approval_token is None:
        return PipelineReport(reported=False, reason="no approval request was open when the release started: "
                                                     "one open now is another's")
    approved = event.outcome == "promoted"
    summary = f"genai-cicd {event.outcome}: {domain_message(event.summary)}".strip()
    try:
        answer = deps.pipeline.put_approval(pipeline.pipeline, pipeline.stage, pipeline.action, approved, summary,
                                            execution_id=pipeline.execution_id, token=own.approval_token)
    except TransientAwsError:
        raise  # the state machine retries; past its retries the execution fails and reconcile answers
    except GenAICicdError as exc:
        # Decided already (a redelivered or retried report), or the pipeline moved on (superseded).
        return PipelineReport(reported=False, reason=str(exc))
    return PipelineReport(reported=True, **answer.model_dump())
