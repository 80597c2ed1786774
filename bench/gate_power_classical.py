"""The pre-deploy gate against the classical tests: how many cases each needs for 80% power.

The gate's bound is valid for every distribution of bounded scores, at every size (Markov's and
Ville's inequalities, ``gates/betting.py``); a paired t-test assumes near-normal means and an exact
binomial test assumes binary scores. This measures what that validity costs in cases, on a harmless
candidate (no true difference) at margin 0.05 and the first run's alpha 0.04:

- graded: an 11-point rubric, per-case difficulty Beta(2, 2), both arms Binomial(10, difficulty) / 10
  (the arms agree on hard and easy cases, so the paired differences are small);
- ceiling: a binary metric the baseline always passes and the candidate passes with probability 0.995
  (the exact test: candidate failures against Binomial(N, margin)).

For each family and method: the pass rate at each N (``--runs`` seeded runs), and N80, the
smallest N in the grid where the pass rate reaches 80% (linear interpolation between grid points).
The gate is judged as `gate compare` judges a score file (one look, the capital averaged over
orders) and as the inline gate's fixed design (one look in content order).

    python bench/gate_power_classical.py [--runs 300] [--seed 1]
"""

from __future__ import annotations

import argparse
import math
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from common import describe  # noqa: E402
from scipy import stats  # noqa: E402

from genai_cicd.gates import betting  # noqa: E402

ALPHA, MARGIN = 0.04, 0.05
GRID = [20, 40, 60, 80, 100, 130, 160, 200, 250, 300, 400, 500, 650, 800]


def graded(rng: np.random.Generator, n: int) -> np.ndarray:
    ability = rng.beta(2, 2, n)
    return (rng.binomial(10, ability) - rng.binomial(10, ability)) / 10.0


def ceiling(rng: np.random.Generator, n: int) -> np.ndarray:
    return -(rng.random(n) >= 0.995).astype(float)


def t_test(d: np.ndarray) -> bool:
    sd = d.std(ddof=1)
    if sd == 0:
        return bool(d.mean() > -MARGIN)
    return bool(d.mean() - stats.t.ppf(1 - ALPHA, len(d) - 1) * sd / math.sqrt(len(d)) > -MARGIN)


def exact_binomial(d: np.ndarray) -> bool:
    """Candidate failures (baseline always right) against a failure rate of MARGIN: one-sided exact test."""
    return bool(stats.binom.cdf(int((d < 0).sum()), len(d), MARGIN) <= ALPHA)


def score_file(d: np.ndarray) -> bool:
    return betting.shown_in_any_order(d, -MARGIN, "above", lo=-1.0, hi=1.0, alpha=ALPHA)


def content_order(d: np.ndarray) -> bool:
    return betting.shown(d, -MARGIN, "above", lo=-1.0, hi=1.0, alpha=ALPHA)


FAMILIES = {"graded": (graded, ("paired t-test", t_test)), "ceiling": (ceiling, ("exact binomial", exact_binomial))}


def n80(rates: list[float]) -> float:
    for k, rate in enumerate(rates):
        if rate >= 0.8:
            if k == 0:
                return GRID[0]
            n0, n1, r0 = GRID[k - 1], GRID[k], rates[k - 1]
            return n0 + (n1 - n0) * (0.8 - r0) / (rate - r0)
    return math.inf


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(f"# Gate power against the classical tests: {args.runs} seeded runs per cell, margin {MARGIN}, "
          f"alpha {ALPHA} (a first run)\n")
    print(describe() + "\n")
    for family, (draw, (classical_name, classical)) in FAMILIES.items():
        methods = {classical_name: classical, "gate, score file": score_file, "gate, content order": content_order}
        rates: dict[str, list[float]] = {m: [] for m in methods}
        for n in GRID:
            rng = np.random.default_rng([args.seed, n, len(family)])
            samples = [draw(rng, n) for _ in range(args.runs)]
            for name, method in methods.items():
                rates[name].append(sum(method(d) for d in samples) / args.runs)
        print(f"## {family}\n")
        print("| N | " + " | ".join(methods) + " |")
        print("|---|" + "---|" * len(methods))
        for k, n in enumerate(GRID):
            print(f"| {n} | " + " | ".join(f"{rates[m][k]:.1%}" for m in methods) + " |")
        base = n80(rates[classical_name])
        print("\n" + "; ".join(f"{m}: N80 {n80(rates[m]):.0f}" + ("" if m == classical_name else
                                                                   f" ({n80(rates[m]) / base:.2f}x)")
                                for m in methods) + "\n")


if __name__ == "__main__":
    main()
