"""Plan the canary sample from the smallest regression the user wants to catch.

For a bad-event rate r on the baseline and a canary whose rate is R times
higher, each canary request adds to the judge's log likelihood ratio (for
the grid value theta closest to R) an expected

    D = r R log(p_theta / p0) + r (1 - s) / s * log((1 - p_theta) / (1 - p0)),

with s the canary share, p0 = s and p_theta = theta s / (theta s + 1 - s)
(each canary request comes with (1 - s)/s baseline requests). The mixture
crosses its bound k/alpha once that sum reaches log(k/alpha) plus the log of
the grid size, so n = (log(k/alpha) + log |grid|) / D canary requests is
about the sample at which such a regression is caught half of the time —
and the least a step should see before it may be promoted.
"""

from __future__ import annotations

import math

from genai_cicd.canary.judge import THETAS


def drift_per_canary_request(share: float, baseline_rate: float, ratio: float, theta: float) -> float:
    p0 = share
    p = theta * share / (theta * share + 1 - share)
    return (baseline_rate * ratio * math.log(p / p0)
            + baseline_rate * (1 - share) / share * math.log((1 - p) / (1 - p0)))


def planned_canary_requests(*, share: float, baseline_rate: float, detect_ratio: float, alpha: float,
                            metrics: int) -> int:
    if not (0 < share < 1 and 0 < baseline_rate < 1 and detect_ratio > 1 and 0 < alpha < 1 and metrics >= 1):
        raise ValueError("share, baseline_rate and alpha must be in (0, 1), detect_ratio > 1, metrics >= 1")
    best = max(drift_per_canary_request(share, baseline_rate, detect_ratio, t) for t in THETAS)
    if best <= 0:
        raise ValueError("this regression cannot be detected with the judge's grid")
    return math.ceil((math.log(metrics / alpha) + math.log(len(THETAS))) / best)
