"""ShadowEvaluation on the embedded AWS: pairs read from S3, judged, and the flag switched (logic + S3 + AppConfig)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest

from genai_cicd.aws.lock import ReleaseLock
from genai_cicd.deps import Deps
from genai_cicd.logic.shadow import analyze_shadow, start_shadow
from genai_cicd.models.tasks import ShadowState
from genai_cicd_local.embedded.aws_session import EmbeddedAWS
from tests.integration.test_online_quality_and_probes import (
    GOOD,
    QUESTION,
    WRONG,
    Events,
    Recording,
    deps_with,
    release,
    stored_manifest,
)
from tests.stack import flag_documents

JUDGE = {"model_id": "local.sim-judge-v1"}


def put_pair(aws: EmbeddedAWS, release_id: str, n: int, *, request_id: str | None = None, baseline: str = GOOD,
             candidate: str = GOOD, store: str = "content", cost: float = 0.001, **extra: Any) -> str:
    at = aws.clock.utc_now().replace(tzinfo=None) - timedelta(seconds=30) + timedelta(milliseconds=n)
    key = f"releases/{release_id}/samples/shadow/{at.strftime('%Y%m%dT%H%M%S%fZ')}-{n:012d}.json"

    def side(answer: str, score: float) -> dict[str, Any]:
        out: dict[str, Any] = {"latency_ms": 10.0, "input_tokens": 5, "output_tokens": 5,
                               "guardrail_intervened": False, "cost_usd": cost, "scores": {"quality": score}}
        out["answer" if store == "content" else "answer_sha256"] = answer if store == "content" else "0" * 64
        return out

    record = {"schema": 1, "kind": "pair", "request_id": request_id or f"r{n}", "received_at": 0.0,
              "captured_at": at.isoformat(), "store": store, "baseline": side(baseline, 1.0),
              "candidate": side(candidate, 1.0 if candidate == GOOD else 0.0), **extra}
    record["request" if store == "content" else "request_sha256"] = QUESTION if store == "content" else "0" * 64
    aws.client("s3").put_object(Bucket=aws.bucket, Key=key, Body=json.dumps(record).encode())
    return key


def shadow_plan(**fields: Any) -> dict[str, Any]:
    """Pairs here arrive all at once: a rate cap far above them unless a test sets one."""
    return {"shadow": {"judge": JUDGE, "min_pairs": 10, "max_pairs": 1000, "max_requests_per_second": 1000.0,
                       **fields}}


@contextmanager
def holding(aws: EmbeddedAWS, release_id: str) -> Iterator[None]:
    """The release lock, as the state machine holds it: every flag write is fenced by it."""
    lock = ReleaseLock(aws.client("dynamodb"), aws.control_plane.physical["ControlPlaneTable"], 3600)
    assert lock.acquire("support-bot", "prod", release_id)
    try:
        yield
    finally:
        lock.release("support-bot", "prod", release_id)


def state(release_id: str) -> ShadowState:
    return ShadowState(started_at="2026-06-01T09:00:00+00:00", share=0.1,
                       pairs_key=f"releases/{release_id}/shadow/pairs.json")


def test_a_pair_delivered_twice_is_judged_once(aws: EmbeddedAWS) -> None:
    stored_manifest(aws, "sh-dup", shadow_plan())
    for n in range(4):
        put_pair(aws, "sh-dup", n)
    put_pair(aws, "sh-dup", 4, request_id="r0")  # Lambda's asynchronous queue is at least once
    provider = Recording(Deps.from_environment().provider)
    out = analyze_shadow(release("sh-dup"), state("sh-dup"), deps_with(provider))
    assert (out.pairs, out.duplicates) == (4, 1)
    assert out.judge_calls == 8 == len(provider.requests)  # two calls a pair: both presentation orders
    again = analyze_shadow(release("sh-dup"), out, deps_with(provider))  # nothing new: nothing judged twice
    assert again.pairs == 4 and again.judge_calls == 8


def test_a_failed_judge_scores_the_worst_difference_and_a_bad_candidate_is_shown_worse(aws: EmbeddedAWS) -> None:
    stored_manifest(aws, "sh-fail", shadow_plan())
    for n in range(3):
        put_pair(aws, "sh-fail", n)
    events = Events()
    out = analyze_shadow(release("sh-fail"), state("sh-fail"), deps_with(Recording(None, fail=True), events))
    assert out.imputed == 3 and out.pairs == 3 and out.estimate == -1.0  # never a pass on a judge that failed
    assert [e.get("error.type") for e in events.results] == ["ProviderError"] * 6
    for n in range(3, 40):
        put_pair(aws, "sh-fail", n, candidate=WRONG)
    with holding(aws, "sh-fail"):
        out = analyze_shadow(release("sh-fail"), out, deps_with(Recording(Deps.from_environment().provider)))
    assert (out.action, out.outcome) == ("block", "worse") and out.upper is not None and out.upper < -0.05


def test_an_unreadable_pair_keeps_its_look_from_showing_non_inferiority(aws: EmbeddedAWS) -> None:
    stored_manifest(aws, "sh-bad", shadow_plan(store="hashes", judge=None, max_pairs_per_look=400))
    for n in range(300):  # all equal: about 250 pairs show a 0.05 margin (docs/STATISTICS.md)
        put_pair(aws, "sh-bad", n, store="hashes")
    put_pair(aws, "sh-bad", 999, store="hashes", extra_field="not in the schema")
    provider = Recording(Deps.from_environment().provider)
    out = analyze_shadow(release("sh-bad"), state("sh-bad"), deps_with(provider))
    assert out.pairs == 300 and out.unscored == 1 and provider.requests == []  # hashes: the app's scores
    assert out.lower is not None and out.lower > -0.05 and out.action == "continue"  # shown, but incomplete
    out = analyze_shadow(release("sh-bad"), out, deps_with(provider))
    assert out.action == "canary" and out.outcome == "non_inferior"


def test_the_pair_ledger_keeps_scores_never_text(aws: EmbeddedAWS) -> None:
    stored_manifest(aws, "sh-text", shadow_plan())
    for n in range(5):
        put_pair(aws, "sh-text", n, candidate=WRONG)
    analyze_shadow(release("sh-text"), state("sh-text"), deps_with(Recording(Deps.from_environment().provider)))
    s3 = aws.client("s3")
    for key in ("releases/sh-text/shadow/pairs.json", "releases/sh-text/shadow/look-0001.json"):
        body = s3.get_object(Bucket=aws.bucket, Key=key)["Body"].read().decode()
        assert QUESTION not in body and GOOD not in body and WRONG not in body
    # the other per-answer signals, paired: both answers' means side by side (recorded, not judged)
    signals = json.loads(body)["signals"]
    assert signals["pairs"] == 5 and signals["latency_ms"] == [10.0, 10.0] and signals["tokens"] == [10.0, 10.0]
    assert signals["guardrail"] == [0, 0]


@pytest.mark.parametrize(("cap", "says"), [({"max_cost_usd": 0.004}, "on shadow answers is reached"),
                                          ({"max_pairs": 10, "min_pairs": 10}, "the cap of 10 pairs")])
def test_at_a_cap_shadowing_is_switched_off_and_the_release_blocked(aws: EmbeddedAWS, cap: dict[str, Any],
                                                                    says: str) -> None:
    rid = f"sh-cap-{next(iter(cap))}".replace("_", "-")
    stored_manifest(aws, rid, shadow_plan(**cap))
    with holding(aws, rid):
        deps = deps_with(Recording(Deps.from_environment().provider))
        started = start_shadow(release(rid), deps)
        assert flag_documents(aws)[-1]["shadow"]["share"] == started.share > 0
        assert flag_documents(aws)[-1]["candidate_weight"] == 0
        for n in range(12):
            put_pair(aws, rid, n, cost=0.001, candidate=GOOD if n % 2 else WRONG)
        out = analyze_shadow(release(rid), started, deps)
        assert (out.action, out.outcome) == ("block", "not_shown_safe") and says in out.last_reasons[0]
        last = flag_documents(aws)[-1]
        assert "shadow" not in last and last["candidate_weight"] == 0  # the switch: the app stops shadowing


def test_probe_answers_to_one_prompt_are_judged_as_a_pair_and_decide_as_pairs(aws: EmbeddedAWS) -> None:
    """Probe traffic (#15) is paired already: the same prompt to each variant. Its two answers are scored
    together, blind and in both orders, and the canary's quality check uses the paired difference."""
    from genai_cicd.canary.decision import CanaryEvidence, judge_streams
    from genai_cicd.logic.online_quality import score_interval
    from genai_cicd.models.tasks import OnlineScoring
    from tests.integration.test_online_quality_and_probes import END, put_sample

    manifest = stored_manifest(aws, "oq-pairs", {"quality_margin": 0.05, "online_quality": {
        "sample_share": 1.0, "judge": JUDGE, "max_judge_calls": 100}})
    for n in range(3):
        put_sample(aws, "oq-pairs", 2 * n, "candidate", stream="probe", probe_id=f"{n}-candidate",
                   answer=WRONG if n == 0 else GOOD)
        put_sample(aws, "oq-pairs", 2 * n + 1, "baseline", stream="probe", probe_id=f"{n}-baseline")
    put_sample(aws, "oq-pairs", 9, "baseline", stream="probe", probe_id="7-baseline")  # its half is not here
    provider = Recording(Deps.from_environment().provider)
    scores, state, _ = score_interval(deps_with(provider), release("oq-pairs"), manifest, OnlineScoring(), END, 1)
    pair_calls = [r for r in provider.requests if "ANSWER_1" in r.system]
    assert scores.pairs["probe"].count == 3 and len(pair_calls) == 6  # each pair in both orders
    assert len(provider.requests) == 7  # and the unmatched half graded alone
    fields = scores.arm("probe", "candidate")
    assert fields["quality_pairs"] == 3 and fields["quality_count"] == 3
    assert "quality_pairs" not in scores.arm("probe", "baseline")
    # the decision takes the paired difference: its estimate is the mean of the pairs' differences
    plan = manifest.canary
    baseline = {"requests": 4.0, "errors": 0.0, "slow_requests": 0.0, "low_quality": 0.0,
                **scores.arm("probe", "baseline")}
    canary = {"requests": 3.0, "errors": 0.0, "slow_requests": 0.0, "low_quality": 0.0,
              **scores.arm("probe", "candidate")}
    evidence, _, verdict, _ = judge_streams(plan, CanaryEvidence(), baseline, canary, step_index=0,
                                            elapsed_seconds=60.0, budget_spent=False, explain=True)
    pairs = evidence.quality.pairs
    assert pairs.n == 3 and verdict.metrics["quality"].estimate == pytest.approx(2 * pairs.mean() - 1)
    assert "judged as pairs" in (verdict.metrics["quality"].canary or "")


def test_more_pairs_a_second_than_the_cap_lower_the_share(aws: EmbeddedAWS) -> None:
    """The app does not count shadow requests: the control plane keeps the rate cap from what arrives."""
    rid = "sh-rate"
    manifest = stored_manifest(aws, rid, {"bake_seconds": 10, **shadow_plan(max_requests_per_second=1.0,
                                                                           store="hashes", judge=None)})
    assert manifest.canary.bake_seconds == 10
    with holding(aws, rid):
        deps = deps_with(Recording(Deps.from_environment().provider))
        started = start_shadow(release(rid), deps)  # no traffic seen yet: the plan's share
        assert started.share == 0.05
        for n in range(50):  # 5 a second over the 10-second look
            put_pair(aws, rid, n, store="hashes")
        out = analyze_shadow(release(rid), started, deps)
        assert out.action == "continue" and out.share == pytest.approx(0.05 / 5)
        assert flag_documents(aws)[-1]["shadow"]["share"] == pytest.approx(out.share)
        assert any("share lowered" in r for r in out.last_reasons)
        for n in range(50, 61):  # 1.1 a second: within the slack, the share stays
            put_pair(aws, rid, n, store="hashes")
        again = analyze_shadow(release(rid), out, deps)
        assert again.share == out.share


def test_a_deeply_nested_pair_record_is_unscored_not_a_crash(aws: EmbeddedAWS) -> None:
    stored_manifest(aws, "sh-deep", shadow_plan())
    put_pair(aws, "sh-deep", 0)
    at = aws.clock.utc_now().replace(tzinfo=None) - timedelta(seconds=20)
    stamp = at.strftime("%Y%m%dT%H%M%S%fZ")
    aws.client("s3").put_object(Bucket=aws.bucket, Key=f"releases/sh-deep/samples/shadow/{stamp}-deep.json",
                                Body=("[" * 100_000 + "]" * 100_000).encode())
    out = analyze_shadow(release("sh-deep"), state("sh-deep"), deps_with(Recording(Deps.from_environment().provider)))
    assert out.pairs == 1 and out.unscored == 1 and out.action == "continue"


def test_probe_halves_with_different_prompts_are_not_a_pair(aws: EmbeddedAWS) -> None:
    """A pair is one prompt answered by both variants: two halves that share an id but not a prompt are
    scored alone (a planted bug that pairs them would compare unrelated answers)."""
    from genai_cicd.logic.online_quality import score_interval
    from genai_cicd.models.tasks import OnlineScoring
    from tests.integration.test_online_quality_and_probes import END, put_sample

    manifest = stored_manifest(aws, "oq-mismatch", {"quality_margin": 0.05, "online_quality": {
        "sample_share": 1.0, "judge": JUDGE, "max_judge_calls": 100}})
    put_sample(aws, "oq-mismatch", 0, "candidate", stream="probe", probe_id="0-candidate")
    put_sample(aws, "oq-mismatch", 1, "baseline", stream="probe", probe_id="0-baseline",
               request="how do i cancel my subscription")
    provider = Recording(Deps.from_environment().provider)
    scores, _, _ = score_interval(deps_with(provider), release("oq-mismatch"), manifest, OnlineScoring(), END, 1)
    assert "probe" not in scores.pairs and not any("ANSWER_1" in r.system for r in provider.requests)
    assert scores.arm("probe", "candidate")["quality_count"] == 1 == scores.arm("probe", "baseline")["quality_count"]
