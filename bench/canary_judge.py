"""Canary judge benchmark: our sequential judge vs a Kayenta-style judge vs a static alarm.

Every contender looks at every interval (one minute) of the same simulated
streams. A stream is a canary of `minutes` intervals; requests per interval
are Poisson(rps * 60), split by the canary share; bad events (errors, or slow
requests over a latency bound) are binomial with a rate that drifts slowly,
shared by both arms, and is multiplied by the effect on the canary arm.

    python bench/canary_judge.py [--runs 200] [--minutes 60] [--seed 1]

Prints Markdown tables (docs/BENCHMARKS.md holds a run).
"""

from __future__ import annotations

import argparse
import math
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
from common import describe, wilson
from scipy.stats import mannwhitneyu

from genai_cicd.canary.judge import JudgeConfig, JudgeState, judge_interval

BASE_RATE = 0.01


def lognormal_sf(bound: float, median: float, sigma: float) -> float:
    return 0.5 * math.erfc((math.log(bound) - math.log(median)) / (sigma * math.sqrt(2)))


# Latency scenarios, reduced to the share of requests slower than the bound (the baseline's p99).
BOUND = math.exp(math.log(200) + 2.326 * 0.5)  # baseline: median 200 ms, sigma 0.5 -> p99 bound
EFFECTS: dict[str, float] = {
    "1x (no difference)": 1.0, "1.1x errors": 1.1, "1.25x errors": 1.25, "1.5x errors": 1.5, "2x errors": 2.0,
    "5x errors": 5.0,
    "latency median +30%": lognormal_sf(BOUND, 260, 0.5) / 0.01,
    "latency tail only": (0.99 * lognormal_sf(BOUND, 200, 0.5) + 0.01 * 1.0) / 0.01 * 1.0,
    "latency variance only": lognormal_sf(BOUND, 200, 0.65) / 0.01,
}


@dataclass
class Outcome:
    rolled_back: bool
    minute: int | None
    canary_requests: float
    bad_served: float


def stream(rng: np.random.Generator, rps: float, share: float, ratio: float, minutes: int):  # type: ignore[no-untyped-def]
    phase = rng.uniform(0, 2 * math.pi)
    for m in range(minutes):
        drift = 1 + 0.3 * math.sin(phase + 2 * math.pi * m / 240)  # slow drift shared by both arms
        n = rng.poisson(rps * 60)
        n_c = rng.binomial(n, share)
        n_b = n - n_c
        yield (n_b, rng.binomial(n_b, min(1.0, BASE_RATE * drift)), n_c,
               rng.binomial(n_c, min(1.0, BASE_RATE * drift * ratio)))


def ours(alpha: float) -> Callable[[], Callable[[int, int, int, int], bool]]:
    def make() -> Callable[[int, int, int, int], bool]:
        config = JudgeConfig(metrics=["errors"], critical_metrics=["errors"], alpha=alpha,
                             min_canary_requests=1e18, max_intervals=10**9)
        state = [JudgeState()]

        def look(n_b: int, x_b: int, n_c: int, x_c: int) -> bool:
            state[0], d = judge_interval(state[0], {"requests": n_b, "errors": x_b},
                                         {"requests": n_c, "errors": x_c}, config)
            return d.decision == "rollback"
        return look
    return make


def mann_whitney_greater(x: list[float], y: list[float]) -> float:
    """One-sided Mann-Whitney p-value, as scipy's default: exact for small tie-free samples, else the
    normal approximation with tie correction and continuity correction (numpy, ~50x faster than a call)."""
    n1, n2 = len(x), len(y)
    values = np.asarray(x + y)
    if min(n1, n2) < 8 and len(set(values.tolist())) == n1 + n2:
        return float(mannwhitneyu(x, y, alternative="greater").pvalue)
    order = values.argsort(kind="mergesort")
    ranks = np.empty(n1 + n2)
    sorted_values = values[order]
    _, first, counts = np.unique(sorted_values, return_index=True, return_counts=True)
    average = first + (counts + 1) / 2.0  # 1-based average rank of each tied group
    ranks[order] = np.repeat(average, counts)
    u = ranks[:n1].sum() - n1 * (n1 + 1) / 2.0
    n = n1 + n2
    tie = float((counts**3 - counts).sum())
    sd = math.sqrt(n1 * n2 / 12.0 * ((n + 1) - tie / (n * (n - 1))))
    if sd == 0:
        return 1.0
    z = (u - n1 * n2 / 2.0 - 0.5) / sd
    return 0.5 * math.erfc(z / math.sqrt(2))


def kayenta() -> Callable[[int, int, int, int], bool]:
    """Mann-Whitney on per-interval rates at 98% with a 0.25 effect tolerance, decided every interval."""
    rates_b: list[float] = []
    rates_c: list[float] = []

    def look(n_b: int, x_b: int, n_c: int, x_c: int) -> bool:
        if n_b == 0 or n_c == 0:
            return False
        rates_b.append(x_b / n_b)
        rates_c.append(x_c / n_c)
        if len(rates_c) < 3 or max(rates_b + rates_c) == min(rates_b + rates_c):
            return False
        p = mann_whitney_greater(rates_c, rates_b)
        mean_b = float(np.mean(rates_b))
        ratio = float(np.mean(rates_c)) / mean_b if mean_b > 0 else math.inf
        return bool(p < 0.02 and ratio > 1.25)
    return look


