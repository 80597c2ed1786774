"""Pre-deploy gate benchmark: the paired non-inferiority rule vs a plain threshold on the mean.

Seeded simulations of per-case scores for N cases and K repeats. Each case has
its own difficulty; the candidate differs from the baseline by a true
difference spread evenly over the cases, or concentrated in a quarter of them.
For each cell: how often the gate passes when the candidate is truly worse by
exactly the margin (the guarantee: at most alpha), how often it passes when
nothing changed (the power to show non-inferiority), how often the one-sided
interval covers the true difference, and the same pass rates for a plain
threshold on the candidate's mean set at the baseline's expected mean minus the
margin (what most tools do).

The rule is the product's: ``bootstrap_t_bounds_many`` is what ``decide`` calls,
with ``decide``'s fixed resampling seed, and with threshold 0 ``decide`` passes
exactly when the lower bound clears -margin. The 54 cells of one N and one run
are bounded together (one matrix product over the cached resamples); chunks of
runs are spread over worker processes, each with its own seeded stream, so the
figures do not depend on the number of workers.

"At most alpha in every cell" is checked the only way a finite simulation can:
an exact one-sided binomial test of "pass rate <= alpha" per cell, with Holm's
correction over all cells (family-wise 5%).

    python bench/gate_power.py [--runs 400] [--seed 1] [--sizes 50,100,200,500] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor

# One BLAS thread per process: the worker processes already use the cores (set before numpy loads).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from common import describe, wilson  # noqa: E402
from scipy.stats import binomtest  # noqa: E402

from genai_cicd.gates.noninferiority import DEFAULT_SEED, bootstrap_t_bounds_many  # noqa: E402

REPEATS = (1, 3, 5)
MARGINS = (0.02, 0.05, 0.10)
KINDS = {"at margin": -1.0, "unchanged": 0.0, "twice the margin": -2.0}
NOISE = 0.12
CHUNK = 50  # runs per job: the unit of seeding and of work for a process
CELLS = [(k, m, conc) for k in REPEATS for m in MARGINS for conc in (False, True)]


def case_means(rng: np.random.Generator, n: int, k: int, diff: float, concentrated: bool
               ) -> tuple[np.ndarray, np.ndarray]:
    ability = rng.beta(6, 2, size=n)  # per-case difficulty; mean 0.75
    shift = np.full(n, diff)
    if concentrated and diff != 0:
        hit = max(1, n // 4)
        shift = np.zeros(n)
        shift[rng.choice(n, hit, replace=False)] = diff * n / hit
    # Unclipped, like a continuous quality score, so the true difference is exactly `diff`.
    base = ability + rng.normal(0, NOISE, (n, k)).mean(axis=1)
    cand = ability + shift + rng.normal(0, NOISE, (n, k)).mean(axis=1)
    return base, cand


def simulate(job: tuple[int, int, int, int, float]) -> Counter[tuple[object, ...]]:
    """Pass and coverage counts of ``runs`` seeded runs of every cell at one N."""
    n, chunk, runs, seed, alpha = job
    rng = np.random.default_rng([seed, n, chunk])
    count: Counter[tuple[object, ...]] = Counter()
    for _ in range(runs):
        meta, columns = [], []
        for k, margin, conc in CELLS:
            for kind, times in KINDS.items():
                base, cand = case_means(rng, n, k, times * margin, conc)
                meta.append((k, margin, conc, kind, times * margin, float(cand.mean())))
                columns.append(cand - base)
        lower, _ = bootstrap_t_bounds_many(np.column_stack(columns), alpha, seed=DEFAULT_SEED)
        for (k, margin, conc, kind, true, cand_mean), lb in zip(meta, lower, strict=True):
            key = (n, k, margin, conc, kind)
            count[key + ("pass",)] += bool(lb > -margin)
            count[key + ("plain",)] += cand_mean >= 0.75 - margin
            count[key + ("covered",)] += bool(lb <= true)
    return count


def holm_rejections(p_values: list[float], level: float = 0.05) -> int:
    """How many hypotheses Holm's step-down procedure rejects at family-wise ``level``."""
    rejected = 0
    for i, p in enumerate(sorted(p_values)):
        if p > level / (len(p_values) - i):
            break
        rejected += 1
    return rejected


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=400)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--sizes", default="50,100,200,500")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    started = time.perf_counter()
    machine = describe()
    jobs = [(n, chunk, min(CHUNK, args.runs - chunk * CHUNK), args.seed, args.alpha)
            for n in sizes for chunk in range(-(-args.runs // CHUNK))]
    count: Counter[tuple[object, ...]] = Counter()
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        for counted in pool.map(simulate, jobs):
            count.update(counted)
    runs = args.runs
    print(f"# Gate power: {runs} seeded runs per cell, alpha {args.alpha}\n")
    print(machine + "\n")
    print("| N | K | margin | spread | pass when worse by margin (ours) [95% CI] | plain threshold | pass when "
          "unchanged (ours) | plain threshold | pass when worse by 2x margin (ours) | one-sided coverage |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    mde: dict[tuple[int, int], float | None] = {}
    worst: tuple[float, tuple[int, int, float, str] | None] = (0.0, None)
    significant = 0
    p_values: list[float] = []
    for n in sizes:
        for k, margin, conc in CELLS:
            c = {kind: {m: count[(n, k, margin, conc, kind, m)] / runs for m in ("pass", "plain", "covered")}
                 for kind in KINDS}
            at = count[(n, k, margin, conc, "at margin", "pass")]
            lo, hi = wilson(at, runs)
            significant += lo > args.alpha
            p_values.append(binomtest(at, runs, args.alpha, alternative="greater").pvalue)
            if at / runs > worst[0]:
                worst = (at / runs, (n, k, margin, "25% of cases" if conc else "even"))
            print(f"| {n} | {k} | {margin:.2f} | {'25% of cases' if conc else 'even'} | "
                  f"{c['at margin']['pass']:.1%} [{lo:.1%}, {hi:.1%}] | {c['at margin']['plain']:.1%} | "
                  f"{c['unchanged']['pass']:.1%} | {c['unchanged']['plain']:.1%} | "
                  f"{c['twice the margin']['pass']:.1%} | {c['at margin']['covered']:.1%} |")
            if not conc and c["unchanged"]["pass"] >= 0.8 and mde.get((n, k)) is None:
                mde[(n, k)] = margin
    total = sum(count[(n, k, m, conc, "at margin", "pass")] for n in sizes for k, m, conc in CELLS)
    trials = runs * len(sizes) * len(CELLS)
    lo, hi = wilson(total, trials)
    by_spread = []
    for conc, label in ((False, "spread evenly"), (True, "concentrated in 25% of cases")):
        part = sum(count[(n, k, m, c, "at margin", "pass")] for n in sizes for k, m, c in CELLS if c == conc)
        part_trials = trials // 2
        p_lo, p_hi = wilson(part, part_trials)
        by_spread.append(f"{label} {part / part_trials:.2%} [{p_lo:.2%}, {p_hi:.2%}]")
    print(f"\nPass rate at the margin by spread: {'; '.join(by_spread)}.")
    print(f"\nPass rate at the margin, all cells pooled: {total / trials:.2%} [{lo:.2%}, {hi:.2%}] of {trials} "
          f"(target <= {args.alpha:.0%}). Highest single cell: {worst[0]:.1%} at N, K, margin, spread = {worst[1]}. "
          f"Cells whose 95% interval lies wholly above {args.alpha:.0%}: {significant} of {len(sizes) * len(CELLS)}. "
          f"Cells where an exact binomial test rejects 'pass rate <= {args.alpha:g}' (one-sided, Holm over "
          f"{len(p_values)} cells, family-wise 5%): {holm_rejections(p_values)}; smallest p-value "
          f"{min(p_values):.3f}.")
    print("\n## Minimum detectable margin (smallest margin at which an unchanged candidate passes >= 80%)\n")
    print("| N cases | K=1 | K=3 | K=5 |\n|---|---|---|---|")
    for n in sizes:
        row = [f"{mde[(n, k)]:.2f}" if mde.get((n, k)) else "> 0.10" for k in REPEATS]
        print(f"| {n} | " + " | ".join(row) + " |")
    print(f"\n(took {time.perf_counter() - started:.0f} s with {args.workers} workers)")


if __name__ == "__main__":
    main()
