"""Cost per request is judged by pairs of intervals; not knowing never promotes."""

from __future__ import annotations

import numpy as np

from genai_cicd.canary.cost import cost_check, interval_log_ratio


def ratios(rng: np.random.Generator, factor: float, n: int) -> list[float]:
    out = []
    for _ in range(n):
        drift = rng.uniform(0.5, 2.0)  # shared by both arms: traffic mix, time of day
        base = {"requests": 1000, "cost_usd": 1000 * 0.002 * drift * rng.lognormal(0, 0.05)}
        can = {"requests": 50, "cost_usd": 50 * 0.002 * drift * factor * rng.lognormal(0, 0.1)}
        r = interval_log_ratio(base, can)
        assert r is not None
        out.append(r)
    return out


def test_doubled_cost_is_over_a_20_percent_allowance() -> None:
    verdict, lower, _ = cost_check(ratios(np.random.default_rng(1), 2.0, 10), alpha=0.05 / 20, max_increase=0.2)
    assert verdict == "over" and np.exp(lower) > 1.2


def test_unchanged_cost_is_within_a_20_percent_allowance() -> None:
    verdict, _, upper = cost_check(ratios(np.random.default_rng(2), 1.0, 12), alpha=0.05 / 20, max_increase=0.2)
    assert verdict == "within" and np.exp(upper) < 1.2


def test_too_few_intervals_or_missing_cost_is_unknown() -> None:
    assert cost_check([0.0, 0.1], alpha=0.05, max_increase=0.2)[0] == "unknown"
    assert interval_log_ratio({"requests": 10, "cost_usd": None}, {"requests": 1, "cost_usd": 0.1}) is None
    assert interval_log_ratio({"requests": 10, "cost_usd": 1.0}, {"requests": 0, "cost_usd": 0.0}) is None
