"""The other ways in and out: EventBridge start with approval callback, cancel, faults, approval timeout."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from genai_cicd.logic.pipeline_events import execution_name, manifest_key
from genai_cicd_local.cli.upload import upload_manifest_artifacts
from genai_cicd_local.embedded.aws_session import EmbeddedAWS
from genai_cicd_local.runner import LocalReleaseRunner
from tests.stack import AppTraffic, gate_started, parked  # noqa: F401
from tests.utils import QUICK_CANARY, eid, manifest_file, pipeline_action_event


def put_pipeline_manifest(aws: EmbeddedAWS, path: Path, execution_id: str) -> None:
    manifest = upload_manifest_artifacts(path, aws.client("s3"), aws.bucket)
    aws.client("s3").put_object(Bucket=aws.bucket, Key=manifest_key("support-bot-pipeline", execution_id),
                                Body=json.dumps(manifest).encode())


def wait_for(predicate, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_given_duplicate_gate_events_when_delivered_then_one_release_and_one_approval(
        aws: EmbeddedAWS, runner: LocalReleaseRunner, tmp_path: Path) -> None:
    path = manifest_file(tmp_path, "good-prompt", gates={"prompt_regression": None, "guardrail_suite": None},
                         canary={**QUICK_CANARY, "steps": [50]})
    put_pipeline_manifest(aws, path, eid("dup"))
    runner.seed_flag(json.loads(json.dumps(__import__("yaml").safe_load(path.read_text()))))
    aws.backend.open_approval("support-bot-pipeline", "GenAIGates", "GenAIGate", eid("dup"))
    event = gate_started(aws, eid("dup"))
    results = [aws.deliver_event(event) for _ in range(5)]
    stage_event = {**event, "detail-type": "CodePipeline Stage Execution State Change",
                   "detail": {k: v for k, v in event["detail"].items() if k not in ("action", "type")}}
    assert aws.deliver_event(stage_event) == []  # stage events match no start rule
    # Duplicates get the first delivery's answer back (idempotency), never a new execution.
    arns = {r[0]["payload"]["execution_arn"] for r in results}
    assert len(arns) == 1
    arn = arns.pop()
    name = execution_name("support-bot-pipeline", eid("dup"), "GenAIGates", "GenAIGate")
    executions = aws.client("stepfunctions").list_executions(stateMachineArn=aws.state_machine_arn)["executions"]
    assert [e["name"] for e in executions].count(name) == 1
    with AppTraffic(aws):
        final = aws.wait(arn, timeout=120)
    assert final["status"] == "SUCCEEDED", final
    approvals = [a for a in aws.backend.approval_results if a["pipeline"] == "support-bot-pipeline"]
    assert [a["status"] for a in approvals] == ["Approved"]


def test_given_a_superseded_pipeline_when_canary_is_baking_then_release_stops_and_traffic_returns(
        aws: EmbeddedAWS, runner: LocalReleaseRunner, tmp_path: Path, parked: None) -> None:  # noqa: F811
    path = manifest_file(tmp_path, "good-prompt", gates={"prompt_regression": None, "guardrail_suite": None},
                         canary={"min_canary_requests_per_step": 100000, "max_intervals_per_step": 500})
    put_pipeline_manifest(aws, path, eid("cancel"))
    runner.seed_flag(__import__("yaml").safe_load(path.read_text()))
    aws.backend.open_approval("support-bot-pipeline", "GenAIGates", "GenAIGate", eid("cancel"))
    [outcome] = aws.deliver_event(gate_started(aws, eid("cancel")))
    arn = outcome["payload"]["execution_arn"]
    wait_for(lambda: runner.flag_weight() > 0)
    superseded = {**pipeline_action_event(), "detail-type": "CodePipeline Pipeline Execution State Change",
                  "detail": {"pipeline": "support-bot-pipeline", "execution-id": eid("cancel"),
                             "state": "SUPERSEDED", "version": 1}}
    [cancel] = aws.deliver_event(superseded)
    assert cancel["error"] is None, cancel
    # StopExecution returns before the execution's status reads ABORTED (on AWS too): wait for it.
    sfn = aws.client("stepfunctions")
    wait_for(lambda: sfn.describe_execution(executionArn=arn)["status"] == "ABORTED")
    assert runner.flag_weight() == 0.0
    from genai_cicd.aws.ledger import Ledger

    events = [e.event for e in Ledger(aws.client("dynamodb"), aws.control_plane.physical["ControlPlaneTable"])
              .entries(arn.rsplit(":", 1)[-1])]
    assert events[-1] == "cancelled"


def test_given_a_cancel_while_the_canary_shift_is_in_flight_then_aborted_and_traffic_returns(
        aws: EmbeddedAWS, runner: LocalReleaseRunner, tmp_path: Path, parked: None) -> None:  # noqa: F811
    # The cancel stops the execution and frees the lock while StartCanary is between its shift and its
    # second lock check; that check then fails the task (ReleaseFenced) after the stop. On AWS the
    # execution ends ABORTED whatever the interrupted task does; moto used to let the late failure
    # turn it into FAILED (seen once in a clean-clone CI run of the test above).
    path = manifest_file(tmp_path, "good-prompt", gates={"prompt_regression": None, "guardrail_suite": None},
                         canary={"min_canary_requests_per_step": 100000, "max_intervals_per_step": 500})
    put_pipeline_manifest(aws, path, eid("cancel-mid-shift"))
    runner.seed_flag(__import__("yaml").safe_load(path.read_text()))
    aws.backend.slow["dynamodb:GetItem"] = (2.0, "StartCanary")  # both lock checks around the shift
    try:
        [outcome] = aws.deliver_event(gate_started(aws, eid("cancel-mid-shift")))
        arn = outcome["payload"]["execution_arn"]
        wait_for(lambda: runner.flag_weight() > 0)
        assert aws.runtime.in_flight > 0, "the cancel must land before StartCanary's second lock check"
        superseded = {**pipeline_action_event(), "detail-type": "CodePipeline Pipeline Execution State Change",
                      "detail": {"pipeline": "support-bot-pipeline",
                                 "execution-id": eid("cancel-mid-shift"),
                                 "state": "SUPERSEDED", "version": 1}}
        [cancel] = aws.deliver_event(superseded)
        assert cancel["error"] is None, cancel
        wait_for(lambda: aws.runtime.in_flight == 0)
    finally:
        aws.backend.clear_failures()
    sfn = aws.client("stepfunctions")
    wait_for(lambda: sfn.describe_execution(executionArn=arn)["status"] != "RUNNING")
    assert sfn.describe_execution(executionArn=arn)["status"] == "ABORTED"
    assert sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"][-1]["type"] == "ExecutionAborted"
    assert runner.flag_weight() == 0.0


def test_given_cloudwatch_failing_after_traffic_moved_then_release_fails_closed_on_baseline(
        aws: EmbeddedAWS, runner: LocalReleaseRunner, tmp_path: Path) -> None:
    path = manifest_file(tmp_path, "good-prompt", gates={"prompt_regression": None, "guardrail_suite": None})
    aws.backend.inject_failure("cloudwatch:GetMetricData", "AccessDeniedException", "injected", 400, times=50)
    try:
        result = runner.run(path, name="e2e-fault")
    finally:
        aws.backend.fail_next.pop("cloudwatch:GetMetricData", None)
    assert result["outcome"] == "failed" and result["error"] == "ReleaseFailed"
    assert result["final_candidate_weight"] == 0.0
    assert any("FAILED" in s for s in result["notification_subjects"])


def test_given_approval_required_when_nobody_answers_then_rejected_and_traffic_never_moved(
        aws: EmbeddedAWS, runner: LocalReleaseRunner, tmp_path: Path) -> None:
    path = manifest_file(tmp_path, "good-prompt", gates={"prompt_regression": None, "guardrail_suite": None},
                         approval={"required": True, "timeout_seconds": 2})
    result = runner.run(path, name="e2e-approval-timeout")
    assert result["outcome"] == "rejected" and result["final_candidate_weight"] == 0.0
    assert not any("canary" in s for s in result["notification_subjects"])


def test_given_a_second_release_for_the_same_app_when_one_holds_the_lock_then_refused(
        aws: EmbeddedAWS, runner: LocalReleaseRunner, tmp_path: Path) -> None:
    from genai_cicd.aws.lock import ReleaseLock

    lock = ReleaseLock(aws.client("dynamodb"), aws.control_plane.physical["ControlPlaneTable"], 600)
    lock.acquire("support-bot", "prod", "someone-else")
    try:
        result = runner.run(manifest_file(tmp_path, "good-prompt"), name="e2e-locked")
    finally:
        lock.release("support-bot", "prod", "someone-else")
    assert result["outcome"] == "failed" and result["error"] == "ReleaseLocked"
    assert result["final_candidate_weight"] == 0.0


def test_given_bedrock_evaluation_requested_when_released_then_jobs_run_and_gate_passes(
        aws: EmbeddedAWS, runner: LocalReleaseRunner, tmp_path: Path) -> None:
    golden = str(Path(__file__).resolve().parents[2] / "examples/support_bot/data/golden.jsonl")
    path = manifest_file(tmp_path, "good-prompt", gates={"bedrock_evaluation": {
        "dataset": golden, "role_arn": "arn:aws:iam::123456789012:role/BedrockEvaluationRole",
        "evaluator_model_id": "local.sim-judge-v1", "poll_seconds": 1, "margin": 0.25}},
        canary={**QUICK_CANARY, "steps": [50]})
    result = runner.run(path, name="e2e-bedrock-eval")
    verdict = json.loads(aws.client("s3").get_object(
        Bucket=aws.bucket, Key="releases/e2e-bedrock-eval/quality_gate.json")["Body"].read())
    assert verdict["gates"]["bedrock_evaluation"]["status"] == "PASS", verdict
    assert result["outcome"] == "promoted"


def test_given_model_based_scorers_when_released_then_each_scores_every_case(
        aws: EmbeddedAWS, runner: LocalReleaseRunner, tmp_path: Path) -> None:
    golden = str(Path(__file__).resolve().parents[2] / "examples/support_bot/data/golden.jsonl")
    path = manifest_file(tmp_path, "good-prompt", gates={"prompt_regression": {
        "dataset": golden, "repeats": 1, "looks": [1.0],  # one look: every scorer sees every case
        "metrics": {"rouge_l": {"threshold": 0.5, "margin": 0.2}, "llm_judge": {"threshold": 0.5, "margin": 0.2},
                    "embedding_cosine": {"threshold": 0.5, "margin": 0.2},
                    "classifier": {"threshold": 0.5, "margin": 0.2}},
        "judge": {"model_id": "local.sim-judge-v1"}, "embedding_model_id": "amazon.titan-embed-text-v2:0",
        "classifier": {"model_id": "local.sim-judge-v1", "labels": ["friendly", "neutral", "rude"],
                       "pass_labels": ["friendly", "neutral"]}}},
        canary={**QUICK_CANARY, "steps": [50]})
    result = runner.run(path, name="e2e-model-scorers")
    verdict = json.loads(aws.client("s3").get_object(
        Bucket=aws.bucket, Key="releases/e2e-model-scorers/gates/prompt_regression/verdict.json")["Body"].read())
    assert {m["metric"]: m["cases"] for m in verdict["metrics"]} == {
        "rouge_l": 60, "llm_judge": 60, "embedding_cosine": 60, "classifier": 60}
    assert verdict["rejected_model_verdicts"] == {}  # every judge and classifier answer parsed strictly
    assert result["outcome"] == "promoted", verdict["reasons"]


def test_given_approval_required_when_someone_approves_then_the_canary_runs_and_the_approver_is_recorded(
        aws: EmbeddedAWS, runner: LocalReleaseRunner, tmp_path: Path) -> None:
    from genai_cicd.aws import table_keys
    from genai_cicd.aws.control_table import DynamoApprovals
    from genai_cicd.aws.executions import StepFunctionsExecutions
    from genai_cicd.aws.ledger import Ledger
    from genai_cicd.logic.approval import decide_approval

    table = aws.control_plane.physical["ControlPlaneTable"]
    path = manifest_file(tmp_path, "good-prompt", gates={"prompt_regression": None, "guardrail_suite": None},
                         approval={"required": True, "timeout_seconds": 120},
                         canary={**QUICK_CANARY, "steps": [50]})

    def approver() -> None:
        ddb = aws.client("dynamodb")
        wait_for(lambda: "Item" in ddb.get_item(TableName=table, Key=table_keys.approval("e2e-approved")))
        decide_approval("e2e-approved", True, "release-manager@example.com", "looks good",
                        approvals=DynamoApprovals(ddb, table),
                        executions=StepFunctionsExecutions(aws.client("stepfunctions")))

    thread = threading.Thread(target=approver, daemon=True)
    thread.start()
    result = runner.run(path, name="e2e-approved")
    thread.join()
    assert result["outcome"] == "promoted", result
    entries = Ledger(aws.client("dynamodb"), table).entries("e2e-approved")
    approved = [e for e in entries if e.event == "approved"]
    assert approved and approved[0].actor == "release-manager@example.com"


def test_given_a_prompt_change_declared_as_guardrail_then_prompt_regression_still_runs_and_blocks(
        aws: EmbeddedAWS, runner: LocalReleaseRunner, tmp_path: Path) -> None:
    from genai_cicd.aws.ledger import Ledger

    # The trimmed prompt loses knowledge; its author calls it a guardrail change, which under
    # gates.run: auto needs only the guardrail and injection suites.
    path = manifest_file(tmp_path, "quality-regression",
                         change={"kinds": ["guardrail"], "description": "mislabelled", "author": "x@example.com"})
    result = runner.run(path, name="e2e-mislabelled")
    assert (result["outcome"], result["blocked_by"], result["final_candidate_weight"]) == (
        "blocked", "prompt_regression", 0.0), result
    entries = Ledger(aws.client("dynamodb"), aws.control_plane.physical["ControlPlaneTable"]).entries(
        "e2e-mislabelled")
    change = next(e for e in entries if e.event == "started").detail["change"]
    assert change["declared"] == ["guardrail"] and change["derived"] == ["prompt"]
    assert "differ" in change["disagreement"] and change["kinds"] == ["guardrail", "prompt"]
