"""Shadow evaluation's decision (canary/shadow.py) and the pairwise judge in both presentation orders."""

from __future__ import annotations

import json
import random
import re

import pytest

from genai_cicd.canary import shadow
from genai_cicd.canary.sequential import ScoreSums
from genai_cicd.gates.model_scorers import LLMJudge, VerdictRejected
from genai_cicd.providers.base import GenerationRequest, GenerationResult


def folded(diffs: list[float], looks: int = 1) -> ScoreSums:
    """The differences folded as AnalyzeShadow folds them, in ``looks`` batches."""
    sums = ScoreSums()
    size = max(1, len(diffs) // looks)
    for start in range(0, len(diffs), size):
        batch = [shadow.to_unit(d) for d in diffs[start:start + size]]
        sums = sums.add(len(batch), sum(batch), sum(u * u for u in batch))
    return sums


def decide(diffs: list[float], looks: int = 1, exhausted: str | None = None, unscored: int = 0,
           min_pairs: int = 30) -> shadow.ShadowVerdict:
    return shadow.decide(folded(diffs, looks), margin=0.05, alpha=0.05, min_pairs=min_pairs, unscored_now=unscored,
                         exhausted=exhausted)


def paired(n: int, delta: float, seed: int, spread: float = 0.3, noise: float = 0.05) -> list[float]:
    """Pairs on prompts whose difficulty varies a lot (``spread``) with a little judge noise: what pairing is for."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        difficulty = min(1.0, max(0.0, rng.gauss(0.6, spread)))
        b = min(1.0, max(0.0, difficulty + rng.gauss(0, noise)))
        c = min(1.0, max(0.0, difficulty + delta + rng.gauss(0, noise)))
        out.append(c - b)
    return out


def test_given_a_large_drop_then_it_is_shown_worse_and_blocked() -> None:
    verdict = decide(paired(120, -0.3, seed=1))
    assert (verdict.action, verdict.outcome) == ("block", "worse")
    assert verdict.upper is not None and verdict.upper < -0.05
    assert "shown worse in shadow" in verdict.reasons[0]


def test_given_no_difference_then_it_is_shown_non_inferior_and_the_canary_starts() -> None:
    verdict = decide(paired(400, 0.0, seed=2), looks=4)
    assert (verdict.action, verdict.outcome) == ("canary", "non_inferior")
    assert verdict.lower is not None and verdict.lower > -0.05


def test_given_too_few_pairs_or_unscored_pairs_then_never_non_inferior() -> None:
    same = [0.0] * 400
    assert decide(same, min_pairs=401).action == "continue"
    assert decide(same, unscored=1).action == "continue"  # an absent pair never passes
    assert decide(same).action == "canary"


def test_given_a_cap_reached_undecided_then_blocked_not_shown_safe_with_what_would_suffice() -> None:
    verdict = decide(paired(60, 0.0, seed=3, noise=0.2), exhausted="the cap of 60 pairs is reached")
    assert (verdict.action, verdict.outcome) == ("block", "not_shown_safe")
    needed = shadow.pairs_needed(folded(paired(60, 0.0, seed=3, noise=0.2)), 0.05, 0.05)
    assert needed is not None and needed > 60 and f"about {needed:,} pairs" in verdict.reasons[0]
    # no pair at all: blocked too (missing data never promotes)
    assert decide([], exhausted="30 looks are over").outcome == "not_shown_safe"


def test_the_estimate_of_pairs_needed_is_what_the_bound_needs() -> None:
    diffs = paired(100, -0.01, seed=4, noise=0.15)
    needed = shadow.pairs_needed(folded(diffs), 0.05, 0.05)
    assert needed is not None
    rng = random.Random(5)
    more = [rng.choice(diffs) for _ in range(needed * 2)]  # the same distribution, twice the estimate
    assert shadow.decide(folded(more, looks=10), margin=0.05, alpha=0.05, min_pairs=1, unscored_now=0,
                         exhausted=None).outcome == "non_inferior"
    # a candidate seen below the margin: no number of pairs would do
    assert shadow.pairs_needed(folded([-0.2] * 50), 0.05, 0.05) is None


def test_at_exactly_the_margin_the_candidate_is_never_shown_non_inferior() -> None:
    """Planted bug: a bound taken at the wrong side or level would pass a candidate exactly at the margin."""
    for seed in range(40):
        rng = random.Random(seed)
        diffs = [-0.05 + rng.choice((-0.2, 0.2)) for _ in range(2000)]  # mean exactly -margin
        assert decide(diffs, looks=20).outcome != "non_inferior"


def test_the_bounds_are_a_valid_confidence_sequence_at_the_margin() -> None:
    """Across 200 streams at the margin, watched at every look, false non-inferiority stays under alpha."""
    passed = 0
    for seed in range(200):
        diffs = paired(600, -0.05, seed=seed, noise=0.15)
        sums = ScoreSums()
        for start in range(0, 600, 60):
            batch = [shadow.to_unit(d) for d in diffs[start:start + 60]]
            sums = sums.add(len(batch), sum(batch), sum(u * u for u in batch))
            lower, _ = shadow.difference_bounds(sums, 0.05)
            if lower > -0.05:
                passed += 1
                break
    assert passed <= 10  # alpha = 0.05 of 200 (the bound is conservative: usually far fewer)


class BiasedJudge:
    """A judge that scores an answer by its length, plus a bias for whichever answer is shown first."""

    def __init__(self, bias: float) -> None:
        self.bias = bias

    def generate(self, request: GenerationRequest) -> GenerationResult:
        nonce = re.search(r'"nonce": "([0-9a-f]+)"', request.system)
        boundary = re.search(r"'BEGIN <name> (\S+)'", request.system)
        assert nonce and boundary
        answers = [re.search(f"BEGIN {name} {re.escape(boundary.group(1))}\n(.*?)\nEND", request.user, re.S)
                   for name in ("ANSWER_1", "ANSWER_2")]
        scores = [min(1.0, len(a.group(1)) / 100 + (self.bias if i == 0 else 0.0)) for i, a in enumerate(answers)
                  if a is not None]
        text = json.dumps({"nonce": nonce.group(1), "scores": scores, "reason": "longer"})
        return GenerationResult(text=text, input_tokens=10, output_tokens=5, latency_ms=1.0, stop_reason="end_turn")


def test_a_position_bias_cancels_in_both_orders() -> None:
    judge = LLMJudge(BiasedJudge(bias=0.2), "judge-model")  # type: ignore[arg-type]
    a, b, _ = judge.grade_pair("q", "x" * 40, "x" * 40)
    assert a == pytest.approx(b)  # identical answers: no difference, whoever was shown first
    once = judge.grade_pair_once("q", "x" * 40, "x" * 40)
    assert once[0] - once[1] == pytest.approx(0.2)  # one order alone would have carried the bias
    a, b, _ = judge.grade_pair("q", "x" * 50, "x" * 30)
    assert a - b == pytest.approx(0.2)  # the real difference (length 50 vs 30), none of the bias
    assert judge.calls == 5


def test_a_pair_verdict_without_this_calls_nonce_is_rejected() -> None:
    class Echo:
        def generate(self, request: GenerationRequest) -> GenerationResult:
            return GenerationResult(text='{"nonce": "0000000000000000", "scores": [1, 1], "reason": "r"}',
                                    input_tokens=1, output_tokens=1, latency_ms=1.0, stop_reason="end_turn")

    with pytest.raises(VerdictRejected):
        LLMJudge(Echo(), "judge-model").grade_pair("q", "a", "b")  # type: ignore[arg-type]


def test_the_shadow_share_keeps_the_traffic_seen_under_the_rate_cap() -> None:
    assert shadow.shadow_share(0.25, 2.0, 4.0) == 0.25  # 1 request/s: under the cap
    assert shadow.shadow_share(0.25, 2.0, 20.0) == pytest.approx(0.1)  # 5 requests/s would be: lowered to 2
    assert shadow.shadow_share(0.25, 2.0, None) == 0.25 == shadow.shadow_share(0.25, 2.0, 0.0)  # no traffic yet
