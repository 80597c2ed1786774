"""Confidence sequences for the mean of bounded scores, by betting (docs/STATISTICS.md).

For values in a known range [lo, hi] taken in an order that does not depend on
their size, ``K_t(m) = prod_i (1 + lam_i (x_i - m))`` is a nonnegative
supermartingale when the true mean is at most ``m`` and every ``lam_i`` is
fixed before ``x_i`` is seen (Waudby-Smith & Ramdas, "Estimating means of
bounded random variables by betting", JRSS-B 2024). By Ville's inequality the
chance that it *ever* reaches ``1/alpha`` is at most ``alpha``, so:

- the bound holds at every sample size, for every distribution on the range
  (binary, near the ceiling, all-equal, skewed): nothing is assumed about the
  shape, only the range and that cases are exchangeable;
- it may be read after every case, at planned looks, or after more cases are
  added, without losing its level: looks are free inside one sequence.

The bets are the "predictable plug-in" of that paper, tuned for the planned
number of cases, capped so a single case can lose at most ``CAP`` of the
capital (which is what keeps an all-equal sample from a zero-width interval).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache
from typing import Literal

import numpy as np

CAP = 0.9  # the largest share of capital one case may stake (0.75 lost power at small N, 0.99 gained little)
PRIOR_VARIANCE = 1 / 16  # on the unit scale, with the weight of one case: a guess for the first bets
BISECTION_STEPS = 40
Side = Literal["above", "below"]


def _unit(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return (np.asarray(values, dtype=float) - lo) / (hi - lo)


def plug_in_bets(x: np.ndarray, n_plan: int, alpha: float) -> np.ndarray:
    """Bet sizes before the cap, each from the cases before it only (unit scale; along the last axis,
    so a stack of orders is bet on at once)."""
    n = x.shape[-1]
    count = np.arange(1, n + 1, dtype=float)
    mean = (0.5 + np.cumsum(x, axis=-1)) / (count + 1)  # mean after case i, shrunk toward the middle
    prev_mean = np.concatenate([np.full((*x.shape[:-1], 1), 0.5), mean[..., :-1]], axis=-1)
    var = (PRIOR_VARIANCE + np.cumsum((x - prev_mean) ** 2, axis=-1)) / (count + 1)
    prev_var = np.concatenate([np.full((*x.shape[:-1], 1), PRIOR_VARIANCE), var[..., :-1]], axis=-1)
    return np.sqrt(2 * math.log(1 / alpha) / (max(n_plan, 1) * prev_var))


def max_log_capital(x: np.ndarray, m: float, bets: np.ndarray, side: Side) -> float:
    """The largest log capital reached, betting the mean is above (or below) ``m`` (unit scale)."""
    if side == "above":
        lam = np.minimum(bets, CAP / max(m, 1e-12))
        steps = np.log1p(lam * (x - m))
    else:
        lam = np.minimum(bets, CAP / max(1 - m, 1e-12))
        steps = np.log1p(lam * (m - x))
    if len(steps) == 0:
        return 0.0
    return float(max(0.0, np.cumsum(steps).max()))


def shown(values: np.ndarray, bound: float, side: Side, *, lo: float, hi: float, alpha: float,
          n_plan: int | None = None) -> bool:
    """True when the sequence shows the mean is above (or below) ``bound`` at level ``alpha``.

    ``values`` must be in the order the cases were drawn; ``n_plan`` is the number of cases
    the run was planned for (bets are tuned for it; any fixed value keeps the level).
    """
    x = _unit(values, lo, hi)
    m = (bound - lo) / (hi - lo)
    if len(x) == 0 or not 0.0 < m < 1.0:
        # A bound outside the range is never worth a bet: the caller validates margins and thresholds.
        return False
    bets = plug_in_bets(x, n_plan or len(x), alpha)
    return max_log_capital(x, m, bets, side) >= math.log(1 / alpha)


def bounds(values: np.ndarray, *, lo: float, hi: float, alpha: float, n_plan: int | None = None
           ) -> tuple[float, float]:
    """One-sided (1 - alpha) lower and upper confidence-sequence bounds on the mean, read now.

    Each is the nearest rejected null mean found by bisection between the sample mean and
    the range's edge (so it errs outward). With no values the bounds are the range itself.
    """
    x = _unit(values, lo, hi)
    if len(x) == 0:
        return lo, hi
    bets = plug_in_bets(x, n_plan or len(x), alpha)
    threshold = math.log(1 / alpha)
    return _bisected(float(x.mean()), lambda m, side: max_log_capital(x, m, bets, side) >= threshold,
                     BISECTION_STEPS, lo, hi)


def _bisected(mean: float, rejects: Callable[[float, Side], bool], steps: int, lo: float, hi: float
              ) -> tuple[float, float]:
    """The lower and upper bounds: on each side, the nearest null mean ``rejects`` (unit scale), by
    bisection between the sample mean and the range's edge (so it errs outward), mapped to [lo, hi]."""

    def edge(side: Side) -> float:
        inside, outside = mean, (0.0 if side == "above" else 1.0)
        for _ in range(steps):
            mid = (inside + outside) / 2
            if rejects(mid, side):
                outside = mid
            else:
                inside = mid
        return outside

    lower, upper = edge("above"), edge("below")
    return lo + lower * (hi - lo), lo + upper * (hi - lo)


