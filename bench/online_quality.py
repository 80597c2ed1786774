"""Online quality and probe traffic: what the canary judge decides, how fast, and what it costs.

Both parts drive the production decision (``genai_cicd.canary.decision.judge_streams``,
the function AnalyzeCanary calls) with simulated intervals; nothing here is tuned to it.

Part 1, a drop in the mean quality of live answers. 100 requests/s, steps 5% then 25%,
300 s intervals, up to 24 per step (2 h), errors 1% in both arms (no effect), ``quality_margin``
0.02 (so a drop of 5 or 10 points is harm to be shown, not a tie at the margin),
quality critical. Answers are scored by a judge in [0, 1]: a good answer
Beta(8, 2) (mean 0.8), a bad one Beta(1, 4) (mean 0.2); the candidate gives a bad
answer instead of a good one often enough to lower the mean by the drop. The app
captures ``sample_share`` of the canary's answers and about as many of the
baseline's; each captured answer costs one judge call until the budget is spent, after
which answers are unscored and no interval promotes. Each interval brings the count,
sum and sum of squares of its scores (as AnalyzeCanary does). Dollars: $0.0003 per judge call
(800 input and 80 output tokens at $0.25 and $1.25 per million, a small judge model).

Part 2, time to a verdict at low traffic, a harmless change (errors 1%, slow requests
2% in both arms), the same plan with ``max_duration_seconds`` 2 h, with and without
probes: pairs at ``requests_per_second`` through the app, judged as their own stream
at alpha/2 beside user traffic at alpha/2. Dollars: $0.002 per probe request (one
model call of about 1,500 input and 100 output tokens at $1 and $5 per million).

    python bench/online_quality.py [--runs 200] [--seed 1]
"""

from __future__ import annotations

import argparse
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np
from common import describe, wilson

from genai_cicd.canary.decision import CanaryEvidence, judge_streams
from genai_cicd.models.manifest import CanaryPlan

RPS = 100.0
BAKE = 300
JUDGE_USD = 0.0003
PROBE_USD = 0.002
QUALITY_PLAN = CanaryPlan(steps=[5, 25], bake_seconds=BAKE, max_intervals_per_step=24, metrics=["errors"],
                          critical_metrics=["errors", "quality"], quality_margin=0.02, negligible_rate=0.002)
PROBE_PLAN = CanaryPlan(steps=[5, 25], bake_seconds=BAKE, max_intervals_per_step=12,
                        metrics=["errors", "slow_requests"], max_duration_seconds=7200)
RATES = {"errors": 0.01, "slow_requests": 0.02}
DROPS = (0.0, 0.05, 0.10)
SHARES = (0.05, 0.20, 1.0)
BUDGETS = (2_000, 10_000, 50_000)


def scores(rng: np.random.Generator, n: int, drop: float) -> np.ndarray:
    bad = rng.random(n) < drop / 0.6
    return np.where(bad, rng.beta(1, 4, n), rng.beta(8, 2, n))


