"""Given seeded simulations of paired scores, the non-inferiority decision keeps its guarantee."""

from __future__ import annotations

import numpy as np
import pytest

from genai_cicd.gates.noninferiority import alpha_for_run, decide


def simulate(n: int, k: int, true_diff: float, rng: np.random.Generator, sd_case: float = 0.15,
             sd_rep: float = 0.1) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    ability = rng.uniform(0.5, 0.9, size=n)
    case_noise = rng.normal(0, sd_case, size=n)
    base = {f"c{i}": list(np.clip(ability[i] + rng.normal(0, sd_rep, k), 0, 1)) for i in range(n)}
    cand = {f"c{i}": list(np.clip(ability[i] + true_diff + 0.3 * case_noise[i] + rng.normal(0, sd_rep, k), 0, 1))
            for i in range(n)}
    return base, cand


def pass_rate(n: int, k: int, true_diff: float, margin: float, sims: int, seed: int) -> float:
    rng = np.random.default_rng(seed)
    passed = 0
    for _ in range(sims):
        base, cand = simulate(n, k, true_diff, rng)
        passed += decide("m", base, cand, threshold=0.0, margin=margin, alpha=0.05).decision == "pass"
    return passed / sims


def test_given_candidate_worse_by_the_margin_when_decided_then_passes_at_most_alpha() -> None:
    rate = pass_rate(n=60, k=3, true_diff=-0.05, margin=0.05, sims=300, seed=1)
    # alpha = 0.05; allow binomial noise of 300 runs (sd ~ 1.3 points)
    assert rate <= 0.08, rate


def test_given_no_change_and_enough_cases_when_decided_then_passes() -> None:
    assert pass_rate(n=200, k=3, true_diff=0.0, margin=0.05, sims=60, seed=2) >= 0.8


def test_given_real_regression_when_decided_then_blocks_with_reason() -> None:
    rng = np.random.default_rng(3)
    base, cand = simulate(100, 3, -0.2, rng)
    verdict = decide("rouge_l", base, cand, threshold=0.0, margin=0.05)
    assert verdict.decision == "block"
    assert "regression" in verdict.reason
    assert verdict.upper_bound < 0


def test_given_tiny_dataset_when_decided_then_inconclusive_with_size_needed() -> None:
    rng = np.random.default_rng(4)
    base, cand = simulate(8, 1, 0.0, rng, sd_rep=0.25)
    verdict = decide("m", base, cand, threshold=0.0, margin=0.02)
    assert verdict.decision == "inconclusive"
    assert verdict.cases_needed is not None and verdict.cases_needed > 8
    assert "not yet shown" in verdict.reason or "only" in verdict.reason


def test_given_candidate_below_threshold_when_decided_then_blocks_even_if_noninferior() -> None:
    base = {f"c{i}": [0.4] for i in range(30)}
    cand = {f"c{i}": [0.41] for i in range(30)}
    verdict = decide("m", base, cand, threshold=0.5, margin=0.05)
    assert verdict.decision == "block" and "threshold" in verdict.reason


def test_given_repeats_when_decided_then_cases_are_clusters_not_samples() -> None:
    base = {f"c{i}": [0.8] * 10 for i in range(4)}
    cand = {f"c{i}": [0.8] * 10 for i in range(4)}
    assert decide("m", base, cand, threshold=0.0, margin=0.05).cases == 4


def test_given_a_candidate_file_without_its_hardest_cases_then_it_does_not_pass() -> None:
    """Dropping the 20 cases where the candidate fails must not turn a block into a pass."""
    rng = np.random.default_rng(6)
    base = {f"c{i}": [float(rng.uniform(0.8, 1.0))] for i in range(100)}
    cand = {c: [v[0] - 0.01] for c, v in base.items()}
    for i in range(20):
        cand[f"c{i}"] = [0.0]
    full = decide("m", base, cand, threshold=0.0, margin=0.05)
    assert full.decision == "block"
    partial = {c: v for c, v in cand.items() if int(c[1:]) >= 20}
    verdict = decide("m", base, partial, threshold=0.0, margin=0.05)
    assert verdict.decision == "block" and verdict.missing_candidate == 20 and "absent" in verdict.reason
    assert verdict.difference == pytest.approx(full.difference, abs=0.02)