# -- Score files: no order exists that the scores could not have chosen ------------------------------------
#
# A file from another tool carries no case content to order by, and any order made from the file (its
# lines, its case names, the scores sorted) is the author's or the scores' choice. So the score-file
# verdict does not depend on an order at all: it averages the *final* capital over ORDERS seeded
# permutations of the cases. For a fixed n each final capital is an e-value (expectation at most 1 under
# the null, in any order fixed independently of the scores), and an average of e-values is an e-value,
# so by Markov's inequality it reaches 1/alpha with chance at most alpha. The average over *every*
# order is a symmetric function of the cases; the ORDERS permutations stand in for it, the same ones
# for every file of that size, so renaming or reordering cases never changes a verdict.
ORDERS = 256
ORDER_SEED = 20261204
ORDER_WORK = 4_000_000  # cases x orders per evaluation: past 15,600 cases, fewer orders (each is long)
ANY_ORDER_BISECTION_STEPS = 24  # 2^-24 of the range: far below any margin


def order_count(n: int) -> int:
    return max(16, min(ORDERS, ORDER_WORK // max(n, 1)))


@lru_cache(maxsize=16)
def _orders(n: int) -> np.ndarray:
    rng = np.random.default_rng([ORDER_SEED, n])
    return np.stack([rng.permutation(n) for _ in range(order_count(n))])


class _AnyOrder:
    """The cases in every seeded order, with their bets (which do not depend on the null mean)."""

    def __init__(self, x: np.ndarray, n_plan: int, alpha: float) -> None:
        self.stacked = np.sort(x)[_orders(len(x))]
        self.bets = plug_in_bets(self.stacked, n_plan, alpha)

    def log_mean_final_capital(self, m: float, side: Side) -> float:
        if side == "above":
            steps = np.log1p(np.minimum(self.bets, CAP / max(m, 1e-12)) * (self.stacked - m))
        else:
            steps = np.log1p(np.minimum(self.bets, CAP / max(1 - m, 1e-12)) * (m - self.stacked))
        log_final = steps.sum(axis=-1)
        return float(np.logaddexp.reduce(log_final) - math.log(len(log_final)))


def shown_in_any_order(values: np.ndarray, bound: float, side: Side, *, lo: float, hi: float, alpha: float,
                       n_plan: int | None = None) -> bool:
    """``shown`` for cases that have no order: the capital averaged over ORDERS orders, read once."""
    x = _unit(values, lo, hi)
    m = (bound - lo) / (hi - lo)
    if len(x) == 0 or not 0.0 < m < 1.0:
        return False
    return _AnyOrder(x, n_plan or len(x), alpha).log_mean_final_capital(m, side) >= math.log(1 / alpha)


def bounds_in_any_order(values: np.ndarray, *, lo: float, hi: float, alpha: float, n_plan: int | None = None
                        ) -> tuple[float, float]:
    """``bounds`` for cases that have no order (one look, the capital averaged over ORDERS orders)."""
    x = _unit(values, lo, hi)
    if len(x) == 0:
        return lo, hi
    threshold = math.log(1 / alpha)
    orders = _AnyOrder(x, n_plan or len(x), alpha)
    return _bisected(float(x.mean()),
                     lambda m, side: 0.0 < m < 1.0 and orders.log_mean_final_capital(m, side) >= threshold,
                     ANY_ORDER_BISECTION_STEPS, lo, hi)
