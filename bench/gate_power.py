"""Pre-deploy gate benchmark: the paired non-inferiority rule vs a plain threshold on the mean.

Seeded simulations of per-case scores in [0, 1] for N cases and K repeats.
Each case has its own difficulty; the candidate differs from the baseline by
a true difference spread evenly over the cases, or concentrated in a quarter
of them. For each cell: how often the gate passes when the candidate is truly
worse by exactly the margin (the guarantee: at most alpha), how often it
passes when nothing changed (the power to show non-inferiority), how often
the interval covers the true difference, and the same pass rates for a plain
threshold on the candidate's mean set at the baseline's expected mean minus
the margin (what most tools do).

    python bench/gate_power.py [--runs 200] [--seed 1]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from genai_cicd.gates.noninferiority import decide


def simulate(rng: np.random.Generator, n: int, k: int, diff: float, concentrated: bool
             ) -> tuple[dict[str, list[float]], dict[str, list[float]], float]:
    ability = rng.beta(6, 2, size=n)  # per-case difficulty; mean ~0.75
    shift = np.full(n, diff)
    if concentrated and diff != 0:
        hit = max(1, n // 4)
        shift = np.zeros(n)
        shift[rng.choice(n, hit, replace=False)] = diff * n / hit
    noise = 0.12
    # Unclipped, like a continuous quality score, so the true difference is exactly `diff`.
    base = {f"c{i}": list(ability[i] + rng.normal(0, noise, k)) for i in range(n)}
    cand = {f"c{i}": list(ability[i] + shift[i] + rng.normal(0, noise, k)) for i in range(n)}
    return base, cand, diff


def cell(rng: np.random.Generator, n: int, k: int, margin: float, diff: float, concentrated: bool, runs: int,
         alpha: float) -> tuple[float, float, float]:
    passed = plain = covered = 0
    for s in range(runs):
        base, cand, true = simulate(rng, n, k, diff, concentrated)
        v = decide("m", base, cand, threshold=0.0, margin=margin, alpha=alpha, seed=s)
        passed += v.decision == "pass"
        covered += v.lower_bound <= true
        plain += float(np.mean([np.mean(x) for x in cand.values()])) >= 0.75 - margin
    return passed / runs, plain / runs, covered / runs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--alpha", type=float, default=0.05)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    print(f"# Gate power: {args.runs} seeded runs per cell, alpha {args.alpha}\n")
    print("| N | K | margin | spread | pass when worse by margin (ours) | plain threshold | pass when "
          "unchanged (ours) | plain threshold | pass when worse by 2x margin (ours) | one-sided coverage |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    mde: dict[tuple[int, int], float | None] = {}
    for n in (50, 100, 200, 500):
        for k in (1, 3, 5):
            for margin in (0.02, 0.05, 0.10):
                for concentrated in (False, True):
                    at_margin, plain_margin, coverage = cell(rng, n, k, margin, -margin, concentrated, args.runs,
                                                             args.alpha)
                    unchanged, plain_unchanged, _ = cell(rng, n, k, margin, 0.0, concentrated, args.runs, args.alpha)
                    twice, _, _ = cell(rng, n, k, margin, -2 * margin, concentrated, args.runs, args.alpha)
                    print(f"| {n} | {k} | {margin:.2f} | {'25% of cases' if concentrated else 'even'} | "
                          f"{at_margin:.1%} | {plain_margin:.1%} | {unchanged:.1%} | {plain_unchanged:.1%} | "
                          f"{twice:.1%} | {coverage:.1%} |")
                    if not concentrated and unchanged >= 0.8 and mde.get((n, k)) is None:
                        mde[(n, k)] = margin
    print("\n## Minimum detectable margin (smallest margin at which an unchanged candidate passes >= 80%)\n")
    print("| N cases | K=1 | K=3 | K=5 |\n|---|---|---|---|")
    for n in (50, 100, 200, 500):
        row = [f"{mde[(n, k)]:.2f}" if mde.get((n, k)) else "> 0.10" for k in (1, 3, 5)]
        print(f"| {n} | " + " | ".join(row) + " |")
    print(f"\n(took {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