def test_given_failed_candidate_repeats_dropped_then_they_count_as_failures() -> None:
    base = {f"c{i}": [0.9, 0.9, 0.9] for i in range(60)}
    cand = {f"c{i}": [0.9] for i in range(60)}  # two of three repeats lost (failed calls)
    verdict = decide("m", base, cand, threshold=0.0, margin=0.1, repeats=3)
    assert verdict.difference == pytest.approx(-0.6) and verdict.decision == "block"
    assert verdict.missing_candidate == 120
    # A missing baseline score counts as the best value, so it never helps the candidate either.
    verdict = decide("m", {f"c{i}": [0.5] for i in range(60)}, {f"c{i}": [0.5, 0.5] for i in range(60)},
                     threshold=0.0, margin=0.1, repeats=2)
    assert verdict.baseline_mean == pytest.approx(0.75) and verdict.missing_baseline == 60


def test_given_all_equal_scores_then_the_interval_does_not_collapse() -> None:
    same = {f"c{i}": [1.0] for i in range(20)}
    verdict = decide("m", same, same, threshold=0.0, margin=0.05)
    assert verdict.lower_bound < -0.05 < verdict.upper_bound  # 20 cases cannot rule out 5% failures
    assert verdict.decision == "inconclusive" and verdict.cases_needed and verdict.cases_needed >= 50
    bigger = {f"c{i}": [1.0] for i in range(120)}
    assert decide("m", bigger, bigger, threshold=0.0, margin=0.05).decision == "pass"


def test_given_near_ceiling_binary_at_small_n_then_passes_at_the_margin_at_most_alpha() -> None:
    """Baseline always right, candidate right 95% of the time, N=20: bootstrap-t passed 37% of the time."""
    rng = np.random.default_rng(7)
    passed = 0
    for _ in range(400):
        base = {f"c{i}": [1.0] for i in range(20)}
        cand = {f"c{i}": [float(rng.random() >= 0.05)] for i in range(20)}
        passed += decide("m", base, cand, threshold=0.0, margin=0.05).decision == "pass"
    assert passed / 400 <= 0.05


def test_the_verdict_does_not_depend_on_case_names_or_order() -> None:
    rng = np.random.default_rng(8)
    base, cand = simulate(80, 3, -0.02, rng)
    first = decide("m", base, cand, threshold=0.0, margin=0.05)
    renamed_b = {f"x-{i * 7 % 80}": v for i, v in enumerate(base.values())}
    renamed_c = {f"x-{i * 7 % 80}": v for i, v in enumerate(cand.values())}
    second = decide("m", renamed_b, renamed_c, threshold=0.0, margin=0.05)
    shuffled = list(base)
    rng.shuffle(shuffled)
    third = decide("m", {c: base[c] for c in shuffled}, {c: cand[c] for c in shuffled}, threshold=0.0, margin=0.05)
    assert (first.lower_bound, first.upper_bound) == (second.lower_bound, second.upper_bound) == (
        third.lower_bound, third.upper_bound)


def test_interim_looks_stop_only_on_clear_evidence() -> None:
    rng = np.random.default_rng(9)
    base, cand = simulate(400, 3, 0.0, rng)
    keys = {case: f"content of {case}" for case in base}  # interim looks bet in the order of the content
    assert decide("m", base, cand, threshold=0.0, margin=0.05, n_plan=400, final=False,
                  keys=keys).decision == "pass"
    small = dict(list(base.items())[:10]), dict(list(cand.items())[:10])
    assert decide("m", *small, threshold=0.0, margin=0.05, n_plan=400, final=False,
                  keys=keys).decision == "continue"
    worse = {c: [max(0.0, x - 0.4) for x in v] for c, v in cand.items()}
    early = decide("m", base, worse, threshold=0.0, margin=0.05, n_plan=400, final=False, keys=keys)
    assert early.decision == "block" and "shown early" in early.reason
    with pytest.raises(ValueError, match="needs an order"):
        decide("m", base, cand, threshold=0.0, margin=0.05, n_plan=400, final=False)


def test_reruns_of_one_candidate_share_alpha() -> None:
    spent = sum(alpha_for_run(0.05, r) for r in range(1, 60))
    assert spent <= 0.05 + 1e-12 and alpha_for_run(0.05, 1) == pytest.approx(0.04)
    assert alpha_for_run(0.05, 2) < alpha_for_run(0.05, 1)