def quality_run(seed: int, drop: float, share: float, budget: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    plan = QUALITY_PLAN
    evidence, step, calls, interval = CanaryEvidence(), 0, 0, 0
    while True:
        weight = plan.steps[step] / 100
        n_c = rng.poisson(RPS * BAKE * weight)
        n_b = rng.poisson(RPS * BAKE * (1 - weight))
        arms: dict[str, dict[str, float | None]] = {}
        for arm, n, arm_drop, arm_share in (("canary", n_c, drop, share),
                                            ("baseline", n_b, 0.0, share * min(1.0, weight / (1 - weight)))):
            captured = int(rng.binomial(n, arm_share))
            judged = min(captured, max(budget - calls, 0))
            calls += judged
            x = scores(rng, judged, arm_drop)
            arms[arm] = {"requests": float(n), "errors": float(rng.binomial(n, RATES["errors"])),
                         "quality_count": float(judged), "quality_sum": float(x.sum()),
                         "quality_sum_squares": float((x * x).sum()), "quality_unscored": float(captured - judged)}
        interval += 1
        evidence, _, verdict, _ = judge_streams(plan, evidence, arms["baseline"], arms["canary"], step_index=step,
                                                elapsed_seconds=interval * BAKE, budget_spent=calls >= budget,
                                                explain=False)
        if verdict.action in ("promote", "rollback"):
            return {"outcome": "promoted" if verdict.action == "promote" else verdict.outcome,
                    "metric": verdict.metric, "minutes": interval * BAKE / 60, "calls": calls}
        if verdict.action == "next_step":
            step += 1
            evidence = evidence.new_step()


def counts(rng: np.random.Generator, n: int) -> dict[str, float | None]:
    return {"requests": float(n), **{m: float(rng.binomial(n, r)) for m, r in RATES.items()}}


def probe_run(seed: int, rps: float, probe_rps: float) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    plan = PROBE_PLAN
    user, probe, step, interval, sent = CanaryEvidence(), CanaryEvidence(), 0, 0, 0
    while True:
        weight = plan.steps[step] / 100
        n_c, n_b = rng.poisson(rps * BAKE * weight), rng.poisson(rps * BAKE * (1 - weight))
        pairs = int(probe_rps * BAKE)
        sent += 2 * pairs
        interval += 1
        user, probe_ev, verdict, stream = judge_streams(
            plan, user, counts(rng, n_b), counts(rng, n_c), probe=probe if probe_rps else None,
            probe_baseline=counts(rng, pairs) if probe_rps else None,
            probe_canary=counts(rng, pairs) if probe_rps else None,
            step_index=step, elapsed_seconds=interval * BAKE, explain=False)
        probe = probe_ev or probe
        if verdict.action in ("promote", "rollback"):
            return {"outcome": "promoted" if verdict.action == "promote" else verdict.outcome,
                    "minutes": interval * BAKE / 60, "probes": sent, "stream": stream}
        if verdict.action == "next_step":
            step += 1
            user, probe = user.new_step(), probe.new_step()


def _quality_cell(args: tuple[float, float, int, int, int]) -> list[dict[str, Any]]:
    drop, share, budget, runs, seed = args
    return [quality_run(seed * 100_000 + i, drop, share, budget) for i in range(runs)]


def _probe_cell(args: tuple[float, float, int, int]) -> list[dict[str, Any]]:
    rps, probe_rps, runs, seed = args
    return [probe_run(seed * 100_000 + i, rps, probe_rps) for i in range(runs)]


def pct(k: int, n: int) -> str:
    lo, hi = wilson(k, n)
    return f"{k / n:.1%} ({lo:.1%}-{hi:.1%})"


def median(values: list[float]) -> str:
    return f"{statistics.median(values):.0f}" if values else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200, help="streams per cell")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    started = time.monotonic()
    quality_cells = [(d, s, b) for d in DROPS for s in SHARES for b in BUDGETS]
    probe_cells = [(r, p) for r in (0.2, 1.0, 5.0) for p in (0.0, 0.5, 2.0, 5.0)]
    with ProcessPoolExecutor() as pool:
        quality = list(pool.map(_quality_cell, [(*c, args.runs, args.seed) for c in quality_cells]))
        probes = list(pool.map(_probe_cell, [(*c, args.runs, args.seed) for c in probe_cells]))
    print("# Online quality and probe traffic\n")
    print(describe())
    print(f"\n`python bench/online_quality.py --runs {args.runs} --seed {args.seed}`: {args.runs} simulated "
          "canaries per row, judged by `canary.decision.judge_streams` (AnalyzeCanary's decision). "
          "Intervals of 5 minutes; 95% Wilson intervals in brackets.\n")
    print("## 1. A drop in the mean quality of live answers (100 requests/s, steps 5% then 25%)\n")
    print("| drop | sample share | judge budget (calls) | promoted | rolled back, shown harmful (quality) | "
          "rolled back, not shown safe | median minutes to rollback | median judge calls | median judge $ |")
    print("|---|---|---|---|---|---|---|---|---|")
    for (drop, share, budget), runs in zip(quality_cells, quality, strict=True):
        n = len(runs)
        harmful = [r for r in runs if r["outcome"] == "shown_harmful" and r["metric"] == "quality"]
        unsafe = [r for r in runs if r["outcome"] == "not_shown_safe"]
        rolled = [r["minutes"] for r in runs if r["outcome"] != "promoted"]
        calls = [r["calls"] for r in runs]
        print(f"| {drop:.2f} | {share:.0%} | {budget:,} | {pct(sum(r['outcome'] == 'promoted' for r in runs), n)} | "
              f"{pct(len(harmful), n)} | {pct(len(unsafe), n)} | {median(rolled)} | {median(calls)} | "
              f"{statistics.median(calls) * JUDGE_USD:.2f} |")
    print("\n## 2. Time to a verdict for a harmless change at low traffic, with and without probes\n")
    print("| user requests/s | probe pairs/s | promoted | rolled back as shown harmful | median minutes to verdict | "
          "decided on probes | median probe requests | median probe $ |")
    print("|---|---|---|---|---|---|---|---|")
    for (rps, probe_rps), runs in zip(probe_cells, probes, strict=True):
        n = len(runs)
        sent = [r["probes"] for r in runs]
        harmful = sum(r["outcome"] == "shown_harmful" for r in runs)
        print(f"| {rps:g} | {probe_rps:g} | {pct(sum(r['outcome'] == 'promoted' for r in runs), n)} | "
              f"{pct(harmful, n)} | {median([r['minutes'] for r in runs])} | "
              f"{pct(sum(r['stream'] == 'probe' for r in runs), n)} | "
              f"{median(sent)} | {statistics.median(sent) * PROBE_USD:.2f} |")
    print(f"\n_{time.monotonic() - started:.0f} s._")


if __name__ == "__main__":
    main()
