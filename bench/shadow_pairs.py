"""Shadow evaluation: judged answers needed, paired on the same prompts vs today's unpaired online quality.

Both sides use the production bounds on simulated judge scores; nothing here is tuned to them:

- paired (shadow): each live request is answered by both variants and both answers are judged; the
  difference of the two scores is folded into ``canary.shadow.difference_bounds`` (AnalyzeShadow's).
- unpaired (online quality in the canary, #15): each arm's answers are to different requests; each arm's
  mean is bounded and the difference taken by ``canary.sequential.difference_bounds`` (AnalyzeCanary's).

Prompt pools whose difficulty varies: a prompt's expected score under the baseline is its difficulty
``q`` ~ Beta with mean 0.7 and the family's spread; the candidate's is ``q + delta``; the judge's score of
one answer is ``q (+ delta)`` plus independent noise (sd 0.08), clipped to [0, 1] and rounded to 0.05
(a graded judge). The shift is calibrated so that the mean judged difference is exactly ``delta``
(clipping near 0 and 1 would otherwise shrink it, and a cell "at the margin" would be inside it).
Families: "varied" (difficulty sd 0.25, support questions from trivial to unanswerable), "moderate"
(sd 0.12) and "flat" (sd 0.03: every prompt about as hard, where pairing has little to remove).
Looks after every 50 judged answers, or 5% more than at the last look if that is more (the bounds are
anytime-valid, so looks cost no level; answers are counted to the look that decided), up to 40,000
judged answers. Margins 0.02 and 0.05; alpha 0.05 per side, as the plans use.

Measured per cell over ``--runs`` streams: the median judged answers until non-inferiority is shown
(delta 0) or until the drop is shown worse (delta -0.05, -0.10 at margin 0.02); and, at delta = -margin
exactly, how often the candidate is shown non-inferior (a false pass) or shown worse (a false block),
with Wilson 95% intervals.

    python bench/shadow_pairs.py [--runs 200] [--workers 2] [--seed 1]
"""

from __future__ import annotations

import argparse
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np
from common import describe, wilson

from genai_cicd.canary import shadow
from genai_cicd.canary.sequential import ScoreSums
from genai_cicd.canary.sequential import difference_bounds as unpaired_bounds

ALPHA = 0.05
NOISE = 0.08
LOOK = 50  # judged answers (both arms) between looks, at least
CAP = 40_000  # judged answers (both arms)
FAMILIES = {"varied": 0.25, "moderate": 0.12, "flat": 0.03}


def difficulties(rng: np.random.Generator, n: int, spread: float) -> np.ndarray:
    mean = 0.7
    k = mean * (1 - mean) / spread**2 - 1  # Beta(mean k, (1 - mean) k) has this mean and sd
    return rng.beta(mean * k, (1 - mean) * k, n)


def judged(rng: np.random.Generator, q: np.ndarray) -> np.ndarray:
    return np.round(np.clip(q + rng.normal(0, NOISE, len(q)), 0, 1) * 20) / 20


