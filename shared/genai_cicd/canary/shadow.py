"""Shadow evaluation's decision: an anytime-valid confidence sequence on the paired difference.

Each pair is one live request answered by both variants; its difference ``d = candidate - baseline`` of
two scores in [0, 1] lies in [-1, 1]. The prompt's own difficulty is in both scores and cancels in
``d``, which is why a pair carries much more information than two unrelated answers (docs/STATISTICS.md,
"Shadow evaluation"; BENCHMARKS.md §7).

The differences, mapped to ``u = (d + 1) / 2`` in [0, 1], are folded into the same running sums and
e-processes as an arm's mean score in the canary (``sequential.log_e_mean``: a Chernoff and an
empirical-Bernstein family, both valid for any distribution on the range). The bounds hold at every
look, however many, each side at level alpha, when every pair's expected difference given the pairs
before it is the same (pairs are requests drawn from the live traffic, judged in the order they
arrived: no order chosen by anyone, no order depending on a score). Sticky users and sessions do not
matter here: each pair compares the two variants on one request.

- shown worse: the upper bound is below -margin -> blocked, before any user is on the candidate;
- shown non-inferior: the lower bound is above -margin, after ``min_pairs``, on a look with no pair
  left unscored -> the canary starts;
- neither when a cap (pairs, cost, looks, judge calls) is reached -> blocked, "not shown safe",
  with an estimate of the pairs that would have sufficed at the difference and spread seen.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from genai_cicd.canary.sequential import ScoreSums, mean_bounds

MAX_PAIRS_ESTIMATE = 10_000_000


def shadow_share(sample_share: float, max_requests_per_second: float, requests_per_second: float | None) -> float:
    """The share of live requests to shadow: the plan's, lowered so the traffic seen sends at most
    ``max_requests_per_second`` shadow requests (with no traffic seen, the plan's share)."""
    if requests_per_second and requests_per_second * sample_share > max_requests_per_second:
        return max_requests_per_second / requests_per_second
    return sample_share


def to_unit(difference: float) -> float:
    return (difference + 1.0) / 2.0


def difference_bounds(sums: ScoreSums, alpha: float) -> tuple[float, float]:
    """One-sided (1 - alpha) anytime-valid (lower, upper) bounds of the mean paired difference."""
    lower, upper = mean_bounds(sums, alpha)
    return 2.0 * lower - 1.0, 2.0 * upper - 1.0


def estimate(sums: ScoreSums) -> float | None:
    return 2.0 * sums.mean() - 1.0 if sums.n > 0 else None


def pairs_needed(sums: ScoreSums, margin: float, alpha: float) -> int | None:
    """Pairs at which the lower bound would clear -margin if the mean and spread stayed as seen so far.

    None when that can never happen (the difference seen is at or below -margin) or too few pairs were
    judged to say anything about the spread."""
    if sums.n < 2 or not sums.eb:
        return None
    mean_u = sums.total / sums.n
    if 2.0 * mean_u - 1.0 <= -margin:
        return None
    spread = sums.v / sums.n

    def clears(n: float) -> bool:
        scaled = ScoreSums(n=n, total=mean_u * n, v=spread * n)
        return difference_bounds(scaled, alpha)[0] > -margin

    hi = max(2.0, float(sums.n))
    while not clears(hi):
        hi *= 2
        if hi > MAX_PAIRS_ESTIMATE:
            return None
    lo = hi / 2 if hi > 2 else 1.0
    while hi - lo > 1:
        mid = math.floor((lo + hi) / 2)
        if clears(mid):
            hi = mid
        else:
            lo = mid
    return int(hi)


@dataclass(frozen=True)
class ShadowVerdict:
    action: str  # continue | canary | block
    outcome: str  # shadowing | worse | non_inferior | not_shown_safe
    lower: float | None
    upper: float | None
    estimate: float | None
    reasons: list[str]


def _signed(x: float) -> str:
    return f"{x:+.3f}"


def decide(sums: ScoreSums, *, margin: float, alpha: float, min_pairs: int, unscored_now: int,
           exhausted: str | None) -> ShadowVerdict:
    """The verdict of one look (the module docstring). ``exhausted``: the cap reached, if any."""
    est = estimate(sums)
    if sums.n <= 0:
        reasons = ["shadow: no pair judged yet"]
        if exhausted:
            return ShadowVerdict("block", "not_shown_safe", None, None, None,
                                 [f"not shown non-inferior in shadow: {exhausted}, with no pair judged"])
        return ShadowVerdict("continue", "shadowing", None, None, None, reasons)
    lower, upper = difference_bounds(sums, alpha)
    seen = (f"{sums.n:,.0f} pairs: candidate - baseline {_signed(est or 0.0)} (could be {_signed(lower)} to "
            f"{_signed(upper)}); worse is shown when that whole range is below {_signed(-margin)}, "
            f"non-inferiority when it is all above it")
    if upper < -margin:
        return ShadowVerdict("block", "worse", lower, upper, est, [f"shown worse in shadow: {seen}"])
    if lower > -margin and sums.n >= min_pairs and unscored_now == 0:
        return ShadowVerdict("canary", "non_inferior", lower, upper, est, [f"shown non-inferior in shadow: {seen}"])
    if exhausted:
        needed = pairs_needed(sums, margin, alpha)
        hint = (f"; at the difference and spread seen, about {needed:,} pairs would show it non-inferior"
                if needed is not None else "; more pairs would not show it non-inferior at the difference seen")
        return ShadowVerdict("block", "not_shown_safe", lower, upper, est,
                             [f"not shown non-inferior in shadow: {exhausted}. {seen}{hint}"])
    waiting = []
    if sums.n < min_pairs:
        waiting.append(f"at least {min_pairs} pairs are needed")
    if unscored_now:
        waiting.append(f"{unscored_now} pairs of this look were left unscored")
    return ShadowVerdict("continue", "shadowing", lower, upper, est,
                         [f"shadow: {seen}" + (f" ({'; '.join(waiting)})" if waiting else "")])
