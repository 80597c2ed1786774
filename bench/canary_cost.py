"""Canary cost benchmark: cost per request, our paired check vs a Kayenta-style judge vs a static alarm.

Streams as in canary_judge.py (one-minute intervals, Poisson requests split by
the canary share, a slow drift shared by both arms -- here the traffic mix,
which moves the cost of both arms). Tokens per request are lognormal with
sigma 1.0 (heavy-tailed: the mean is 1.6x the median); the canary's mean cost
per request is the baseline's times the effect, or the same mean with a
heavier tail (sigma 1.3). An interval's cost per request is drawn as the mean
of its requests by the Fenton-Wilkinson approximation (a lognormal with the
sum's exact mean and variance), so streams of 100 requests/s stay cheap.

The release allows +20% (``canary.max_cost_increase: 0.2``). Contenders, each
looking at every interval:
- ours: the product's ``cost_check`` on per-interval log ratios, at
  alpha / max_intervals (the canary's 60 looks, Bonferroni) -- rollback when
  the lower bound clears log(1.2). Runs with the same number of ratios are
  bounded together (the same seeded resamples ``cost_check`` uses).
- Kayenta-style: Mann-Whitney on per-interval cost per request at 98% with a
  0.25 effect tolerance.
- static alarm: canary cost per request over 1.2x the baseline's for 5
  minutes in a row.

    python bench/canary_cost.py [--runs 200] [--minutes 60] [--seed 1]
"""

from __future__ import annotations

import math
import time

import numpy as np
from canary_judge import MannWhitney, grid_parser, print_cells
from common import describe, wilson

from genai_cicd.canary.cost import MIN_INTERVALS
from genai_cicd.gates.noninferiority import bootstrap_t_bounds_many

ALLOWED = 0.2  # max_cost_increase
SIGMA = 1.0
EFFECTS = {"1x (no difference)": (1.0, SIGMA), "1.1x (within the allowance)": (1.1, SIGMA),
           "1.25x": (1.25, SIGMA), "1.5x": (1.5, SIGMA), "2x": (2.0, SIGMA),
           "heavier tail, same mean": (1.0, 1.3)}


def mean_cost(rng: np.random.Generator, n: np.ndarray, mean: np.ndarray, sigma: float) -> np.ndarray:
    """Cost per request of intervals with n requests (NaN where n = 0), Fenton-Wilkinson."""
    safe = np.maximum(n, 1)
    s2 = np.log1p(np.expm1(sigma**2) / safe)
    draw = np.exp(np.log(mean) - s2 / 2 + np.sqrt(s2) * rng.standard_normal(n.shape))
    return np.where(n > 0, draw, np.nan)