def calibrated(spread: float, delta: float) -> float:
    """The shift of the candidate's expected score whose judged mean difference is exactly ``delta`` (clipping
    at 0 and 1 and rounding shrink a shift): 400,000 draws, bisection. So a cell "at the margin" is at it."""
    if delta == 0:
        return 0.0
    rng = np.random.default_rng(12345)
    q = difficulties(rng, 400_000, spread)
    noise_b, noise_c = rng.normal(0, NOISE, len(q)), rng.normal(0, NOISE, len(q))

    def mean_difference(shift: float) -> float:
        c = np.round(np.clip(np.clip(q + shift, 0, 1) + noise_c, 0, 1) * 20) / 20
        b = np.round(np.clip(q + noise_b, 0, 1) * 20) / 20
        return float((c - b).mean())

    lo, hi = 3 * delta, 0.0  # the shift is larger in size than the difference it makes
    for _ in range(40):
        mid = (lo + hi) / 2
        if mean_difference(mid) < delta:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def run(method: str, spread: float, delta: float, margin: float, seed: int) -> dict[str, Any]:
    """Judged answers until a verdict (None if the cap came first), and which verdict. ``delta`` is the
    candidate's shift of the expected score (calibrated by the caller)."""
    rng = np.random.default_rng(seed)
    paired, cand, base = ScoreSums(), ScoreSums(), ScoreSums()
    answers = 0
    while answers < CAP:
        step = max(LOOK, int(answers * 0.05) // 2 * 2)
        if method == "paired":
            q = difficulties(rng, step // 2, spread)
            d = judged(rng, np.clip(q + delta, 0, 1)) - judged(rng, q)
            u = (d + 1) / 2
            paired = paired.add(len(u), float(u.sum()), float((u * u).sum()))
            answers += step
            lower, upper = shadow.difference_bounds(paired, ALPHA)
        else:
            qc, qb = difficulties(rng, step // 2, spread), difficulties(rng, step // 2, spread)
            c, b = judged(rng, np.clip(qc + delta, 0, 1)), judged(rng, qb)
            cand = cand.add(len(c), float(c.sum()), float((c * c).sum()))
            base = base.add(len(b), float(b.sum()), float((b * b).sum()))
            answers += step
            lower, _ = unpaired_bounds(cand, base, ALPHA)
            _, upper = unpaired_bounds(cand, base, ALPHA)
        if upper < -margin:
            return {"answers": answers, "verdict": "worse"}
        if lower > -margin:
            return {"answers": answers, "verdict": "non_inferior"}
    return {"answers": None, "verdict": "none"}


def _cell(args: tuple[str, str, float, float, int, int]) -> dict[str, Any]:
    method, family, delta, margin, runs, seed = args
    shift = calibrated(FAMILIES[family], delta)
    results = [run(method, FAMILIES[family], shift, margin, seed + i) for i in range(runs)]
    return {"method": method, "family": family, "delta": delta, "margin": margin, "results": results}


def median_answers(results: list[dict[str, Any]], verdict: str) -> str:
    got = [r["answers"] for r in results if r["verdict"] == verdict]
    if len(got) < len(results) / 2:
        return f">{CAP:,}" if not got else f">{CAP:,} ({len(got)}/{len(results)} reached)"
    # unreached runs count as above the cap, so the median is of every run
    ranked = sorted(got) + [CAP + 1] * (len(results) - len(got))
    return f"{statistics.median(ranked):,.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    started = time.monotonic()
    cells: list[tuple[str, str, float, float, int, int]] = []
    for family in FAMILIES:
        for method in ("paired", "unpaired"):
            for delta, margin in ((0.0, 0.02), (0.0, 0.05), (-0.05, 0.02), (-0.10, 0.02), (-0.02, 0.02),
                                  (-0.05, 0.05)):
                cells.append((method, family, delta, margin, args.runs, args.seed * 1_000_003))
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        done = list(pool.map(_cell, cells))
    table = {(c["method"], c["family"], c["delta"], c["margin"]): c["results"] for c in done}
    print(f"# Shadow evaluation vs unpaired online quality ({args.runs} streams a cell, seed {args.seed})\n")
    print(describe() + "\n")
    print("## Judged answers to a verdict (median; both arms counted)\n")
    print("| family | case | paired (shadow) | unpaired (online quality) | ratio |")
    print("|---|---|---|---|---|")
    cases = [("no difference: shown non-inferior, margin 0.02", 0.0, 0.02, "non_inferior"),
             ("no difference: shown non-inferior, margin 0.05", 0.0, 0.05, "non_inferior"),
             ("5-point drop: shown worse, margin 0.02", -0.05, 0.02, "worse"),
             ("10-point drop: shown worse, margin 0.02", -0.10, 0.02, "worse")]
    for family in FAMILIES:
        for label, delta, margin, verdict in cases:
            p = median_answers(table[("paired", family, delta, margin)], verdict)
            u = median_answers(table[("unpaired", family, delta, margin)], verdict)
            try:
                ratio = f"{float(p.replace(',', '')) / float(u.replace(',', '')):.2f}"
            except ValueError:
                ratio = "-"
            print(f"| {family} | {label} | {p} | {u} | {ratio} |")
    print("\n## At the margin (delta = -margin): false passes and false blocks\n")
    print("| family | method | margin | shown non-inferior | shown worse |")
    print("|---|---|---|---|---|")
    for family in FAMILIES:
        for method in ("paired", "unpaired"):
            for margin in (0.02, 0.05):
                results = table[(method, family, -margin, margin)]
                n = len(results)
                passes = sum(r["verdict"] == "non_inferior" for r in results)
                blocks = sum(r["verdict"] == "worse" for r in results)
                lo_p, hi_p = wilson(passes, n)
                lo_b, hi_b = wilson(blocks, n)
                print(f"| {family} | {method} | {margin} | {passes / n:.1%} [{lo_p:.1%}, {hi_p:.1%}] | "
                      f"{blocks / n:.1%} [{lo_b:.1%}, {hi_b:.1%}] |")
    print(f"\n{time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
