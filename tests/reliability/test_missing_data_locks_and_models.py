"""Missing data never promotes; one release per app and environment; model faults never pass a gate."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from genai_cicd.aws.lock import ReleaseLock
from genai_cicd.canary.decision import CanaryEvidence, judge
from genai_cicd.errors import ReleaseLocked
from genai_cicd.models.manifest import CanaryPlan
from genai_cicd_local.cli.upload import upload_manifest_artifacts
from genai_cicd_local.embedded.aws_session import EmbeddedAWS
from genai_cicd_local.runner import LocalReleaseRunner
from tests.stack import ledger_events, lock_holder, quiesce, status_event, wait_for
from tests.utils import SAMPLE, manifest_file, sample_manifest

METRICS = ["errors", "slow_requests", "low_quality"]
# An interval with missing data: no canary requests, or one metric absent for one arm.
GAP = st.one_of(
    st.just(("canary", "requests")),
    st.tuples(st.sampled_from(["canary", "baseline"]), st.sampled_from(METRICS)),
)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(gaps=st.lists(GAP, min_size=1, max_size=12), healthy_requests=st.integers(min_value=0, max_value=400))
def test_given_every_interval_misses_data_then_never_promoted_and_rolled_back_at_the_limit(
        gaps: list[tuple[str, str]], healthy_requests: int) -> None:
    plan = CanaryPlan(metrics=METRICS, critical_metrics=["errors"], min_canary_requests_per_step=50,
                      max_intervals_per_step=len(gaps), steps=[5], negligible_rate=0.5, bake_seconds=60)
    state = CanaryEvidence()
    decisions = []
    for arm, metric in gaps:
        counts = {a: {"requests": float(healthy_requests), **{m: 0.0 for m in METRICS}}
                  for a in ("baseline", "canary")}
        if metric == "requests":
            counts["canary"] = {"requests": 0.0, **{m: 0.0 for m in METRICS}}
        else:
            counts[arm][metric] = None  # type: ignore[assignment]
        state, decision = judge(plan, state, counts["baseline"], counts["canary"], step_index=0)
        decisions.append(decision.action)
    assert "promote" not in decisions
    assert decisions[-1] == "rollback" and decision.outcome == "not_shown_safe"


def test_given_no_canary_traffic_when_baking_then_rolled_back_at_the_limit_with_traffic_on_baseline(
        aws: EmbeddedAWS, runner: LocalReleaseRunner, tmp_path: Path) -> None:
    path = manifest_file(tmp_path, "good-prompt", gates={"prompt_regression": None, "guardrail_suite": None},
                         canary={"min_canary_requests_per_step": 5, "steps": [50], "max_intervals_per_step": 3})
    manifest = upload_manifest_artifacts(path, aws.client("s3"), aws.bucket)
    runner.seed_flag(manifest)
    sfn = aws.client("stepfunctions")
    arn = sfn.start_execution(stateMachineArn=aws.state_machine_arn, name="no-traffic",
                              input=json.dumps({"manifest": manifest, "started_by": "reliability"}))["executionArn"]
    final = aws.wait(arn, timeout=120)  # nobody calls the app: zero requests in both arms
    assert final["status"] == "FAILED" and final["error"] == "CanaryRolledBack", final
    assert runner.flag_weight() == 0.0
    events, problems = ledger_events(aws, "no-traffic")
    assert events[-1] == "rolled_back" and "promoted" not in events and not problems


# ---------------------------------------------------------------- concurrency
def test_given_ten_releases_racing_for_one_app_then_exactly_one_holds_the_lock(aws: EmbeddedAWS) -> None:
    lock = ReleaseLock(aws.client("dynamodb"), aws.control_plane.physical["ControlPlaneTable"], 600)
    for round_ in range(10):  # ten rounds of ten racers: a check-then-write race shows up here
        app = f"race-app-{round_}"
        winners: list[int] = []
        refusals: list[str] = []
        barrier = threading.Barrier(10)

        def contend(i: int, app: str = app, winners: list[int] = winners, refusals: list[str] = refusals,
                    barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            try:
                lock.acquire(app, "prod", f"release-{i}")
                winners.append(i)
            except ReleaseLocked as exc:
                refusals.append(str(exc))

        threads = [threading.Thread(target=contend, args=(i,)) for i in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(winners) == 1 and len(refusals) == 9, (round_, winners)
        assert all(f"locked by release release-{winners[0]}" in r for r in refusals)  # a clear reason


def test_given_the_holder_died_then_its_lock_expires_or_is_taken_over(aws: EmbeddedAWS) -> None:
    table = aws.control_plane.physical["ControlPlaneTable"]
    now = [1_000_000.0]
    lock = ReleaseLock(aws.client("dynamodb"), table, 60, clock=lambda: now[0])
    lock.acquire("ttl-app", "prod", "dead-release")
    try:
        lock.acquire("ttl-app", "prod", "next-release")
        raise AssertionError("a live lock was stolen")
    except ReleaseLocked:
        pass
    now[0] += 61  # the holder never released it: the lease has expired
    lock.acquire("ttl-app", "prod", "next-release")
    assert lock.holder("ttl-app", "prod") == "next-release"
    # With the holder's execution known to have ended, no need to wait for the lease.
    lock.acquire("fast-app", "prod", "stopped-release", execution_arn="arn:aws:states:us-east-1:1:execution:x:y")
    lock.acquire("fast-app", "prod", "new-release", is_alive=lambda arn: False)
    assert lock.holder("fast-app", "prod") == "new-release"


def test_given_a_release_running_when_a_second_starts_for_the_same_app_then_refused_with_the_holder_named(
        aws: EmbeddedAWS, runner: LocalReleaseRunner, tmp_path: Path) -> None:
    path = manifest_file(tmp_path, "good-prompt", gates={"prompt_regression": None, "guardrail_suite": None},
                         canary={"min_canary_requests_per_step": 100000, "max_intervals_per_step": 500})
    manifest = upload_manifest_artifacts(path, aws.client("s3"), aws.bucket)
    runner.seed_flag(manifest)
    sfn = aws.client("stepfunctions")
    first = sfn.start_execution(stateMachineArn=aws.state_machine_arn, name="holder",
                                input=json.dumps({"manifest": manifest, "started_by": "a"}))["executionArn"]
    try:
        wait_for(lambda: lock_holder(aws) == "holder")
        second = sfn.start_execution(stateMachineArn=aws.state_machine_arn, name="second",
                                     input=json.dumps({"manifest": manifest, "started_by": "b"}))["executionArn"]
        final = aws.wait(second, timeout=60)
        assert final["status"] == "FAILED" and final["error"] == "ReleaseLocked"
        assert "holder" in final["cause"]
        assert lock_holder(aws) == "holder"
    finally:
        sfn.stop_execution(executionArn=first, error="TestDone")
        quiesce(aws)
        aws.deliver_event(status_event(aws, first))
    assert lock_holder(aws) is None and runner.flag_weight() == 0.0


# ---------------------------------------------------------------- model faults
def test_given_the_model_throttles_or_times_out_every_call_then_the_gate_blocks_never_passes(
        aws: EmbeddedAWS, runner: LocalReleaseRunner, tmp_path: Path) -> None:
    regression = {**sample_manifest("good-prompt")["gates"]["prompt_regression"], "repeats": 1,
                  "max_throttle_seconds": 1,  # the least a manifest may give: the shortest wait
                  "dataset": str(SAMPLE / "data" / "golden.jsonl")}
    path = manifest_file(tmp_path, "good-prompt", gates={"guardrail_suite": None, "injection_suite": None,
                                                         "prompt_regression": regression})
    for code, status in (("ThrottlingException", 400), ("Timeout", 0)):
        aws.backend.inject_failure("bedrock-runtime:Converse", code, "injected", status, times=100_000,
                                   caller="PromptRegression")
        try:
            result = runner.run(path, name=f"model-{code.lower()}")
        finally:
            aws.backend.clear_failures()
        verdict = json.loads(aws.client("s3").get_object(
            Bucket=aws.bucket, Key=f"releases/model-{code.lower()}/quality_gate.json")["Body"].read())
        assert result["outcome"] == "blocked" and result["final_candidate_weight"] == 0.0, result
        gate = verdict["gates"]["prompt_regression"]
        # Every call failed after retries: counted as errors, the gate ran and said so (not a crash),
        # and it stopped at its first look instead of spending the rest of the dataset on a broken model.
        scored = gate["stats"]["cases_scored"]
        assert gate["status"] == "BLOCK" and gate["stats"]["errors"] == {"baseline": scored, "candidate": scored}, gate
        assert scored == 20 and gate["stats"]["cases"] == 60
