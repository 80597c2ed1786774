"""Given seeded simulations of paired scores, the non-inferiority decision keeps its guarantee."""

from __future__ import annotations

import numpy as np
import pytest

from genai_cicd.gates.noninferiority import bootstrap_t_bounds, bootstrap_t_bounds_many, decide, resample_counts


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
    for s in range(sims):
        base, cand = simulate(n, k, true_diff, rng)
        passed += decide("m", base, cand, threshold=0.0, margin=margin, alpha=0.05, seed=s).decision == "pass"
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
    assert "too small" in verdict.reason


def test_given_candidate_below_threshold_when_decided_then_blocks_even_if_noninferior() -> None:
    base = {f"c{i}": [0.4] for i in range(30)}
    cand = {f"c{i}": [0.41] for i in range(30)}
    verdict = decide("m", base, cand, threshold=0.5, margin=0.05)
    assert verdict.decision == "block" and "threshold" in verdict.reason


def test_given_repeats_when_decided_then_cases_are_clusters_not_samples() -> None:
    base = {f"c{i}": [0.8] * 10 for i in range(4)}
    cand = {f"c{i}": [0.8] * 10 for i in range(4)}
    assert decide("m", base, cand, threshold=0.0, margin=0.05).cases == 4


def test_given_many_columns_when_bounded_together_then_each_equals_its_own_bound() -> None:
    diffs = np.random.default_rng(5).normal(0.0, 0.1, size=(60, 12))
    lower, upper = bootstrap_t_bounds_many(diffs, 0.05, seed=9)
    for j in range(diffs.shape[1]):
        alone = bootstrap_t_bounds(diffs[:, j], 0.05, seed=9)
        assert alone == pytest.approx((lower[j], upper[j]), abs=1e-12)
        assert lower[j] < diffs[:, j].mean() < upper[j]


def test_given_cached_resamples_when_a_caller_writes_then_refused() -> None:
    counts = resample_counts(20, 1)
    assert counts.sum(axis=1) == pytest.approx(np.full(counts.shape[0], 20.0))
    with pytest.raises(ValueError):
        counts[0, 0] = 99.0
    assert resample_counts(20, 1) is counts  # cached, unchanged
