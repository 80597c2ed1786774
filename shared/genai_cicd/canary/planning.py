"""How long a canary plan needs at a given traffic: ``genai-cicd canary plan`` and StartCanary.

For a count metric with baseline rate r, a step at canary share s, and a canary
whose rate is R times the baseline's, each canary request (with its (1 - s)/s
baseline companions) adds to the log likelihood ratio of theta_1 against
theta_0 an expected

    D(theta_1; theta_0) = r R log(p1 / p0) + r (1 - s) / s * log((1 - p1) / (1 - p0)),

p = theta w / (theta w + 1), w = s / (1 - s). The judge's mixture reaches its
bound log(level) + log(number of alternatives) after about that over the best
alternative's D canary requests (tempered by the dispersion D of the counts).
"Shown harmful" for a detect_ratio regression tests theta_0 = 1 +
rollback_tolerance against the alternatives above it: the time to roll back is
the expected crossing time, rounded up to whole intervals (at least MIN_HARM_INTERVALS).

"Shown safe" for a harmless change (R = 1) needs every metric shown safe at
once (by the ratio test against theta_0 = detect_ratio, or by the negligible-rate
test). Each test's log likelihood ratio is a random walk whose per-request mean
and variance follow from the same binomial model, so after n canary requests it
is above its bound with probability about Phi((n mean - bound) / sqrt(n var))
(normal approximation). The plan gives the median (``minutes_to_shown_safe``)
and the ``QUANTILE`` (``minutes_to_shown_safe_p90``) of the time to shown safe,
rounded up to whole intervals and the step's minimum sample, and the share of
harmless canaries still not shown safe at ``max_intervals_per_step``; a plan
*fits* on the quantile, never the median (issue #27). Checked against the judge
on simulated streams in tests/unit/test_canary_planning.py; it is a plan, not a
promise.
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
    minutes_to_shown_safe: float  # a harmless change, every judged count metric (inf: never): about the median
    minutes_to_rollback: dict[str, float]  # per count metric: a detect_ratio regression of that metric alone
    # QUANTILE of harmless canaries shown safe by then (inf: not within ten times the step's intervals)
    minutes_to_shown_safe_p90: float = math.inf
    share_not_shown_safe: float = 0.0  # of harmless canaries, still not shown safe after max_intervals_per_step
    fits: bool  # QUANTILE of harmless canaries shown safe within max_intervals_per_step


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
        p90 = sum(s.minutes_to_shown_safe_p90 for s in self.steps)
        head = (f"at {self.requests_per_second:g} requests/s a harmless change should be shown safe and promoted "
                f"in about {_minutes(self.total_minutes_to_promote)} ({int(QUANTILE * 100)}% within {_minutes(p90)})"
                f"; at {first.weight:g}% a regression at "
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


QUANTILE = 0.9


def _walk_ratio(share: float, rate: float, theta0: float, dispersion: float) -> tuple[float, float]:
    """Per canary request of a harmless canary: (mean, variance) of the tempered log likelihood ratio of the
    safety test's best alternative against ``theta0`` (Poisson variances of both arms' bad events)."""
    best = (-math.inf, 0.0)
    for m in SAFE_MULTIPLES:
        mean = drift_per_canary_request(share, rate, 1.0, theta0 * m, theta0)
        if mean > best[0]:
            p1, p0 = _p(theta0 * m, share), _p(theta0, share)
            a, b = math.log(p1 / p0), math.log((1 - p1) / (1 - p0))
            best = (mean, rate * a * a + rate * (1 - share) / share * b * b)
    return best[0] / dispersion, best[1] / dispersion


def _walk_negligible(rate: float, rate0: float, dispersion: float) -> tuple[float, float]:
    """The same for the negligible-rate test (the canary's own rate against ``rate0``)."""
    best = (-math.inf, 0.0)
    for m in SAFE_MULTIPLES:
        c = math.log1p(-rate0 * m) - math.log1p(-rate0)
        mean = rate * math.log(m) + (1 - rate) * c
        if mean > best[0]:
            best = (mean, rate * (1 - rate) * (math.log(m) - c) ** 2)
    return best[0] / dispersion, best[1] / dispersion


def _above(n: float, walk: tuple[float, float], level: float) -> float:
    """P(the walk is above ``level`` after ``n`` canary requests), normal approximation."""
    mean, var = walk
    if n <= 0 or not math.isfinite(mean):
        return 0.0
    z = (n * mean - level) / math.sqrt(max(n * var, 1e-300))
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


def share_shown_safe(plan: CanaryPlan, share: float, rates: dict[str, float], canary_requests: float,
                     dispersion: float = 1.0) -> float:
    """About how many harmless canaries have every count metric shown safe after ``canary_requests``."""
    ratio_level = math.log(1 / (plan.alpha * (1 - NEGLIGIBLE_SHARE))) + math.log(len(SAFE_MULTIPLES))
    rate_level = math.log(1 / (plan.alpha * NEGLIGIBLE_SHARE)) + math.log(len(SAFE_MULTIPLES))
    shown = 1.0
    for rate in rates.values():
        by_ratio = _above(canary_requests, _walk_ratio(share, rate, plan.detect_ratio, dispersion), ratio_level)
        by_rate = _above(canary_requests, _walk_negligible(rate, plan.negligible_rate, dispersion), rate_level)
        shown *= 1.0 - (1.0 - by_ratio) * (1.0 - by_rate)
    return shown


def requests_for_share(plan: CanaryPlan, share: float, rates: dict[str, float], dispersion: float,
                       target: float = QUANTILE) -> float:
    """Canary requests by which about ``target`` of harmless canaries are shown safe (inf: beyond 10^9)."""
    lo, hi = 0.0, 1.0
    while share_shown_safe(plan, share, rates, hi, dispersion) < target:
        lo, hi = hi, hi * 2
        if hi > 1e9:
            return math.inf
    for _ in range(60):
        mid = (lo + hi) / 2
        if share_shown_safe(plan, share, rates, mid, dispersion) >= target:
            hi = mid
        else:
            lo = mid
    return hi


def _whole_intervals(requests: float, per_minute: float, interval_min: float, at_least: int = 1) -> float:
    """Minutes to serve ``requests`` canary requests, rounded up to whole intervals."""
    if math.isinf(requests):
        return math.inf
    return max(at_least, math.ceil(requests / per_minute / interval_min)) * interval_min


def _plan_that_fits(plan: CanaryPlan, share: float, rates: dict[str, float], dispersion: float,
                    high_minutes: float, step_requests: float) -> str:
    """The plan changes that would let QUANTILE of harmless canaries be shown safe at this step: more
    intervals, or (for a metric rarer than the negligible rate) a larger negligible_rate."""
    options = []
    if math.isfinite(high_minutes):
        options.append(f"max_intervals_per_step: {math.ceil(high_minutes / (plan.look_seconds / 60.0))}")
    if any(r < plan.negligible_rate for r in rates.values()):
        for factor in (1.5, 2.0, 3.0, 5.0, 10.0):
            looser = plan.model_copy(update={"negligible_rate": min(plan.negligible_rate * factor, 0.99)})
            if share_shown_safe(looser, share, rates, step_requests, dispersion) >= QUANTILE:
                options.append(f"negligible_rate: {looser.negligible_rate:g}")
                break
    return f"; a plan that fits: {' or '.join(options)}" if options else ""


def estimate(plan: CanaryPlan, *, requests_per_second: float, baseline_rates: dict[str, float] | None = None,
             dispersion: float = 1.0) -> PlanEstimate:
    """Expected minutes per step; ``baseline_rates`` per count metric (default: the plan's baseline_bad_rate)."""
    if not (requests_per_second > 0 and math.isfinite(requests_per_second)):
        raise ValueError("requests_per_second must be a positive number")
    count_metrics, paired = judged_metrics(plan)
    rates = {m: (baseline_rates or {}).get(m, plan.baseline_bad_rate) for m in count_metrics}
    k = len(count_metrics) + len(paired)
    interval_min = plan.look_seconds / 60.0
    bake_looks = math.ceil(plan.bake_seconds / plan.look_seconds)  # a step serves at least bake_seconds
    settle = plan.metric_settle_seconds / 60.0
    steps: list[StepPlan] = []
    warnings: list[str] = []
    for weight in plan.steps:
        share = weight / 100.0
        per_minute = requests_per_second * 60 * share
        # The median and a high quantile of the time to shown safe, from the same normal model.
        safe_req = requests_for_share(plan, share, rates, dispersion, 0.5) if rates else 0.0
        harm_req = {m: canary_requests_to_cross(share, r, plan.detect_ratio, 1 + plan.rollback_tolerance,
                                                HARM_MULTIPLES, math.log(k / (plan.alpha * (1 - CATASTROPHE_SHARE))),
                                                dispersion)
                    for m, r in rates.items()}
        safe_req = max(safe_req, plan.min_canary_requests_per_step)

        safe_min = _whole_intervals(safe_req, per_minute, interval_min, bake_looks)
        harm_min = {m: _whole_intervals(req, per_minute, interval_min, MIN_HARM_INTERVALS)
                    for m, req in harm_req.items()}
        # Fits on a high quantile, not the median: QUANTILE of harmless canaries shown safe in time.
        high_req = max(requests_for_share(plan, share, rates, dispersion), plan.min_canary_requests_per_step)
        high_min = _whole_intervals(high_req, per_minute, interval_min, bake_looks)
        step_minutes = plan.max_intervals_per_step * interval_min
        undecided = (1.0 - share_shown_safe(plan, share, rates, per_minute * step_minutes, dispersion)
                     if rates else 0.0)
        fits = high_min <= step_minutes
        if not fits:
            warnings.append(f"at {weight:g}% the traffic is too low to show a harmless change safe within "
                            f"{plan.max_intervals_per_step} intervals: about {undecided:.0%} of harmless canaries "
                            f"would roll back as not shown safe ({int(QUANTILE * 100)}% are shown safe within "
                            f"{_minutes(high_min)}, half within {_minutes(safe_min)})"
                            + _plan_that_fits(plan, share, rates, dispersion, high_min, per_minute * step_minutes))
        # A decision reads what had settled metric_settle_seconds ago: it comes that much later.
        safe_min += settle
        high_min += settle
        harm_min = {m: t + settle for m, t in harm_min.items()}
        steps.append(StepPlan(weight=weight, canary_requests_per_minute=per_minute, minutes_to_shown_safe=safe_min,
                              minutes_to_rollback=harm_min, minutes_to_shown_safe_p90=high_min,
                              share_not_shown_safe=round(undecided, 4), fits=fits))
    total = sum(s.minutes_to_shown_safe for s in steps)
    if plan.max_duration_seconds is not None and total * 60 > plan.max_duration_seconds:
        warnings.append(f"promotion needs about {_minutes(total)}, more than max_duration_seconds "
                        f"({plan.max_duration_seconds} s)")
    if paired:
        warnings.append(f"{', '.join(paired)}: not planned here (their spread is learned from the stream)")
    return PlanEstimate(requests_per_second=requests_per_second, baseline_rates=rates, dispersion=dispersion,
                        steps=steps, total_minutes_to_promote=total, warnings=warnings, settle_minutes=settle)
