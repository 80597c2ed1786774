"""Time to shown safe on independent traffic against the sequential-test bound (issue #27).

The plan and streams of bench/canary_judge.py: one step at 5% of 20 requests/s, a look a minute,
errors at 1% and slow requests at 2% on the baseline, a harmless canary (ratio 1). The bound is
Wald's approximation of the expected duration of a sequential probability ratio test that knows
everything but the answer: per look, the conditional binomial of "ratio 1" against "ratio
detect_ratio" gains KL(p(1) || p(detect_ratio)) nats for each bad event of either arm, and it
stops at log(1 / (0.8 alpha)), the safety bound of docs/STATISTICS.md; a promotion needs every
metric, so the bound is the slowest metric's. Overshoot is ignored, so the bound is a little low.

Two judges on the same seeded streams, each with the share promoted, the median and 90th percentile
minute of promotion, and the ratio of the median to the bound:
- ours: ``canary.decision.judge`` as AnalyzeCanary calls it;
- ours, dispersion known: the same with the dispersion factor fixed at 1 (an oracle that knows the
  requests are independent, not a product option): what the dispersion estimate costs.

    python bench/time_to_safe.py [--runs 200] [--seed 1] [--workers 2]
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager

import numpy as np
from canary_judge import MINUTES, PLAN, RATES, SHARE
from canary_streams import intervals, stream
from common import describe

from genai_cicd.canary import sequential
from genai_cicd.canary.decision import NEGLIGIBLE_SHARE, CanaryEvidence, judge

RPS = 20.0


def wald_minutes(rate: float) -> float:
    """Expected minutes for the ideal sequential test to show a harmless metric under detect_ratio."""
    w = SHARE / (1 - SHARE)
    p1, p2 = w / (w + 1), PLAN.detect_ratio * w / (PLAN.detect_ratio * w + 1)
    kl = p1 * math.log(p1 / p2) + (1 - p1) * math.log((1 - p1) / (1 - p2))
    events_per_minute = RPS * 60 * rate
    return math.log(1 / (PLAN.alpha * (1 - NEGLIGIBLE_SHARE))) / (kl * events_per_minute)


@contextmanager
def dispersion_known() -> Iterator[None]:
    """The judge with the dispersion factor fixed at 1, restored afterwards (workers are reused)."""
    factor, arms = sequential.Dispersion.factor, sequential.Dispersion.arms
    sequential.Dispersion.factor = lambda self: 1.0  # type: ignore[method-assign]
    sequential.Dispersion.arms = lambda self: (1.0, 1.0)  # type: ignore[method-assign]
    try:
        yield
    finally:
        sequential.Dispersion.factor, sequential.Dispersion.arms = factor, arms  # type: ignore[method-assign]


def promoted_at(data: list[tuple[dict[str, float | None], dict[str, float | None]]]) -> int | None:
    evidence = CanaryEvidence()
    for minute, (baseline, canary) in enumerate(data, start=1):
        evidence, verdict = judge(PLAN, evidence, baseline, canary, step_index=0, explain=False)
        if verdict.action != "continue":
            return minute if verdict.action == "promote" else None
    return None


def job(args: tuple[str, int, int]) -> list[int | None]:
    judge_name, runs, seed = args
    rng = np.random.default_rng([seed, 27])
    streams = [intervals(stream("independent", rng, minutes=MINUTES, rps=RPS, share=SHARE,
                                rates={m: (r, 1.0) for m, r in RATES.items()})) for _ in range(runs)]
    if judge_name == "ours":
        return [promoted_at(s) for s in streams]
    with dispersion_known():
        return [promoted_at(s) for s in streams]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    args = parser.parse_args()
    started = time.perf_counter()
    bounds = {m: wald_minutes(r) for m, r in RATES.items()}
    bound = max(bounds.values())
    print(f"# Time to shown safe vs the sequential bound: {args.runs} harmless independent streams, one step at "
          f"{SHARE:.0%} of {RPS:.0f} requests/s, a look a minute\n")
    print(describe())
    print("\nWald's bound per metric: " + ", ".join(f"{m} {b:.1f} min" for m, b in bounds.items())
          + f"; the promotion needs both: **{bound:.1f} min**.\n")
    print("| judge | promoted | median min | p90 min | median / bound |\n|---|---|---|---|---|")
    names = ("ours", "ours, dispersion known (oracle)")
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        for name, minutes in zip(names, pool.map(job, [(n, args.runs, args.seed) for n in names]), strict=True):
            done = sorted(m for m in minutes if m is not None)
            median = statistics.median(done) if done else math.nan
            p90 = float(np.percentile(done, 90)) if done else math.nan
            print(f"| {name} | {len(done) / len(minutes):.1%} | {median:.1f} | {p90:.0f} | {median / bound:.2f}x |")
    print(f"\n(took {time.perf_counter() - started:.0f} s with {args.workers} workers)")


if __name__ == "__main__":
    main()
