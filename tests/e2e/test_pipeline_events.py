"""CodePipeline as AWS sends it: only approval actions start a release, every ending answers the approval.

Event shapes follow "Monitoring CodePipeline events" (CodePipeline User Guide): action events carry
``detail.type.category``; every event may carry ``pipeline-execution-attempt`` (a retried stage of
the same execution is a new attempt); pipeline executions end SUCCEEDED, FAILED, STOPPED,
SUPERSEDED or CANCELED.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from genai_cicd.logic.pipeline_events import execution_name, manifest_key
from genai_cicd_local.embedded.aws_session import EmbeddedAWS
from genai_cicd_local.runner import LocalReleaseRunner
from tests.stack import AppTraffic, gate_started, parked, put_pipeline_manifest, status_event, wait_for  # noqa: F401
from tests.utils import QUICK_CANARY, eid, manifest_file, pipeline_action_event

PIPELINE, STAGE, ACTION = "support-bot-pipeline", "GenAIGates", "GenAIGate"
SLOW = {"min_canary_requests_per_step": 100000, "max_intervals_per_step": 500}


def pipeline_ended(execution_id: str, state: str, attempt: int = 1) -> dict[str, Any]:
    return {**pipeline_action_event(), "detail-type": "CodePipeline Pipeline Execution State Change",
            "detail": {"pipeline": PIPELINE, "execution-id": execution_id, "state": state, "version": 1,
                       "pipeline-execution-attempt": attempt}}


def started(aws: EmbeddedAWS, execution_id: str, attempt: int = 1, category: str = "Approval") -> dict[str, Any]:
    return gate_started(aws, execution_id, attempt, category)


def answers(aws: EmbeddedAWS) -> list[dict[str, Any]]:
    return [a for a in aws.backend.approval_results if a["pipeline"] == PIPELINE]


def release(aws: EmbeddedAWS, runner: LocalReleaseRunner, tmp_path: Path, execution_id: str,
            canary: dict[str, Any]) -> None:
    path = manifest_file(tmp_path, "good-prompt", gates={"prompt_regression": None, "guardrail_suite": None},
                         canary=canary)
    put_pipeline_manifest(aws, path, execution_id)
    runner.seed_flag(__import__("yaml").safe_load(path.read_text()))


def canary_running(aws: EmbeddedAWS, runner: LocalReleaseRunner, tmp_path: Path, execution_id: str) -> str:
    """A pipeline-started release whose canary has moved traffic and sits in its bake (the test holds the
    clock with ``parked``); its execution ARN."""
    release(aws, runner, tmp_path, execution_id, SLOW)
    aws.backend.open_approval(PIPELINE, STAGE, ACTION, execution_id)
    [outcome] = aws.deliver_event(started(aws, execution_id))
    wait_for(lambda: runner.flag_weight() > 0)
    return str(outcome["payload"]["execution_arn"])


def test_an_invoke_actions_event_starts_no_shadow_release(aws: EmbeddedAWS, runner: LocalReleaseRunner) -> None:
    event = started(aws, eid("invoke"), category="Invoke")
    assert aws.deliver_event(event) == []  # the rule matches approval actions only
    payload, error = aws.invoke("StartReleaseFunction", event)  # and the handler refuses it too
    assert not error and payload["started"] is False and "not an approval action" in payload["reason"]
    names = [e["name"] for e in aws.client("stepfunctions").list_executions(
        stateMachineArn=aws.state_machine_arn)["executions"]]
    assert execution_name(PIPELINE, eid("invoke"), STAGE, ACTION) not in names


def test_a_canceled_pipeline_execution_stops_its_release_and_answers_the_approval(
        aws: EmbeddedAWS, runner: LocalReleaseRunner, tmp_path: Path, parked: None) -> None:  # noqa: F811
    arn = canary_running(aws, runner, tmp_path, eid("canceled"))
    before = len(answers(aws))
    [cancel] = aws.deliver_event(pipeline_ended(eid("canceled"), "CANCELED"))
    assert cancel["error"] is None, cancel
    sfn = aws.client("stepfunctions")
    wait_for(lambda: sfn.describe_execution(executionArn=arn)["status"] == "ABORTED")  # the stop lands
    assert runner.flag_weight() == 0.0
    assert [a["status"] for a in answers(aws)[before:]] == ["Rejected"]
    assert "cancelled" in answers(aws)[-1]["summary"]


def test_a_retried_stage_starts_a_fresh_release_that_answers_the_new_approval(
        aws: EmbeddedAWS, runner: LocalReleaseRunner, tmp_path: Path) -> None:
    release(aws, runner, tmp_path, eid("retry"), {**QUICK_CANARY, "steps": [50]})
    aws.backend.open_approval(PIPELINE, STAGE, ACTION, eid("retry"))
    first_started = started(aws, eid("retry"), attempt=1)
    [first] = aws.deliver_event(first_started)
    first_arn = first["payload"]["execution_arn"]
    [failed] = aws.deliver_event(pipeline_ended(eid("retry"), "FAILED", attempt=1))  # the stage failed
    assert failed["error"] is None
    sfn = aws.client("stepfunctions")
    wait_for(lambda: sfn.describe_execution(executionArn=first_arn)["status"] != "RUNNING")  # stopped
    # The operator retries the failed stage: the same execution id, attempt 2, a new approval.
    aws.backend.open_approval(PIPELINE, STAGE, ACTION, eid("retry"))
    before = len(answers(aws))
    [second] = aws.deliver_event(started(aws, eid("retry"), attempt=2))
    assert second["payload"]["started"] is True, second
    assert second["payload"]["execution_name"] == execution_name(PIPELINE, eid("retry"), STAGE, ACTION, 2)
    assert second["payload"]["execution_arn"] != first_arn
    # EventBridge delivers at least once: attempt 1's FAILED arrives again while attempt 2 runs (after its
    # approval request opened). It must not stop attempt 2 nor answer attempt 2's approval.
    [again] = aws.deliver_event(pipeline_ended(eid("retry"), "FAILED", attempt=1))
    assert again["error"] is None
    assert [c["execution_arn"] for c in again["payload"]["cancelled"]] == [first_arn]
    assert sfn.describe_execution(executionArn=second["payload"]["execution_arn"])["status"] == "RUNNING"
    assert answers(aws)[before:] == []
    assert aws.backend.approvals[(PIPELINE, STAGE, ACTION)]["status"] == "InProgress"
    with AppTraffic(aws):
        final = aws.wait(second["payload"]["execution_arn"], timeout=120)
    assert final["status"] == "SUCCEEDED", final
    assert [a["status"] for a in answers(aws)[before:]] == ["Approved"]
    # A late duplicate of attempt 1 gets attempt 1's first answer back and starts nothing.
    [late] = aws.deliver_event(first_started)
    assert late["payload"]["execution_arn"] == first_arn
    names = [e["name"] for e in aws.client("stepfunctions").list_executions(
        stateMachineArn=aws.state_machine_arn)["executions"]]
    assert names.count(execution_name(PIPELINE, eid("retry"), STAGE, ACTION)) == 1


def test_a_manifest_rejected_at_load_manifest_answers_the_approval(
        aws: EmbeddedAWS, runner: LocalReleaseRunner) -> None:
    aws.client("s3").put_object(Bucket=aws.bucket, Key=manifest_key(PIPELINE, eid("invalid")),
                                Body=json.dumps({"app": "support-bot", "canary": {"steps": [150]}}).encode())
    aws.backend.open_approval(PIPELINE, STAGE, ACTION, eid("invalid"))
    before = len(answers(aws))
    [outcome] = aws.deliver_event(started(aws, eid("invalid")))
    arn = outcome["payload"]["execution_arn"]
    final = aws.wait(arn, timeout=60)
    assert final["status"] == "FAILED"
    aws.deliver_event(status_event(aws, arn))  # Step Functions' status change reaches ReconcileRelease
    assert [a["status"] for a in answers(aws)[before:]] == ["Rejected"]
    assert "not valid" in answers(aws)[-1]["summary"]


def test_an_operator_stop_answers_the_approval_and_restores_traffic(
        aws: EmbeddedAWS, runner: LocalReleaseRunner, tmp_path: Path, parked: None) -> None:  # noqa: F811
    arn = canary_running(aws, runner, tmp_path, eid("stop"))
    before = len(answers(aws))
    sfn = aws.client("stepfunctions")
    sfn.stop_execution(executionArn=arn, error="Operator", cause="stopped by hand")
    # StopExecution returns before the status reads ABORTED (on AWS too): the event comes after.
    wait_for(lambda: sfn.describe_execution(executionArn=arn)["status"] == "ABORTED")
    wait_for(lambda: aws.runtime.in_flight == 0)
    aws.deliver_event(status_event(aws, arn))
    assert runner.flag_weight() == 0.0
    assert [a["status"] for a in answers(aws)[before:]] == ["Rejected"]


def test_settling_a_superseded_release_never_answers_the_newer_executions_approval(
        aws: EmbeddedAWS, runner: LocalReleaseRunner, tmp_path: Path, parked: None) -> None:  # noqa: F811
    arn = canary_running(aws, runner, tmp_path, eid("old"))
    aws.backend.open_approval(PIPELINE, STAGE, ACTION, eid("new"))  # a newer execution reached the gate
    before = len(answers(aws))
    [cancel] = aws.deliver_event(pipeline_ended(eid("old"), "SUPERSEDED"))
    assert cancel["error"] is None and cancel["payload"]["cancelled"][0]["approval"] == "no approval pending"
    assert answers(aws)[before:] == []
    assert aws.backend.approvals[(PIPELINE, STAGE, ACTION)]["status"] == "InProgress"
    sfn = aws.client("stepfunctions")
    wait_for(lambda: sfn.describe_execution(executionArn=arn)["status"] == "ABORTED")


def test_an_execution_input_naming_another_pipelines_approval_leaves_it_in_progress(
        aws: EmbeddedAWS, runner: LocalReleaseRunner, tmp_path: Path) -> None:
    """Anyone allowed to StartExecution could name another team's production approval in the input: a
    promoted release must not approve it. Only StartRelease's record of the pipeline execution counts."""
    from genai_cicd_local.cli.upload import upload_manifest_artifacts

    path = manifest_file(tmp_path, "good-prompt", gates={"prompt_regression": None, "guardrail_suite": None},
                         canary={**QUICK_CANARY, "steps": [50]})
    runner.seed_flag(__import__("yaml").safe_load(path.read_text()))
    aws.backend.open_approval("billing-prod", "Production", ACTION, eid("theirs"))
    before = len(aws.backend.approval_results)
    forged = {"manifest": upload_manifest_artifacts(path, aws.client("s3"), aws.bucket),
              "pipeline": {"pipeline": "billing-prod", "execution_id": eid("theirs"), "stage": "Production",
                           "action": ACTION, "callback": "approval"}, "started_by": "someone"}
    arn = aws.client("stepfunctions").start_execution(stateMachineArn=aws.state_machine_arn, name="forged-1",
                                                      input=json.dumps(forged))["executionArn"]
    with AppTraffic(aws):
        final = aws.wait(arn, timeout=120)
    assert final["status"] == "SUCCEEDED", final  # promoted: it would have approved
    aws.deliver_event(status_event(aws, arn))
    assert aws.backend.approval_results[before:] == []
    assert aws.backend.approvals[("billing-prod", "Production", ACTION)]["status"] == "InProgress"
