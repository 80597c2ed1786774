"""Cost per request, canary vs baseline, paired by interval.

Per interval with data for both arms, d = log(canary cost per request /
baseline cost per request): drift shared by both arms (traffic mix, time of
day) cancels in the pair. A bootstrap-t interval of mean(d) at
alpha / max_intervals (Bonferroni over the looks of a step, so checking every
interval stays valid) decides: "over" when its lower bound is above
log(1 + max_increase), "within" when its upper bound is below it, "unknown"
otherwise -- and unknown never promotes.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np

from genai_cicd.gates.noninferiority import bootstrap_t_bounds

MIN_INTERVALS = 3


def interval_log_ratio(baseline: dict[str, float | None], canary: dict[str, float | None]) -> float | None:
    nb, nc = baseline.get("requests"), canary.get("requests")
    cb, cc = baseline.get("cost_usd"), canary.get("cost_usd")
    if not nb or not nc or not cb or not cc or cb <= 0 or cc <= 0:
        return None
    return math.log((cc / nc) / (cb / nb))


def cost_check(log_ratios: list[float], alpha: float,
               max_increase: float) -> tuple[Literal["over", "within", "unknown"], float, float]:
    if len(log_ratios) < MIN_INTERVALS:
        return "unknown", -math.inf, math.inf
    lower, upper = bootstrap_t_bounds(np.array(log_ratios), alpha, seed=len(log_ratios))
    limit = math.log1p(max_increase)
    if lower > limit:
        return "over", lower, upper
    if upper < limit:
        return "within", lower, upper
    return "unknown", lower, upper
