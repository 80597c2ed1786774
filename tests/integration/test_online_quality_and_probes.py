"""Online scoring of captured answers and probe traffic, on the embedded AWS (logic + S3 + the sample app)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from genai_cicd.deps import Deps
from genai_cicd.logic.online_quality import score_interval
from genai_cicd.logic.probes import probes_needed, send_probes
from genai_cicd.models.manifest import ReleaseManifest, parse_manifest
from genai_cicd.models.tasks import CanaryState, OnlineScoring, ProbeState, ReleaseContext
from genai_cicd.providers.base import GenerationRequest, GenerationResult, ProviderError
from genai_cicd_local.embedded.aws_session import EmbeddedAWS
from tests.utils import event

QUESTION = "how do i invite a new member to my team"
GOOD = "Team admins invite a member from Team settings, Members, Invite member, by email address."
WRONG = "The Pro plan costs 12 dollars per user per month, billed annually, or 15 dollars billed monthly."


def stored_manifest(aws: EmbeddedAWS, release_id: str, canary: dict[str, Any]) -> ReleaseManifest:
    s3 = aws.client("s3")
    data = json.loads(s3.get_object(Bucket=aws.bucket, Key="releases/evt-release/manifest.json")["Body"].read())
    data["canary"] = {**data["canary"], **canary}
    manifest = parse_manifest(data)
    s3.put_object(Bucket=aws.bucket, Key=f"releases/{release_id}/manifest.json",
                  Body=json.dumps(manifest.model_dump(mode="json")).encode())
    return manifest


def release(release_id: str) -> ReleaseContext:
    return ReleaseContext.model_validate({**event("analyze_canary", "first-interval")["release"],
                                          "release_id": release_id,
                                          "manifest_uri": f"releases/{release_id}/manifest.json"})


def put_sample(aws: EmbeddedAWS, release_id: str, n: int, variant: str, answer: str = GOOD, stream: str = "user",
               **fields: Any) -> str:
    at = datetime(2026, 11, 26, 2, 0, 0) + timedelta(seconds=n)
    key = f"releases/{release_id}/samples/{stream}/{at.strftime('%Y%m%dT%H%M%S%fZ')}-{n:012d}.json"
    record = {"schema": 1, "variant": variant, "synthetic": stream == "probe", "probe_id": None,
              "request_id": f"r{n}", "captured_at": at.isoformat(), "latency_ms": 10.0, "input_tokens": 5,
              "output_tokens": 5, "guardrail_intervened": False, "store": "content", "request": QUESTION,
              "answer": answer, **fields}
    aws.client("s3").put_object(Bucket=aws.bucket, Key=key, Body=json.dumps(record).encode())
    return key


class Recording:
    """The real provider, recording what the judge was asked (and failing on demand)."""

    name = "recording"

    def __init__(self, inner: Any, fail: bool = False) -> None:
        self.inner, self.fail, self.requests = inner, fail, []

    def generate(self, request: GenerationRequest) -> GenerationResult:
        self.requests.append(request)
        if self.fail:
            raise ProviderError("ThrottlingException: rate exceeded")
        result: GenerationResult = self.inner.generate(request)
        return result


class Events:
    """Records the gen_ai.evaluation.result events instead of logging them."""

    def __init__(self) -> None:
        self.results: list[dict[str, Any]] = []

    def evaluation_result(self, attributes: dict[str, Any]) -> None:
        self.results.append(attributes)


def deps_with(provider: Recording, events: Events | None = None) -> Deps:
    deps = Deps.from_environment()
    deps.__dict__["provider"] = provider  # the cached_property's slot
    deps.__dict__["evaluation_events"] = events or Events()
    return deps


ONLINE = {"quality_margin": 0.05, "online_quality": {"sample_share": 1.0, "judge": {"model_id": "local.sim-judge-v1"},
                                                    "max_judge_calls": 3}}
END = datetime(2026, 11, 26, 3, 0, 0, tzinfo=UTC)


def test_given_a_spent_judge_budget_then_scoring_stops_says_so_and_leaves_the_rest_unscored(aws: EmbeddedAWS) -> None:
    manifest = stored_manifest(aws, "oq-budget", ONLINE)
    for n in range(6):
        put_sample(aws, "oq-budget", n, "candidate" if n % 2 else "baseline")
    provider = Recording(Deps.from_environment().provider)
    scores, state, key = score_interval(deps_with(provider), release("oq-budget"), manifest, OnlineScoring(), END, 1)
    assert state.judge_calls == 3 and state.budget_spent and state.unscored == 3 and state.scored == 3
    both = scores.arm("user", "baseline")["quality_unscored"] + scores.arm("user", "candidate")["quality_unscored"]
    assert both == 3
    assert any("judge budget spent" in n for n in scores.notes)
    # the judge never learns which variant answered
    assert provider.requests and not any("baseline" in r.user + r.system or "candidate" in r.user + r.system
                                         for r in provider.requests)
    # the per-sample results in S3 carry scores, never the content
    assert key is not None
    body = aws.client("s3").get_object(Bucket=aws.bucket, Key=key)["Body"].read().decode()
    assert QUESTION not in body and GOOD not in body
    # the next interval reads only new answers, and a spent budget stays spent
    put_sample(aws, "oq-budget", 10, "candidate")
    _, later, _ = score_interval(deps_with(provider), release("oq-budget"), manifest, state, END, 2)
    assert later.judge_calls == 3 and later.unscored == 4 and len(provider.requests) == 3


def test_given_wrong_answers_then_the_judge_scores_them_low_and_refusals_cost_no_call(aws: EmbeddedAWS) -> None:
    manifest = stored_manifest(aws, "oq-scores", {**ONLINE, "online_quality": {**ONLINE["online_quality"],
                                                                               "max_judge_calls": 50}})
    put_sample(aws, "oq-scores", 0, "baseline", GOOD)
    put_sample(aws, "oq-scores", 1, "candidate", WRONG)
    put_sample(aws, "oq-scores", 2, "candidate", "I'm sorry, but I can't help with that.")
    put_sample(aws, "oq-scores", 3, "candidate", GOOD, guardrail_intervened=True)
    provider = Recording(Deps.from_environment().provider)
    events = Events()
    scores, state, _ = score_interval(deps_with(provider, events), release("oq-scores"), manifest, OnlineScoring(),
                                      END, 1)
    assert len(provider.requests) == 2  # the refusal and the guardrail block score 0 without the judge
    base, cand = scores.arm("user", "baseline"), scores.arm("user", "candidate")
    assert base["quality_count"] == 1 and base["quality_sum"] > 0.7
    assert cand["quality_count"] == 3 and cand["quality_sum"] < 0.4
    # One OpenTelemetry gen_ai.evaluation.result event per score, with the arm and which check scored.
    got = sorted((e["feature_flag.result.variant"], e["genai_cicd.scorer"], e["gen_ai.evaluation.score.value"])
                 for e in events.results)
    assert [(v, how) for v, how, _ in got] == [("baseline", "judge"), ("candidate", "guardrail"),
                                               ("candidate", "judge"), ("candidate", "refusal")]
    assert all(e["gen_ai.evaluation.name"] == "online_quality" and e["genai_cicd.release_id"] == "oq-scores"
               for e in events.results)
    assert all(e["gen_ai.evaluation.score.label"] == ("pass" if e["gen_ai.evaluation.score.value"] else "fail")
               for e in events.results if e["gen_ai.evaluation.score.value"] in (0.0, 1.0))
    assert not any(text in json.dumps(events.results) for text in (QUESTION, GOOD, WRONG))


def test_given_a_failing_judge_or_a_bad_record_then_nothing_counts_as_a_pass(aws: EmbeddedAWS) -> None:
    manifest = stored_manifest(aws, "oq-fail", ONLINE)
    put_sample(aws, "oq-fail", 0, "baseline")
    put_sample(aws, "oq-fail", 1, "candidate")
    put_sample(aws, "oq-fail", 2, "candidate", unexpected="field")  # an unknown field: unreadable
    put_sample(aws, "oq-fail", 3, "candidate", stream="probe", synthetic=False)  # not what the stream says
    events = Events()
    scores, state, _ = score_interval(deps_with(Recording(None, fail=True), events), release("oq-fail"), manifest,
                                      OnlineScoring(), END, 1)
    # imputed against the canary: 0 for the candidate, 1 for the baseline
    assert scores.arm("user", "candidate")["quality_sum"] == 0.0 and scores.arm("user", "baseline")["quality_sum"] == 1
    assert state.imputed == 2 and state.unscored == 2
    # A failed evaluation is an event with error.type and no score: an imputation is not a result.
    assert sorted(e["feature_flag.result.variant"] for e in events.results) == ["baseline", "candidate"]
    assert all(e["error.type"] == "ProviderError" and "gen_ai.evaluation.score.value" not in e
               for e in events.results)
    assert scores.arm("probe", "candidate")["quality_unscored"] == 1


def test_given_hashed_records_then_the_apps_scores_are_used_and_a_missing_one_is_unscored(aws: EmbeddedAWS) -> None:
    manifest = stored_manifest(aws, "oq-hash", {"quality_margin": 0.05,
                                                "online_quality": {"store": "hashes", "sample_share": 0.1}})
    common = {"store": "hashes", "request": None, "answer": None, "request_sha256": "0" * 64,
              "answer_sha256": "1" * 64}
    put_sample(aws, "oq-hash", 0, "baseline", **common, scores={"quality": 1.0})
    put_sample(aws, "oq-hash", 1, "candidate", **common, scores={"quality": 0.0})
    put_sample(aws, "oq-hash", 2, "candidate", **common, scores={})
    scores, state, _ = score_interval(deps_with(Recording(None, fail=True)), release("oq-hash"), manifest,
                                      OnlineScoring(), END, 1)
    assert scores.arm("user", "baseline")["quality_sum"] == 1.0 and state.judge_calls == 0
    assert scores.arm("user", "candidate") == {"quality_count": 1, "quality_sum": 0.0, "quality_sum_squares": 0.0,
                                               "quality_unscored": 1}


def probing(aws: EmbeddedAWS, release_id: str, **probes: Any) -> tuple[ReleaseManifest, CanaryState]:
    manifest = stored_manifest(aws, release_id, {"probes": {
        "function_name": aws.function_name("SupportBotFunction"), **probes}})
    canary = CanaryState.model_validate({**event("analyze_canary", "first-interval")["canary"],
                                         "probes": {"active": True, "reason": "test"}})
    return manifest, canary


def test_given_probes_then_pairs_go_to_both_variants_until_the_request_cap(aws: EmbeddedAWS) -> None:
    _, canary = probing(aws, "pr-cap", requests_per_second=3, max_requests=8)
    deps = Deps.from_environment()
    before = aws.runtime.invocations.get(aws.function_name("SupportBotFunction"), 0)
    canary = send_probes(release("pr-cap"), canary, deps)  # 3 pairs for the 1 s until the next look (wait_seconds)
    assert canary.probes.sent == 6 and canary.probes.stopped is None
    canary = send_probes(release("pr-cap"), canary, deps)  # only one more pair fits under 8
    assert canary.probes.sent == 8
    canary = send_probes(release("pr-cap"), canary, deps)
    assert canary.probes.sent == 8 and "cap of 8" in (canary.probes.stopped or "")
    assert aws.runtime.invocations[aws.function_name("SupportBotFunction")] - before == 8


def test_given_the_probe_cost_cap_reached_then_no_more_probes(aws: EmbeddedAWS) -> None:
    _, canary = probing(aws, "pr-cost", max_cost_usd=0.01)
    canary = canary.model_copy(update={"probes": canary.probes.model_copy(update={"cost_usd": 0.02})})
    after = send_probes(release("pr-cost"), canary, Deps.from_environment())
    assert after.probes.sent == 0 and "probe cost" in (after.probes.stopped or "")


@pytest.mark.parametrize(("when", "traffic", "active"), [("auto", None, True), ("always", 1000.0, True),
                                                         ("auto", 1000.0, False), ("auto", 0.01, True)])
def test_probes_start_when_the_planner_says_traffic_cannot_reach_a_verdict(
        aws: EmbeddedAWS, when: str, traffic: float | None, active: bool) -> None:
    from genai_cicd.canary.planning import estimate

    manifest, _ = probing(aws, f"pr-plan-{when}", when=when)
    plan = manifest.canary.model_copy(update={"max_duration_seconds": 7200, "bake_seconds": 60,
                                              "max_intervals_per_step": 30})
    manifest = manifest.model_copy(update={"canary": plan})
    guess = None if traffic is None else estimate(plan, requests_per_second=traffic)
    state: ProbeState = probes_needed(manifest, guess)
    assert state.active is active, state.reason


def test_given_probes_the_app_cannot_parse_then_each_crash_counts_as_a_request_and_an_error(aws: EmbeddedAWS) -> None:
    from genai_cicd.logic.canary import _count_crashes

    # the prompt goes in a field the app's request model forbids: every probe invocation fails outright
    _, canary = probing(aws, "pr-crash", requests_per_second=2, payload_field="prompt")
    after = send_probes(release("pr-crash"), canary, Deps.from_environment())
    assert after.probes.sent == 4 and after.probes.crashed == {"baseline": 2, "candidate": 2}
    counts: dict[str, dict[str, float | None]] = {"baseline": {"requests": None, "errors": None},
                                                  "candidate": {"requests": 3.0, "errors": 0.0}}
    _count_crashes(counts, after.probes)
    assert counts == {"baseline": {"requests": 2.0, "errors": 2.0}, "candidate": {"requests": 5.0, "errors": 2.0}}
    # counted once: the next interval sees only new crashes
    seen = after.probes.model_copy(update={"crashed_seen": dict(after.probes.crashed)})
    again: dict[str, dict[str, float | None]] = {"baseline": {"requests": 1.0, "errors": 0.0},
                                                 "candidate": {"requests": 1.0, "errors": 0.0}}
    _count_crashes(again, seen)
    assert again["baseline"] == {"requests": 1.0, "errors": 0.0}
