"""Canary cost benchmark: cost per request judged by the product's decision, alone and through AnalyzeCanary.

Streams as in canary_judge.py (independent requests, 20 requests/s, 5%, errors
1% and slow requests 2% on both arms, so only cost differs), with cost per
request lognormal (sigma 1.0: heavy-tailed) drifting with the traffic mix
(bench/canary_streams.add_cost). The release allows +20%
(``canary.max_cost_increase: 0.2``); the plan is canary_judge.py's.

Part 1, the decision on its own (``genai_cicd.canary.decision.judge``), side by side with
- Kayenta as it ships on cost per request (MannWhitneyClassifier, 98%, 0.25 effect
  tolerance, directions "either" and "increase"; cost is the only judged metric);
- a static alarm: canary cost per request over 1.2x the baseline's for 5 minutes in a row.

Part 2, the pipeline's own path: the same kind of stream put to the embedded
CloudWatch and judged by AnalyzeCanary interval by interval
(bench/pipeline_replay.py), at 1.0x, 1.2x, 1.5x and 3x.

    python bench/canary_cost.py [--runs 200] [--pipeline-runs 10] [--seed 1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from canary_judge import MINUTES, PLAN, RATES, SHARE, Arm, Look, Outcome, ShiftInterval, play, rate
from canary_streams import add_cost, intervals, stream
from common import describe

from genai_cicd.canary.decision import CanaryEvidence, judge

ALLOWED = 0.2
COST_PLAN = PLAN.model_copy(update={"max_cost_increase": ALLOWED})
EFFECTS: dict[str, tuple[float, float, float]] = {  # (ratio, canary sigma, baseline sigma)
    "1x (no difference)": (1.0, 1.0, 1.0), "1.1x (within the allowance)": (1.1, 1.0, 1.0),
    "1.2x (at the allowance)": (1.2, 1.0, 1.0), "1.5x": (1.5, 1.0, 1.0), "2x": (2.0, 1.0, 1.0), "3x": (3.0, 1.0, 1.0),
    "heavier tail, same mean": (1.0, 1.3, 1.0),
    # issue #27: heavy tails in both arms (the mean of ~60 requests with sigma 2 has its median 27% below it)
    "1x, sigma 2 both arms": (1.0, 2.0, 2.0), "1.3x, sigma 2 both arms": (1.3, 2.0, 2.0),
    "1x, sigma 2.5 both arms": (1.0, 2.5, 2.5), "1.5x, sigma 2.5 both arms": (1.5, 2.5, 2.5)}
PIPELINE_EFFECTS = (1.0, 1.2, 1.5, 3.0)
PIPELINE_MINUTES = 60


def cost_data(rng: np.random.Generator, ratio: float, sigma: float, minutes: int = MINUTES,
              baseline_sigma: float = 1.0) -> list[tuple[Arm, Arm]]:
    s = stream("independent", rng, minutes=minutes, rps=20, share=SHARE,
               rates={m: (r, 1.0) for m, r in RATES.items()})
    return intervals(add_cost(rng, s, ratio, sigma, baseline_sigma=baseline_sigma))


def ours() -> Look:
    evidence = [CanaryEvidence()]

    def look(baseline: Arm, canary: Arm) -> str:
        evidence[0], verdict = judge(COST_PLAN, evidence[0], baseline, canary, step_index=0, explain=False)
        if verdict.action == "rollback" and verdict.metric != "cost_per_request":
            return "rollback (not cost)"
        if verdict.action == "rollback" and verdict.outcome == "not_shown_safe":
            return "rollback (not shown safe)"
        return verdict.action
    return look


def per_request(arm: Arm) -> float:
    n = arm.get("requests") or 0.0
    return (arm.get("cost_usd") or 0.0) / n if n else 0.0


def kayenta(direction: str) -> Look:
    shift = ShiftInterval()
    minute = [0]

    def look(baseline: Arm, canary: Arm) -> str:
        minute[0] += 1
        shift.add(per_request(canary), per_request(baseline))
        estimate, lower, upper = shift.interval()
        bound = 0.25 * abs(estimate)
        if lower > bound or (direction == "either" and upper < -bound):
            return "rollback"
        return "promote" if minute[0] >= MINUTES else "continue"
    return look


def static_alarm() -> Look:
    breaching = [0]
    minute = [0]

    def look(baseline: Arm, canary: Arm) -> str:
        minute[0] += 1
        b, c = per_request(baseline), per_request(canary)
        breaching[0] = breaching[0] + 1 if b > 0 and c > (1 + ALLOWED) * b else 0
        if breaching[0] >= 5:
            return "rollback"
        return "promote" if minute[0] >= MINUTES else "continue"
    return look


CONTENDERS = {"ours (alpha 0.05)": ours, "Kayenta as it ships, direction either": lambda: kayenta("either"),
              "Kayenta as it ships, direction increase": lambda: kayenta("increase"),
              "static 1.2x alarm, 5 minutes": static_alarm}


def effect_rows(job: tuple[str, int, int]) -> list[str]:
    effect, runs, seed = job
    ratio, sigma, baseline_sigma = EFFECTS[effect]
    rng = np.random.default_rng([seed, int(ratio * 100), int(sigma * 100), int(baseline_sigma * 100)])
    streams = [cost_data(rng, ratio, sigma, baseline_sigma=baseline_sigma) for _ in range(runs)]
    rows = []
    for name, make in CONTENDERS.items():
        outs: list[Outcome] = [play(make, data) for data in streams]
        harmful = [o.minute for o in outs if o.action == "rollback" and o.harmful]
        promoted = [o.minute for o in outs if o.action == "promote"]
        med = lambda v: f"{statistics.median(v):.0f} | {float(np.percentile(v, 90)):.0f}" if v else "- | -"  # noqa: E731
        rows.append(f"| {effect} | {name} | {rate(len(harmful), runs)} | {rate(len(promoted), runs)} | {med(harmful)} "
                    f"| {med(promoted)} |")
    return rows


def pipeline_rows(runs: int, seed: int) -> list[str]:
    import json

    from pipeline_replay import analyze_through_cloudwatch

    from genai_cicd_local.embedded.aws_session import EmbeddedAWS
    from genai_cicd_local.runner import LocalReleaseRunner

    root = Path(__file__).resolve().parents[1]
    rows = []
    with EmbeddedAWS(root) as aws:
        LocalReleaseRunner(aws, out=lambda _: None).seed_event_fixtures()
        release = json.loads((root / "events" / "analyze_canary" / "first-interval.json").read_text())["release"]
        manifest = json.loads(aws.client("s3").get_object(Bucket=aws.bucket,
                                                          Key="releases/evt-release/manifest.json")["Body"].read())
        manifest["canary"] = {**manifest["canary"], **COST_PLAN.model_dump(mode="json", exclude_none=True,
                                                                           include={"steps", "bake_seconds",
                                                                                    "metrics", "max_cost_increase"}),
                              "metric_period_seconds": 60, "max_intervals_per_step": PIPELINE_MINUTES}
        for ratio in PIPELINE_EFFECTS:
            rng = np.random.default_rng([seed, int(ratio * 100), 7])
            finals = []
            started = time.perf_counter()
            for run in range(runs):
                data = cost_data(rng, ratio, 1.0, PIPELINE_MINUTES)
                states = analyze_through_cloudwatch(aws, release, manifest, f"cost-{int(ratio * 10)}-{run}", data)
                finals.append(states[-1])
            on_cost = [s for s in finals if s.action == "rollback" and s.metric == "cost_per_request"
                       and s.outcome == "shown_harmful"]
            promoted = [s for s in finals if s.action == "promote"]
            minutes = [s.judge.intervals for s in finals if s.action != "continue"]
            rows.append(f"| {ratio:g}x | {rate(len(on_cost), runs)} | {rate(len(promoted), runs)} | "
                        f"{statistics.median(minutes):.0f} | {time.perf_counter() - started:.0f} s |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--pipeline-runs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    args = parser.parse_args()
    started = time.perf_counter()
    print(f"# Canary cost: {args.runs} streams per effect, {MINUTES} one-minute intervals at {SHARE:.0%} and 20 "
          f"requests/s, allowed increase +{ALLOWED:.0%}\n")
    print(describe())
    print("\n## The decision on its own\n")
    print("| cost change | contender | rolled back on cost [95% CI] | promoted [95% CI] | median / p90 min to "
          "rollback | median / p90 min to promote |\n|---|---|---|---|---|---|")
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        for rows in pool.map(effect_rows, [(e, args.runs, args.seed) for e in EFFECTS]):
            print("\n".join(rows))
    print("\nOurs rolls back only on cost here or on \"not shown safe\" (counted in neither column); "
          "errors and slow requests are harmless. A cost exactly at the allowance (1.2x) can be neither shown "
          "above nor below it: it ends \"not shown safe\".\n")
    print(f"## Through AnalyzeCanary on the embedded AWS ({args.pipeline_runs} streams per change, "
          f"{PIPELINE_MINUTES} intervals at most)\n")
    print("| cost change | rolled back on cost [95% CI] | promoted [95% CI] | median intervals to a verdict | "
          "wall time |\n|---|---|---|---|---|")
    print("\n".join(pipeline_rows(args.pipeline_runs, args.seed)))
    print(f"\n(took {time.perf_counter() - started:.0f} s with {args.workers} workers)")


if __name__ == "__main__":
    main()
