"""How long a canary plan needs at a given traffic: ``genai-cicd canary plan`` and StartCanary.

For a count metric with baseline rate r, a step at canary share s, and a canary
whose rate is R times the baseline's, each canary request (with its (1 - s)/s
baseline companions) adds to the log likelihood ratio of theta_1 against
theta_0 an expected

    D(theta_1; theta_0) = r R log(p1 / p0) + r (1 - s) / s * log((1 - p1) / (1 - p0)),

p = theta w / (theta w + 1), w = s / (1 - s). The judge's mixture reaches its
bound log(level) + log(number of alternatives) after about that over the best
alternative's D canary requests (tempered by the dispersion D of the counts).
"Shown safe" for a harmless change (R = 1) tests theta_0 = detect_ratio against
the judge's alternatives below it; "shown harmful" for a detect_ratio
regression tests theta_0 = 1 + rollback_tolerance against those above it. The
estimate is the expected crossing time -- about the median -- rounded up to
whole intervals and to the step's minimum sample; it is a plan, not a promise.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from genai_cicd.canary.decision import CATASTROPHE_SHARE, MIN_HARM_INTERVALS, NEGLIGIBLE_SHARE, judged_metrics
from genai_cicd.canary.sequential import HARM_MULTIPLES, SAFE_MULTIPLES

if TYPE_CHECKING:
    from genai_cicd.models.manifest import CanaryPlan


class StepPlan(BaseModel):
    model_config = ConfigDict(extra="forbid")

    weight: float
    canary_requests_per_minute: float
    minutes_to_shown_safe: float  # a harmless change, every judged count metric (inf: never)
    minutes_to_rollback: dict[str, float]  # per count metric: a detect_ratio regression of that metric alone
    fits: bool  # shown safe within max_intervals_per_step (and max_duration_seconds overall)


class PlanEstimate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    requests_per_second: float
    baseline_rates: dict[str, float]
    dispersion: float
    steps: list[StepPlan]
    total_minutes_to_promote: float
    warnings: list[str]
    # Every decision reads periods that ended metric_settle_seconds ago (CloudWatch's EMF latency): the
    # minutes above include it once per step.
    settle_minutes: float = 0.0

    def sentence(self) -> str:
        first = self.steps[0]
        rollback = ", ".join(f"{m} in {_minutes(t)}" for m, t in first.minutes_to_rollback.items())
        head = (f"at {self.requests_per_second:g} requests/s a harmless change should be shown safe and promoted "
                f"in about {_minutes(self.total_minutes_to_promote)}; at {first.weight:g}% a regression at "
                f"detect_ratio is rolled back in about: {rollback}")
        if self.settle_minutes:
            head += f" (each decision waits {self.settle_minutes:g} min for CloudWatch to settle)"
        return head + ("" if not self.warnings else " -- " + "; ".join(self.warnings))


def _minutes(m: float) -> str:
    return "never" if math.isinf(m) else f"{m:.0f} min" if m >= 1 else "under a minute"


def _p(theta: float, share: float) -> float:
    w = theta * share / (1 - share)
    return w / (w + 1)


def drift_per_canary_request(share: float, rate: float, true_ratio: float, theta1: float, theta0: float) -> float:
    p1, p0 = _p(theta1, share), _p(theta0, share)
    return (rate * true_ratio * math.log(p1 / p0)
            + rate * (1 - share) / share * math.log((1 - p1) / (1 - p0)))


def canary_requests_to_cross(share: float, rate: float, true_ratio: float, theta0: float,
                             multiples: tuple[float, ...], log_level: float, dispersion: float) -> float:
    best = max(drift_per_canary_request(share, rate, true_ratio, theta0 * m, theta0) for m in multiples)
    if best <= 0:
        return math.inf
    return dispersion * (log_level + math.log(len(multiples))) / best


def canary_requests_to_negligible(rate: float, rate0: float, log_level: float, dispersion: float) -> float:
    """Expected canary requests until a canary rate ``rate`` is shown below ``rate0`` (inf if it is not)."""
    best = max(rate * math.log(m) + (1 - rate) * (math.log1p(-rate0 * m) - math.log1p(-rate0))
               for m in SAFE_MULTIPLES)
    if best <= 0:
        return math.inf
    return dispersion * (log_level + math.log(len(SAFE_MULTIPLES))) / best


def _whole_intervals(requests: float, per_minute: float, interval_min: float, at_least: int = 1) -> float:
    """Minutes to serve ``requests`` canary requests, rounded up to whole intervals."""
    if math.isinf(requests):
        return math.inf
    return max(at_least, math.ceil(requests / per_minute / interval_min)) * interval_min


def estimate(plan: CanaryPlan, *, requests_per_second: float, baseline_rates: dict[str, float] | None = None,
             dispersion: float = 1.0) -> PlanEstimate:
    """Expected minutes per step; ``baseline_rates`` per count metric (default: the plan's baseline_bad_rate)."""
    if not (requests_per_second > 0 and math.isfinite(requests_per_second)):
        raise ValueError("requests_per_second must be a positive number")
    count_metrics, paired = judged_metrics(plan)
    rates = {m: (baseline_rates or {}).get(m, plan.baseline_bad_rate) for m in count_metrics}
    k = len(count_metrics) + len(paired)
    interval_min = plan.bake_seconds / 60.0
    settle = plan.metric_settle_seconds / 60.0
    steps: list[StepPlan] = []
    warnings: list[str] = []
    for weight in plan.steps:
        share = weight / 100.0
        per_minute = requests_per_second * 60 * share
        safe_req = max((min(canary_requests_to_cross(share, r, 1.0, plan.detect_ratio, SAFE_MULTIPLES,
                                                     math.log(1 / (plan.alpha * (1 - NEGLIGIBLE_SHARE))),
                                                     dispersion),
                            canary_requests_to_negligible(r, plan.negligible_rate,
                                                          math.log(1 / (plan.alpha * NEGLIGIBLE_SHARE)), dispersion))
                        for r in rates.values()), default=0.0)
        harm_req = {m: canary_requests_to_cross(share, r, plan.detect_ratio, 1 + plan.rollback_tolerance,
                                                HARM_MULTIPLES, math.log(k / (plan.alpha * (1 - CATASTROPHE_SHARE))),
                                                dispersion)
                    for m, r in rates.items()}
        safe_req = max(safe_req, plan.min_canary_requests_per_step)

        safe_min = _whole_intervals(safe_req, per_minute, interval_min)
        harm_min = {m: _whole_intervals(req, per_minute, interval_min, MIN_HARM_INTERVALS)
                    for m, req in harm_req.items()}
        fits = safe_min <= plan.max_intervals_per_step * interval_min
        if not fits:
            warnings.append(f"at {weight:g}% the traffic is too low to show a harmless change safe within "
                            f"{plan.max_intervals_per_step} intervals ({_minutes(safe_min)} needed): it would "
                            "roll back as not shown safe")
        # A decision reads what had settled metric_settle_seconds ago: it comes that much later.
        safe_min += settle
        harm_min = {m: t + settle for m, t in harm_min.items()}
        steps.append(StepPlan(weight=weight, canary_requests_per_minute=per_minute, minutes_to_shown_safe=safe_min,
                              minutes_to_rollback=harm_min, fits=fits))
    total = sum(s.minutes_to_shown_safe for s in steps)
    if plan.max_duration_seconds is not None and total * 60 > plan.max_duration_seconds:
        warnings.append(f"promotion needs about {_minutes(total)}, more than max_duration_seconds "
                        f"({plan.max_duration_seconds} s)")
    if paired:
        warnings.append(f"{', '.join(paired)}: not planned here (their spread is learned from the stream)")
    return PlanEstimate(requests_per_second=requests_per_second, baseline_rates=rates, dispersion=dispersion,
                        steps=steps, total_minutes_to_promote=total, warnings=warnings, settle_minutes=settle)
