"""Pre-deploy gate benchmark: size, power and model calls of the regression gate's decision.

Seeded simulations of per-case scores for N cases and K repeats, in four
families the method was not designed around:

- spread: continuous scores (per-case difficulty Beta(6, 2), repeat noise 0.12),
  the candidate shifted by the true difference on every case;
- quarter: the same difference concentrated in a quarter of the cases;
- ceiling: a binary metric near 100%: the baseline answers every repeat right,
  the candidate each repeat with probability 1 + difference;
- breaks: a few cases break: a share |difference| / 0.6 of the cases lose 0.6,
  the rest are unchanged (continuous noise as in "spread").

Continuous scores are left unclipped so the true difference is exactly the one
stated (clipping each arm to [0, 1] moved it by up to a tenth of the margin, which
made "at the margin" cells easier than the boundary); only the per-case difference
is clipped to [-1, 1], which never binds for spread and quarter and binds for
about 1% of broken cases. The table's "true diff" column checks it on 200,000 cases.

True differences: 0 (unchanged), -margin (the boundary of the guarantee) and
-2 x margin. Each run is judged twice with the product's own rule
(``noninferiority.evidence``, what every look of ``decide`` reads): the fixed
design reads the verdict once after all N cases; the group-sequential design,
the gate's default, reads it after 25/50/75/100% of the cases (at least 20)
and stops at the first clear pass, shown regression or futility (estimate
more than two standard errors below -margin; a stop that can only block). Model calls are counted as cases
scored (x K repeats x 2 arms, the same factor for both designs).

"At most alpha in every cell" is checked the only way a finite simulation can:
an exact one-sided binomial test of "pass rate <= alpha" per cell, with Holm's
correction over all cells (family-wise 5%).

    python bench/gate_power.py [--runs 1000] [--seed 1] [--sizes 20,50,200,500] [--workers 2]
"""

from __future__ import annotations

import argparse
import math
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

from genai_cicd.gates.noninferiority import alpha_for_run, evidence  # noqa: E402
from genai_cicd.gates.regression import look_sizes  # noqa: E402

REPEATS = (1, 3, 5)
MARGINS = (0.02, 0.05, 0.10)
FAMILIES = ("spread", "quarter", "ceiling", "breaks")
KINDS = {"unchanged": 0.0, "at margin": -1.0, "twice the margin": -2.0}
LOOKS = [0.25, 0.5, 0.75, 1.0]
NOISE = 0.12
BREAK = 0.6
CHUNK = 50  # runs per job: the unit of seeding and of work for a process
CELLS = [(k, m, f) for k in REPEATS for m in MARGINS for f in FAMILIES]