def static_alarm() -> Callable[[int, int, int, int], bool]:
    """CodeDeploy/CloudWatch style: canary error rate over 2x the baseline's for 5 minutes in a row."""
    breaching = [0]

    def look(n_b: int, x_b: int, n_c: int, x_c: int) -> bool:
        if n_c == 0 or n_b == 0:
            breaching[0] = 0
            return False
        breaching[0] = breaching[0] + 1 if x_c / n_c > 2 * x_b / n_b else 0
        return breaching[0] >= 5
    return look


CONTENDERS: dict[str, Callable[[], Callable[[int, int, int, int], bool]]] = {
    "ours (alpha 0.05)": ours(0.05), "ours (alpha 0.01)": ours(0.01), "Kayenta-style MW": kayenta,
    "static 2x alarm": static_alarm,
}


def run(runs: int, minutes: int, rps: float, share: float, ratio: float, seed: int,
        make: Callable[[], Callable[[int, int, int, int], bool]]) -> list[Outcome]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(runs):
        look = make()
        served = bad = 0.0
        result = Outcome(False, None, 0, 0)
        for minute, (n_b, x_b, n_c, x_c) in enumerate(stream(rng, rps, share, ratio, minutes), start=1):
            served += n_c
            bad += x_c
            if look(n_b, x_b, n_c, x_c):
                result = Outcome(True, minute, served, bad)
                break
        if not result.rolled_back:
            result = Outcome(False, None, served, bad)
        out.append(result)
    return out



def summarise(outcomes: list[Outcome]) -> str:
    k = sum(o.rolled_back for o in outcomes)
    lo, hi = wilson(k, len(outcomes))
    times = sorted(o.minute for o in outcomes if o.minute is not None)
    if not times:
        return f"{k / len(outcomes):.1%} [{lo:.1%}, {hi:.1%}] | - | - | - | -"
    med = float(np.median(times))
    p90 = float(np.percentile(times, 90))
    detected = [o for o in outcomes if o.rolled_back]
    req = float(np.median([o.canary_requests for o in detected]))
    bad = float(np.median([o.bad_served for o in detected]))
    return f"{k / len(outcomes):.1%} [{lo:.1%}, {hi:.1%}] | {med:.0f} | {p90:.0f} | {req:,.0f} | {bad:,.0f}"


def missing_data_promotions(runs: int, seed: int) -> int:
    """Streams where the canary's metric never arrives: the judge must never promote."""
    rng = np.random.default_rng(seed)
    promoted = 0
    for _ in range(runs):
        config = JudgeConfig(metrics=["errors"], critical_metrics=["errors"], min_canary_requests=100,
                             max_intervals=30)
        state = JudgeState()
        for _ in range(30):
            state, d = judge_interval(state, {"requests": int(rng.poisson(1200)), "errors": 12},
                                      {"requests": int(rng.poisson(60)), "errors": None}, config)
            promoted += d.decision == "promote"
    return promoted


def cell_table(job: tuple[float, float, int, int, int]) -> str:
    share, rps, runs, minutes, seed = job
    lines = [f"\n## canary share {share:.0%}, {rps:g} requests/s\n",
             "| effect | contender | rollback rate [95% CI] | median min | p90 min | canary requests "
             "to detect (median) | bad requests served (median) |", "|---|---|---|---|---|---|---|"]
    for effect, ratio in EFFECTS.items():
        for name, make in CONTENDERS.items():
            outcomes = run(runs, minutes, rps, share, ratio, seed, make)
            lines.append(f"| {effect} | {name} | {summarise(outcomes)} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--minutes", type=int, default=60)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--shares", default="0.01,0.05,0.1")
    parser.add_argument("--rps", default="1,20,100")
    parser.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1))
    args = parser.parse_args()
    started = time.perf_counter()
    print(f"# Canary judge: {args.runs} streams per cell, {args.minutes} one-minute intervals, looked at every "
          f"interval; baseline bad rate {BASE_RATE:.0%} with a slow drift shared by both arms\n")
    print(describe())
    jobs = [(float(share), float(rps), args.runs, args.minutes, args.seed)
            for share in args.shares.split(",") for rps in args.rps.split(",")]
    with ProcessPoolExecutor(max_workers=args.workers) as pool:  # cells are independent and seeded
        for table in pool.map(cell_table, jobs):
            print(table)
    print(f"\nStreams with the canary metric missing: {missing_data_promotions(args.runs, args.seed)} promotions "
          f"in {args.runs} streams.")
    print(f"\n(took {time.perf_counter() - started:.0f} s with {args.workers} workers)")


if __name__ == "__main__":
    main()
