"""An anytime-valid canary judge on counts of bad events (DESIGN.md §4).

For each count metric (errors, slow requests, low-quality answers, guardrail
interventions) and each interval, condition on the total number of bad
events t = x_canary + x_baseline. If the canary is no worse, x_canary is
Binomial(t, p0) with p0 = n_canary / (n_canary + n_baseline); if its rate is
theta times the baseline's, p = theta*n_c / (theta*n_c + n_b). The product of
per-interval likelihood ratios, mixed over a grid of theta > 1, is a
non-negative martingale under "no worse", so by Ville's inequality it ever
exceeds k/alpha with probability at most alpha/k -- however often it is looked
at. With k metrics (Bonferroni) the whole judge falsely rolls back at most
alpha of the time.

Decisions per interval:
- rollback: a critical metric's evidence crossed k/alpha; or a non-critical
  one crossed and the step is over; or the step ran out of intervals
  without the planned sample (missing data never promotes);
- promote (next step or full rollout): the step's planned canary sample was
  reached, every monitored metric was present for both arms, nothing crossed;
- continue: otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, Field

THETAS: tuple[float, ...] = (1.1, 1.25, 1.5, 2.0, 3.0, 5.0, 10.0)

Decision = Literal["continue", "promote", "rollback"]


class JudgeConfig(BaseModel):
    metrics: list[str] = Field(min_length=1)
    critical_metrics: list[str] = Field(default_factory=list)
    alpha: float = Field(default=0.05, gt=0.0, lt=0.5)
    min_canary_requests: float = Field(default=200, ge=1)
    max_intervals: int = Field(default=12, ge=1)


class MetricEvidence(BaseModel):
    log_lr: list[float] = Field(default_factory=lambda: [0.0] * len(THETAS))
    canary_bad: float = 0.0
    canary_requests: float = 0.0
    baseline_bad: float = 0.0
    baseline_requests: float = 0.0
    crossed: bool = False


class JudgeState(BaseModel):
    """Small enough to travel in Step Functions state between intervals."""

    evidence: dict[str, MetricEvidence] = Field(default_factory=dict)
    step_canary_requests: float = 0.0
    step_intervals: int = 0
    intervals: int = 0
    # log(canary cost per request / baseline cost per request), one per interval with data
    cost_log_ratios: list[float] = Field(default_factory=list)

    def new_step(self) -> JudgeState:
        return self.model_copy(update={"step_canary_requests": 0.0, "step_intervals": 0})


class IntervalDecision(BaseModel):
    interval: int
    decision: Decision
    reasons: list[str]
    metric: str | None = None
    evidence: dict[str, dict[str, float]] = Field(default_factory=dict)


def _log_mean_exp(values: Sequence[float]) -> float:
    top = max(values)
    return top + math.log(sum(math.exp(v - top) for v in values) / len(values))


def _update(ev: MetricEvidence, x_c: float, n_c: float, x_b: float, n_b: float) -> MetricEvidence:
    p0 = n_c / (n_c + n_b)
    log_lr = list(ev.log_lr)
    if x_c + x_b > 0:
        for j, theta in enumerate(THETAS):
            p = theta * n_c / (theta * n_c + n_b)
            log_lr[j] += x_c * math.log(p / p0) + x_b * math.log((1 - p) / (1 - p0))
    return MetricEvidence(
        log_lr=log_lr, canary_bad=ev.canary_bad + x_c, canary_requests=ev.canary_requests + n_c,
        baseline_bad=ev.baseline_bad + x_b, baseline_requests=ev.baseline_requests + n_b, crossed=ev.crossed,
    )


def summary(ev: MetricEvidence) -> dict[str, float]:
    rate_c = ev.canary_bad / ev.canary_requests if ev.canary_requests else float("nan")
    rate_b = ev.baseline_bad / ev.baseline_requests if ev.baseline_requests else float("nan")
    ratio = rate_c / rate_b if rate_b and not math.isnan(rate_b) and rate_b > 0 else float("inf")
    return {
        "canary_rate": rate_c, "baseline_rate": rate_b, "rate_ratio": ratio,
        "e_value": math.exp(min(700.0, _log_mean_exp(ev.log_lr))),
        "canary_bad": ev.canary_bad, "canary_requests": ev.canary_requests,
        "baseline_bad": ev.baseline_bad, "baseline_requests": ev.baseline_requests,
    }


def judge_interval(state: JudgeState, baseline: dict[str, float | None], canary: dict[str, float | None],
                   config: JudgeConfig) -> tuple[JudgeState, IntervalDecision]:
    """Fold one interval into the evidence and decide."""
    k = len(config.metrics)
    log_bound = math.log(k / config.alpha)
    reasons: list[str] = []
    evidence = dict(state.evidence)
    n_c, n_b = canary.get("requests"), baseline.get("requests")
    complete = bool(n_c) and bool(n_b)
    if not complete:
        reasons.append("no canary or baseline requests in this interval")
    else:
        assert n_c is not None and n_b is not None
        for metric in config.metrics:
            x_c, x_b = canary.get(metric), baseline.get(metric)
            if x_c is None or x_b is None:
                complete = False
                reasons.append(f"{metric}: missing for {'canary' if x_c is None else 'baseline'}")
                continue
            ev = _update(evidence.get(metric, MetricEvidence()), x_c, n_c, x_b, n_b)
            if not ev.crossed and _log_mean_exp(ev.log_lr) >= log_bound:
                ev = ev.model_copy(update={"crossed": True})
            evidence[metric] = ev
    step_requests = state.step_canary_requests + ((n_c or 0.0) if complete else 0.0)
    new_state = JudgeState(evidence=evidence, step_canary_requests=step_requests,
                           step_intervals=state.step_intervals + 1, intervals=state.intervals + 1)
    shown = {m: summary(e) for m, e in evidence.items()}
    crossed = [m for m in config.metrics if m in evidence and evidence[m].crossed]
    critical = [m for m in crossed if m in config.critical_metrics]
    step_done = step_requests >= config.min_canary_requests
    out_of_time = new_state.step_intervals >= config.max_intervals

    def verdict(decision: Decision, metric: str | None, why: list[str]) -> tuple[JudgeState, IntervalDecision]:
        return new_state, IntervalDecision(interval=state.intervals, decision=decision, reasons=why,
                                           metric=metric, evidence=shown)

    def crossed_reason(m: str) -> str:
        s = shown[m]
        return (f"{m}: canary rate {s['canary_rate']:.4f} vs baseline {s['baseline_rate']:.4f} "
                f"(x{s['rate_ratio']:.2f}); e-value {s['e_value']:.1f} >= {k / config.alpha:.1f}")

    if critical:
        return verdict("rollback", critical[0], [crossed_reason(m) for m in critical] + reasons)
    if crossed and (step_done or out_of_time):
        return verdict("rollback", crossed[0], [crossed_reason(m) for m in crossed] + reasons)
    if step_done and not crossed:
        return verdict("promote", None, [f"planned sample reached: {step_requests:.0f} canary requests >= "
                                         f"{config.min_canary_requests:.0f}; no metric crossed its bound"]
                       + reasons)
    if out_of_time:
        return verdict("rollback", None, [f"insufficient data: {step_requests:.0f} of "
                                          f"{config.min_canary_requests:.0f} canary requests after "
                                          f"{new_state.step_intervals} intervals"] + reasons)
    why = [f"baking: {step_requests:.0f} of {config.min_canary_requests:.0f} canary requests"] + reasons
    if crossed:
        why.insert(0, "holding promotion: " + "; ".join(crossed_reason(m) for m in crossed))
    return verdict("continue", None, why)