def case_diffs(rng: np.random.Generator, n: int, k: int, diff: float, family: str) -> np.ndarray:
    """Per-case candidate - baseline means, in [-1, 1], in the order the gate would take them."""
    if family == "ceiling":
        cand = (rng.random((n, k)) < 1.0 + diff).mean(axis=1)
        return cand - 1.0
    ability = rng.beta(6, 2, size=n)
    shift: np.ndarray = np.full(n, diff)
    if family == "quarter" and diff != 0:
        hit = max(1, n // 4)
        shift = np.zeros(n)
        shift[rng.choice(n, hit, replace=False)] = diff * n / hit
    elif family == "breaks":
        shift = np.where(rng.random(n) < -diff / BREAK, -BREAK, 0.0)
    base = ability + rng.normal(0, NOISE, (n, k)).mean(axis=1)
    cand = ability + shift + rng.normal(0, NOISE, (n, k)).mean(axis=1)
    return np.clip(cand - base, -1.0, 1.0)


def true_difference(rng: np.random.Generator, n: int, k: int, diff: float, family: str) -> float:
    """The difference the simulated data really have, by a large sample."""
    return float(case_diffs(rng, 200_000 // max(k, 1), k, diff, family).mean())


def judge(d: np.ndarray, margin: float, alpha: float, sequential: bool) -> tuple[str, int]:
    """(decision, cases scored) of one run."""
    n = len(d)
    sizes = look_sizes(n, LOOKS) if sequential else [n]
    for size in sizes:
        safe, worse, futile = evidence(d[:size], margin, alpha, n)
        final = size == n
        if safe:
            return "pass", size
        if (worse or futile) and not final:
            return "block", size
        if final:
            return "not pass", size
    raise AssertionError


def simulate(job: tuple[int, int, int, int, float]) -> Counter[tuple[object, ...]]:
    n, chunk, runs, seed, alpha = job
    rng = np.random.default_rng([seed, n, chunk])
    count: Counter[tuple[object, ...]] = Counter()
    for _ in range(runs):
        for k, margin, family in CELLS:
            for kind, times in KINDS.items():
                d = case_diffs(rng, n, k, times * margin, family)
                for design in ("fixed", "sequential"):
                    decision, scored = judge(d, margin, alpha, design == "sequential")
                    key = (n, k, margin, family, kind, design)
                    count[key + ("pass",)] += decision == "pass"
                    count[key + ("cases",)] += scored
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
    parser.add_argument("--alpha", type=float, default=0.05, help="the gate's alpha (first run: 80% of it)")
    parser.add_argument("--sizes", default="20,50,200,500")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    args = parser.parse_args()
    # A release's first run of a candidate spends alpha_for_run(alpha, 1); that is what a user sees.
    alpha = alpha_for_run(args.alpha, 1)
    sizes = [int(s) for s in args.sizes.split(",")]
    started = time.perf_counter()
    machine = describe()
    jobs = [(n, chunk, min(CHUNK, args.runs - chunk * CHUNK), args.seed, alpha)
            for n in sizes for chunk in range(-(-args.runs // CHUNK))]
    count: Counter[tuple[object, ...]] = Counter()
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        for counted in pool.map(simulate, jobs):
            count.update(counted)
    runs = args.runs
    truth_rng = np.random.default_rng(99)
    print(f"# Gate power: {runs} seeded runs per cell, gate alpha {args.alpha} (first run {alpha:.3f})\n")
    print(machine + "\n")
    print("| N | K | margin | family | true diff at margin | pass at margin, sequential [95% CI] | fixed | "
          "pass unchanged, sequential | fixed | pass at 2x margin | cases scored unchanged (seq/fixed) | "
          "at 2x margin |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    p_values: list[float] = []
    worst: tuple[float, str] = (0.0, "")
    savings: dict[str, list[float]] = {"clear pass": [], "clear block": []}
    powers: list[tuple[float, float]] = []
    mde: dict[tuple[int, int], float] = {}
    for n in sizes:
        for k, margin, family in CELLS:
            def rate(kind: str, design: str, what: str = "pass") -> float:
                return count[(n, k, margin, family, kind, design, what)] / runs  # noqa: B023

            at_seq = count[(n, k, margin, family, "at margin", "sequential", "pass")]
            at_fixed = count[(n, k, margin, family, "at margin", "fixed", "pass")]
            for at in (at_seq, at_fixed):
                p_values.append(binomtest(at, runs, alpha, alternative="greater").pvalue)
            lo, hi = wilson(at_seq, runs)
            if max(at_seq, at_fixed) / runs > worst[0]:
                worst = (max(at_seq, at_fixed) / runs, f"N {n}, K {k}, margin {margin}, {family}")
            truth = true_difference(truth_rng, n, k, -margin, family)
            cases = {kind: rate(kind, "sequential", "cases") / max(rate(kind, "fixed", "cases"), 1e-9)
                     for kind in ("unchanged", "twice the margin")}
            if rate("unchanged", "fixed") >= 0.8:
                savings["clear pass"].append(cases["unchanged"])
                powers.append((rate("unchanged", "sequential"), rate("unchanged", "fixed")))
            if rate("twice the margin", "fixed") <= 0.01 and n >= 200:
                savings["clear block"].append(cases["twice the margin"])
            if family == "spread" and rate("unchanged", "sequential") >= 0.8 and (n, k) not in mde:
                mde[(n, k)] = margin
            print(f"| {n} | {k} | {margin:.2f} | {family} | {truth:+.3f} | {at_seq / runs:.1%} [{lo:.1%}, {hi:.1%}] | "
                  f"{at_fixed / runs:.1%} | {rate('unchanged', 'sequential'):.1%} | {rate('unchanged', 'fixed'):.1%} | "
                  f"{rate('twice the margin', 'sequential'):.1%} | {cases['unchanged']:.2f} | "
                  f"{cases['twice the margin']:.2f} |")
    total_at = sum(count[(n, k, m, f, "at margin", d, "pass")] for n in sizes for k, m, f in CELLS
                   for d in ("fixed", "sequential"))
    trials = runs * len(sizes) * len(CELLS) * 2
    lo, hi = wilson(total_at, trials)
    print(f"\n**Pass rate at exactly the margin**, all cells and both designs pooled: {total_at / trials:.2%} "
          f"[{lo:.2%}, {hi:.2%}] of {trials} (target <= {alpha:.0%}, the first run's alpha). Highest single "
          f"cell: {worst[0]:.1%} ({worst[1]}). Cells where an exact one-sided binomial test rejects "
          f"'pass rate <= {alpha:.3g}' (Holm over {len(p_values)} cells, family-wise 5%): "
          f"**{holm_rejections(p_values)}**; smallest p-value {min(p_values):.3f}.")
    for label, ratios in savings.items():
        if ratios:
            plural = label.capitalize() + ("es" if label.endswith("s") else "s")
            print(f"\n**{plural}** ({len(ratios)} cells): the group-sequential gate scores a median "
                  f"{np.median(ratios):.2f} of the fixed design's cases (mean {np.mean(ratios):.2f}, worst "
                  f"{max(ratios):.2f}) - {1 - float(np.mean(ratios)):.0%} fewer model calls on average.")
    if powers:
        seq, fixed = np.mean([p[0] for p in powers]), np.mean([p[1] for p in powers])
        print(f"\nPower where the fixed design has at least 80%: sequential {seq:.1%}, fixed {fixed:.1%} (mean over "
              f"{len(powers)} cells).")
    print("\n## Minimum detectable margin (spread family, sequential: smallest margin an unchanged candidate "
          "passes >= 80%)\n")
    print("| N cases | K=1 | K=3 | K=5 |\n|---|---|---|---|")
    for n in sizes:
        row = [f"{mde[(n, k)]:.2f}" if (n, k) in mde else "> 0.10" for k in REPEATS]
        print(f"| {n} | " + " | ".join(row) + " |")
    floor = {m: math.ceil(math.log(1 / alpha) / math.log1p(0.9 * m / (1 - m))) for m in MARGINS}
    print("\nNo valid rule can pass every bounded metric with fewer cases than the one-failure bound: at least "
          + ", ".join(f"{v} cases for margin {m}" for m, v in floor.items())
          + " (when any single case could fail outright, fewer cases cannot rule it out).")
    print(f"\n(took {time.perf_counter() - started:.0f} s with {args.workers} workers)")


if __name__ == "__main__":
    main()
