"""The planned sample catches the regression it was planned for about half the time, and grows as it shrinks."""

from __future__ import annotations

import numpy as np

from genai_cicd.canary.judge import JudgeConfig, JudgeState, judge_interval
from genai_cicd.canary.planning import planned_canary_requests


def test_smaller_regressions_need_more_requests_and_smaller_shares_more_time() -> None:
    base = dict(baseline_rate=0.01, alpha=0.05, metrics=3)
    assert planned_canary_requests(share=0.05, detect_ratio=1.5, **base) > planned_canary_requests(
        share=0.05, detect_ratio=2.0, **base) > planned_canary_requests(share=0.05, detect_ratio=5.0, **base)
    # A smaller share needs fewer canary requests (the baseline is measured on more), but more
    # requests in total, i.e. more time at the same traffic.
    small = planned_canary_requests(share=0.01, detect_ratio=2.0, **base)
    large = planned_canary_requests(share=0.25, detect_ratio=2.0, **base)
    assert small < large and small / 0.01 > large / 0.25


def test_at_the_planned_sample_the_planned_regression_is_caught_about_half_the_time() -> None:
    share, rate, ratio = 0.05, 0.02, 2.0
    n = planned_canary_requests(share=share, baseline_rate=rate, detect_ratio=ratio, alpha=0.05, metrics=1)
    rng = np.random.default_rng(5)
    config = JudgeConfig(metrics=["errors"], critical_metrics=["errors"], min_canary_requests=1e12,
                         max_intervals=10_000)
    caught = 0
    for _ in range(200):
        state, seen = JudgeState(), 0
        while seen < n:
            n_c = 20
            n_b = int(n_c * (1 - share) / share)
            state, d = judge_interval(state, {"requests": n_b, "errors": rng.binomial(n_b, rate)},
                                      {"requests": n_c, "errors": rng.binomial(n_c, rate * ratio)}, config)
            seen += n_c
            if d.decision == "rollback":
                caught += 1
                break
    assert 0.3 <= caught / 200 <= 0.85, caught
