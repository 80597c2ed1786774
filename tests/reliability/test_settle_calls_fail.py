"""Settle calls fail too (issue #25): a throttle at PutApprovalResult, at FreeLock's DynamoDB write or at
the rollback's AppConfig call, at the end of each outcome of a pipeline-started release, leaves no approval
InProgress, no lock held, and traffic where the outcome says.

A throttle is three failed attempts in a row (one call's worth of botocore's standard-mode retries), so the
task itself fails once and the state machine's Retry must carry it; "retries spent" fails every attempt the
Retry makes, so the execution fails and ReconcileRelease (Step Functions' status-change event) must finish
the job. CodePipeline and AppConfig declare no ThrottlingException in their API models: botocore raises a
plain ClientError, which is why the adapters name it (TransientAwsError).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from genai_cicd_local.embedded.aws_session import EmbeddedAWS
from genai_cicd_local.runner import LocalReleaseRunner
from tests.stack import (
    AppTraffic,
    gate_started,
    ledger_events,
    lock_holder,
    put_pipeline_manifest,
    quiesce,
    status_event,
)
from tests.utils import QUICK_CANARY, eid, manifest_file

PIPELINE, STAGE, ACTION = "support-bot-pipeline", "GenAIGates", "GenAIGate"
OUTCOMES = {"promoted", "blocked", "rolled_back", "failed"}
# botocore's attempts per call (standard mode) x the ASL's attempts (1 + MaxAttempts 4) of AnswerPipeline.
ALL_ATTEMPTS = 3 * 5


def pipeline_release(aws: EmbeddedAWS, runner: LocalReleaseRunner, tmp_path: Path, execution_id: str,
                     manifest: str) -> str:
    gates = {"prompt_regression": None, "guardrail_suite": None} if manifest == "good-prompt" else {}
    path = manifest_file(tmp_path, manifest, canary={**QUICK_CANARY, "steps": [50]},
                         **({"gates": gates} if gates else {}))
    put_pipeline_manifest(aws, path, execution_id)
    runner.seed_flag(yaml.safe_load(path.read_text()))
    aws.backend.open_approval(PIPELINE, STAGE, ACTION, execution_id)
    event = gate_started(aws, execution_id)
    [outcome] = aws.deliver_event(event)
    return str(outcome["payload"]["execution_arn"])


def finish(aws: EmbeddedAWS, arn: str) -> dict[str, Any]:
    with AppTraffic(aws):
        final = aws.wait(arn, timeout=180)
    quiesce(aws)
    aws.deliver_event(status_event(aws, arn))  # ABORTED/TIMED_OUT/FAILED reach ReconcileRelease
    aws.backend.clear_failures()
    return final


CASES = [
    # (manifest, the call that fails, its caller, failed attempts)
    ("good-prompt", "codepipeline:PutApprovalResult", "ReportToPipeline", 3),
    ("good-prompt", "codepipeline:PutApprovalResult", "ReportToPipeline", ALL_ATTEMPTS),
    ("quality-regression", "codepipeline:PutApprovalResult", "ReportToPipeline", 3),
    ("quality-regression", "codepipeline:PutApprovalResult", "ReportToPipeline", ALL_ATTEMPTS),
    ("good-prompt", "dynamodb:DeleteItem", "ReleaseLock", 3),
    ("quality-regression", "dynamodb:DeleteItem", "ReleaseLock", 3),
    # "broken-canary": AnalyzeCanary cannot read CloudWatch after traffic moved, so the release rolls back
    ("broken-canary", "appconfig:StartDeployment", "Rollback", 3),
    ("broken-canary", "codepipeline:PutApprovalResult", "ReportToPipeline", ALL_ATTEMPTS),
]


@pytest.mark.parametrize(("manifest", "operation", "caller", "times"), CASES)
def test_a_throttle_at_the_end_of_a_release_leaves_no_open_approval_no_lock_and_traffic_where_it_belongs(
        aws: EmbeddedAWS, runner: LocalReleaseRunner, tmp_path: Path,
        manifest: str, operation: str, caller: str, times: int) -> None:
    # A UUID, as CodePipeline's are, named by the case.
    execution_id = eid(f"{manifest}-{operation}-{times}")
    if manifest == "broken-canary":
        aws.backend.inject_failure("cloudwatch:GetMetricData", "AccessDeniedException", "injected", 403, times=3,
                                   caller="AnalyzeCanary")
    arn = pipeline_release(aws, runner, tmp_path, execution_id,
                           "good-prompt" if manifest == "broken-canary" else manifest)
    aws.backend.inject_failure(operation, "ThrottlingException", "injected throttle", 400, times=times,
                               caller=caller)
    fired_before = len(aws.backend.fault_log)
    final = finish(aws, arn)
    fired = [f for f in aws.backend.fault_log[fired_before:] if f["operation"] == operation]
    events, chain = ledger_events(aws, final["name"])
    outcome = next((e for e in reversed(events) if e in OUTCOMES), None)
    approval = aws.backend.approvals[(PIPELINE, STAGE, ACTION)]
    assert fired, f"{operation} was never called by {caller}"
    assert outcome is not None and not chain, (events, chain)
    assert approval["pipelineExecutionId"] == execution_id and approval["status"] != "InProgress", approval
    assert approval["status"] == ("Succeeded" if outcome == "promoted" else "Failed")
    assert lock_holder(aws) is None
    assert runner.flag_weight() == (100.0 if outcome == "promoted" else 0.0)
