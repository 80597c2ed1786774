"""Given simulated canary streams, the sequential judge is anytime-valid and catches regressions."""

from __future__ import annotations

import numpy as np

from genai_cicd.canary.judge import JudgeConfig, JudgeState, judge_interval


def run_stream(rng: np.random.Generator, *, rps: float, share: float, base_rate: float, ratio: float,
               intervals: int, config: JudgeConfig, minutes: int = 60) -> tuple[str, int]:
    state = JudgeState()
    for i in range(intervals):
        n = rng.poisson(rps * minutes)
        n_c = rng.binomial(n, share)
        n_b = n - n_c
        x_c = rng.binomial(n_c, min(1.0, base_rate * ratio))
        x_b = rng.binomial(n_b, base_rate)
        state, d = judge_interval(state, {"requests": n_b, "errors": x_b}, {"requests": n_c, "errors": x_c}, config)
        if d.decision != "continue":
            return d.decision, i
    return "continue", intervals


def test_given_no_difference_when_checked_every_interval_then_false_rollbacks_stay_under_alpha() -> None:
    rng = np.random.default_rng(11)
    config = JudgeConfig(metrics=["errors"], critical_metrics=["errors"], alpha=0.05, min_canary_requests=1e12,
                         max_intervals=10_000)
    rollbacks = sum(run_stream(rng, rps=5, share=0.05, base_rate=0.01, ratio=1.0, intervals=60, config=config)[0]
                    == "rollback" for _ in range(300))
    assert rollbacks / 300 <= 0.07, rollbacks


def test_given_doubled_error_rate_when_judged_then_rolled_back() -> None:
    rng = np.random.default_rng(12)
    config = JudgeConfig(metrics=["errors"], critical_metrics=["errors"], alpha=0.05, min_canary_requests=1e12,
                         max_intervals=10_000)
    results = [run_stream(rng, rps=20, share=0.05, base_rate=0.02, ratio=2.0, intervals=120, config=config)
               for _ in range(40)]
    detected = [i for decision, i in results if decision == "rollback"]
    assert len(detected) >= 36
    assert float(np.median(detected)) < 30


def test_given_zero_canary_requests_when_baking_then_never_promotes_and_rolls_back_at_limit() -> None:
    config = JudgeConfig(metrics=["errors"], critical_metrics=["errors"], min_canary_requests=10, max_intervals=5)
    state = JudgeState()
    decisions = []
    for _ in range(5):
        state, d = judge_interval(state, {"requests": 100, "errors": 1}, {"requests": 0, "errors": 0}, config)
        decisions.append(d)
    assert [d.decision for d in decisions] == ["continue"] * 4 + ["rollback"]
    assert "insufficient data" in decisions[-1].reasons[0]


def test_given_metric_missing_for_one_arm_when_judged_then_interval_does_not_count_toward_promotion() -> None:
    config = JudgeConfig(metrics=["errors", "slow_requests"], min_canary_requests=10, max_intervals=3)
    state = JudgeState()
    for _ in range(3):
        state, d = judge_interval(state, {"requests": 100, "errors": 0, "slow_requests": 1},
                                  {"requests": 20, "errors": 0, "slow_requests": None}, config)
    assert d.decision == "rollback"
    assert any("missing for canary" in r for r in d.reasons)


def test_given_healthy_canary_with_planned_sample_when_judged_then_promotes() -> None:
    config = JudgeConfig(metrics=["errors"], min_canary_requests=50, max_intervals=10)
    state = JudgeState()
    state, d = judge_interval(state, {"requests": 1000, "errors": 5}, {"requests": 30, "errors": 0}, config)
    assert d.decision == "continue"
    state, d = judge_interval(state, {"requests": 1000, "errors": 5}, {"requests": 30, "errors": 0}, config)
    assert d.decision == "promote"


def test_given_non_critical_metric_crossed_when_step_not_over_then_holds_then_rolls_back() -> None:
    config = JudgeConfig(metrics=["errors", "low_quality"], critical_metrics=["errors"], min_canary_requests=100,
                         max_intervals=10)
    state = JudgeState()
    state, d = judge_interval(state, {"requests": 1000, "errors": 0, "low_quality": 10},
                              {"requests": 60, "errors": 0, "low_quality": 30}, config)
    assert d.decision == "continue" and d.reasons[0].startswith("holding promotion")
    state, d = judge_interval(state, {"requests": 1000, "errors": 0, "low_quality": 10},
                              {"requests": 60, "errors": 0, "low_quality": 30}, config)
    assert d.decision == "rollback" and d.metric == "low_quality"
