"""CodePipeline events in (start, cancel) and the verdict out (report).

Start: an approval action named like GATE_ACTION_NAME entering STARTED
starts one release. The execution name is derived from pipeline execution id
+ stage + action, so a duplicate event maps to the same name and starts
nothing new (Step Functions refuses a second execution with that name).
The manifest is the one CodeBuild wrote for that pipeline execution.

Cancel: SUPERSEDED / STOPPED / FAILED for a pipeline execution stops its
release and puts traffic back on the baseline.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

from genai_cicd.errors import InvalidInput
from genai_cicd.logic.canary import shifter
from genai_cicd.logic.deps import Deps
from genai_cicd.models.manifest import ReleaseManifest, load_manifest_text
from genai_cicd.models.tasks import PipelineContext, ReleaseContext, ReportInput


class ActionDetail(BaseModel):
    """``detail`` of a CodePipeline Action Execution State Change event."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    pipeline: str = Field(min_length=1, max_length=100)
    execution_id: str = Field(alias="execution-id", min_length=1, max_length=200)
    stage: str = Field(min_length=1, max_length=100)
    action: str = Field(min_length=1, max_length=100)
    state: str
    type: dict[str, Any] = Field(default_factory=dict)


class PipelineExecutionDetail(BaseModel):
    """``detail`` of a CodePipeline Pipeline Execution State Change event."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    pipeline: str = Field(min_length=1, max_length=100)
    execution_id: str = Field(alias="execution-id", min_length=1, max_length=200)
    state: str


class StartResult(BaseModel):
    execution_name: str
    execution_arn: str | None
    started: bool
    reason: str


def execution_name(pipeline: str, execution_id: str, stage: str, action: str) -> str:
    digest = hashlib.sha256(f"{pipeline}|{execution_id}|{stage}|{action}".encode()).hexdigest()[:20]
    prefix = re.sub(r"[^A-Za-z0-9-_]", "-", pipeline)[:40]
    return f"cp-{prefix}-{digest}"


def manifest_key(pipeline: str, execution_id: str) -> str:
    return f"pipelines/{pipeline}/{execution_id}/release.json"


def start_from_pipeline(detail: ActionDetail, state_machine_arn: str, deps: Deps) -> StartResult:
    name = execution_name(detail.pipeline, detail.execution_id, detail.stage, detail.action)
    context = PipelineContext(pipeline=detail.pipeline, execution_id=detail.execution_id, stage=detail.stage,
                              action=detail.action,
                              callback="approval" if detail.type.get("category") == "Approval" else "none")
    payload = {"manifest_uri": deps.artifacts.uri(manifest_key(detail.pipeline, detail.execution_id)),
               "pipeline": context.model_dump(mode="json"), "started_by": f"codepipeline:{detail.pipeline}"}
    sfn = deps.client("stepfunctions")
    try:
        arn = sfn.start_execution(stateMachineArn=state_machine_arn, name=name,
                                  input=json.dumps(payload, sort_keys=True))["executionArn"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ExecutionAlreadyExists":
            return StartResult(execution_name=name, execution_arn=None, started=False,
                               reason="duplicate event: this pipeline action already has a release")
        raise
    deps.client("dynamodb").put_item(
        TableName=deps.config.table_name,
        Item={"pk": {"S": f"PIPELINE#{detail.pipeline}#{detail.execution_id}"}, "sk": {"S": f"EXEC#{name}"},
              "execution_arn": {"S": arn}},
    )
    return StartResult(execution_name=name, execution_arn=arn, started=True, reason="started")


def cancel_for_pipeline(detail: PipelineExecutionDetail, deps: Deps) -> list[dict[str, Any]]:
    """Stop the pipeline execution's running releases and restore the baseline."""
    ddb = deps.client("dynamodb")
    sfn = deps.client("stepfunctions")
    items = ddb.query(
        TableName=deps.config.table_name, KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"PIPELINE#{detail.pipeline}#{detail.execution_id}"}},
        ConsistentRead=True,
    ).get("Items", [])
    done = []
    for item in items:
        arn = item["execution_arn"]["S"]
        described = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            done.append({"execution_arn": arn, "action": "none", "status": described["status"]})
            continue
        sfn.stop_execution(executionArn=arn, error="PipelineCancelled",
                           cause=f"pipeline execution {detail.state}")
        receipt: dict[str, Any] = {"execution_arn": arn, "action": "stopped"}
        found = _release_context(deps, described)
        if found is not None:
            context, manifest = found
            receipt["rollback"] = shifter(deps, context, manifest).rollback()
            deps.lock.release(context.app, context.environment, context.release_id)
            deps.ledger.append(context.release_id, "cancelled", f"codepipeline:{detail.pipeline}",
                               {"pipeline_state": detail.state, "rollback": receipt["rollback"]})
        done.append(receipt)
    return done


def _release_context(deps: Deps, described: dict[str, Any]) -> tuple[ReleaseContext, ReleaseManifest] | None:
    """The context and manifest of a running execution (stored by LoadManifest), read once."""
    name = described["name"]
    uri = deps.artifacts.uri(f"releases/{name}/manifest.json")
    try:
        manifest = load_manifest_text(deps.artifacts.read_text(uri), uri)
    except InvalidInput:
        return None  # not validated yet: nothing moved, nothing to restore
    try:
        start_input = json.loads(described.get("input") or "{}")
    except json.JSONDecodeError:
        start_input = {}
    context = ReleaseContext(release_id=name, execution_arn=described["executionArn"], app=manifest.app,
                             environment=manifest.environment, manifest_uri=uri, manifest_hash="",
                             change_kinds=[k.value for k in manifest.change.kinds], gates={},
                             approval_required=False, approval_timeout_seconds=1, bake_seconds=1,
                             bedrock_poll_seconds=1, started_by=str(start_input.get("started_by", "unknown")))
    return context, manifest


def report_to_pipeline(event: ReportInput, deps: Deps) -> dict[str, Any]:
    pipeline = event.release.pipeline
    if pipeline is None or pipeline.callback == "none":
        return {"reported": False, "reason": "no callback: the caller reads the execution status"}
    approved = event.outcome == "promoted"
    summary = f"genai-cicd {event.outcome}: {event.summary}".strip()
    result = deps.pipeline.put_approval(pipeline.pipeline, pipeline.stage, pipeline.action, approved, summary)
    return {"reported": True, **result}