def streams(rng: np.random.Generator, runs: int, minutes: int, rps: float, share: float, ratio: float,
            sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """Baseline and canary cost per request, runs x minutes."""
    phase = rng.uniform(0, 2 * math.pi, size=(runs, 1))
    drift = 1 + 0.3 * np.sin(phase + 2 * math.pi * np.arange(minutes) / 240)
    n = rng.poisson(rps * 60, size=(runs, minutes))
    n_c = rng.binomial(n, share)
    return mean_cost(rng, n - n_c, drift, SIGMA), mean_cost(rng, n_c, drift * ratio, sigma)


def ours(base: np.ndarray, cand: np.ndarray, alpha: float) -> np.ndarray:
    """Minute of the first rollback per run (0 = never), as cost_check decides at every interval."""
    runs, minutes = base.shape
    limit = math.log1p(ALLOWED)
    log_ratio = np.log(cand / base)  # NaN where an arm had no requests: cost_check skips the interval
    rolled = np.zeros(runs, dtype=int)
    for m in range(minutes):
        seen = np.isfinite(log_ratio[:, : m + 1])
        have = seen.sum(axis=1)
        # The lower bound lies below the mean (its bootstrap-t quantile is positive), so a run whose mean
        # log ratio is at most the limit cannot roll back this interval: only the others are bounded.
        mean = np.nansum(np.where(seen, log_ratio[:, : m + 1], 0.0), axis=1) / np.maximum(have, 1)
        by_length: dict[int, list[int]] = {}
        for r in np.flatnonzero((rolled == 0) & seen[:, m] & (have >= MIN_INTERVALS) & (mean > limit)):
            by_length.setdefault(int(have[r]), []).append(int(r))
        for length, rows in by_length.items():
            columns = np.column_stack([log_ratio[r, : m + 1][seen[r]] for r in rows])
            lower, _ = bootstrap_t_bounds_many(columns, alpha / minutes, seed=length)  # cost_check's seed
            if np.any(lower > columns.mean(axis=0) + 1e-12):
                raise SystemExit("premise of the shortcut failed: a lower bound above its mean")
            for r, lb in zip(rows, lower, strict=True):
                if lb > limit:
                    rolled[r] = m + 1
    return rolled


def kayenta(base: np.ndarray, cand: np.ndarray) -> np.ndarray:
    rolled = np.zeros(base.shape[0], dtype=int)
    for r in range(base.shape[0]):
        test = MannWhitney()
        for m, (b, c) in enumerate(zip(base[r], cand[r], strict=True)):
            if not (np.isfinite(b) and np.isfinite(c)):
                continue
            test.add_x(float(c))
            test.add_y(float(b))
            if len(test.x) >= 3 and test.p_greater() < 0.02 and sum(test.x) / sum(test.y) > 1.25:
                rolled[r] = m + 1
                break
    return rolled


def static_alarm(base: np.ndarray, cand: np.ndarray) -> np.ndarray:
    rolled = np.zeros(base.shape[0], dtype=int)
    for r in range(base.shape[0]):
        breaching = 0
        for m, (b, c) in enumerate(zip(base[r], cand[r], strict=True)):
            breaching = breaching + 1 if np.isfinite(b) and np.isfinite(c) and c > (1 + ALLOWED) * b else 0
            if breaching >= 5:
                rolled[r] = m + 1
                break
    return rolled


def summarise(rolled: np.ndarray) -> str:
    k = int((rolled > 0).sum())
    lo, hi = wilson(k, len(rolled))
    times = rolled[rolled > 0]
    if not len(times):
        return f"{k / len(rolled):.1%} [{lo:.1%}, {hi:.1%}] | - | -"
    return (f"{k / len(rolled):.1%} [{lo:.1%}, {hi:.1%}] | {float(np.median(times)):.0f} | "
            f"{float(np.percentile(times, 90)):.0f}")


def cell_table(job: tuple[float, ...]) -> str:
    share, rps, runs, minutes, seed, alpha = job[0], job[1], int(job[2]), int(job[3]), int(job[4]), job[5]
    lines = [f"\n## canary share {share:.0%}, {rps:g} requests/s\n",
             "| cost change | contender | rollback rate [95% CI] | median min | p90 min |", "|---|---|---|---|---|"]
    for e, (effect, (ratio, sigma)) in enumerate(EFFECTS.items()):
        # The same seeded streams for every contender (paired).
        base, cand = streams(np.random.default_rng([seed, int(share * 1000), int(rps), e]), runs, minutes, rps,
                             share, ratio, sigma)
        contenders = ((f"ours (alpha {alpha:g})", ours(base, cand, alpha)), ("Kayenta-style MW", kayenta(base, cand)),
                      ("static 1.2x alarm", static_alarm(base, cand)))
        for name, rolled in contenders:
            lines.append(f"| {effect} | {name} | {summarise(rolled)} |")
    return "\n".join(lines)


def main() -> None:
    parser = grid_parser()
    parser.add_argument("--alpha", type=float, default=0.05)
    args = parser.parse_args()
    started = time.perf_counter()
    print(f"# Canary cost: {args.runs} streams per cell, {args.minutes} one-minute intervals, looked at every "
          f"interval; tokens per request lognormal (sigma {SIGMA}), allowed increase +{ALLOWED:.0%}\n")
    print(describe())
    print_cells(cell_table, args, args.alpha)
    print(f"\n(took {time.perf_counter() - started:.0f} s with {args.workers} workers)")


if __name__ == "__main__":
    main()
