"""Paired non-inferiority decision for one bounded metric (docs/STATISTICS.md).

Candidate and baseline answer the same cases, each K times. A case is a
cluster: its repeats are averaged first, so K only reduces per-case noise
and never inflates the sample size. The decision is

    PASS  iff  mean(candidate) >= threshold
          and  the confidence sequence shows mean(candidate - baseline) > -margin

where the confidence sequence is ``betting``'s: valid at every sample size for
any distribution of scores in [0, 1] (near-ceiling binary metrics, all-equal
samples, a few cases that break), and at every look, so the regression gate
may stop early. Evidence must be complete: every expected case and repeat is
counted, a missing candidate score as 0 (the worst) and a missing baseline
score as 1 (the best), so nothing missing can help the candidate. Cases are
taken in an order fixed by a hash of each case's content, never by a case's
name or its place in a file; score files, which carry no content, are judged
with no order at all (the capital averaged over seeded orders,
``betting.shown_in_any_order``), since any order made from them is the
scores' or the author's choice.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
from pydantic import BaseModel

from genai_cicd.gates import betting

MIN_CASES = 5
ORDER_SALT = "genai-cicd/case-order/v1"
# Alpha across runs of one candidate (same app, environment and candidate content): the first run
# gets (1 - RERUN_SHARE) of alpha, run r >= 2 gets RERUN_SHARE * alpha / 2**(r-1); the sum is alpha,
# so re-running a blocked candidate until it passes cannot raise the chance of passing a bad one.
RERUN_SHARE = 0.2
FUTILITY_Z = 2.0  # an interim look blocks when the estimate is this many standard errors below -margin

Decision = Literal["pass", "block", "inconclusive", "continue"]


class MetricVerdict(BaseModel):
    metric: str
    decision: Decision
    cases: int
    baseline_mean: float
    candidate_mean: float
    difference: float
    lower_bound: float
    upper_bound: float
    alpha: float
    margin: float
    threshold: float
    reason: str
    cases_needed: int | None = None
    # Completeness: expected scores that were absent and counted against the candidate.
    missing_candidate: int = 0
    missing_baseline: int = 0
    missing_cases: list[str] = []


def alpha_for_run(alpha: float, run: int) -> float:
    """The share of ``alpha`` that run number ``run`` (1-based) of the same candidate may spend."""
    # Rounded to 12 significant digits: 0.05 * 0.8 is 0.04000000000000001 in binary, and people read it.
    if run <= 1:
        return float(f"{alpha * (1 - RERUN_SHARE):.12g}")
    return float(f"{alpha * RERUN_SHARE / 2 ** (run - 1):.12g}")


def order_key(text: str) -> str:
    return hashlib.sha256(f"{ORDER_SALT}\n{text}".encode()).hexdigest()


def evidence(diffs: np.ndarray, margin: float, alpha: float, n_plan: int, any_order: bool = False
             ) -> tuple[bool, bool, bool]:
    """(shown within the margin, shown worse than it, futile): what every look of ``decide`` reads.

    ``diffs`` are per-case candidate - baseline means in the order the cases were taken; with
    ``any_order`` (cases with no order, read once) the order of ``diffs`` does not matter.
    Futile: the estimate is more than FUTILITY_Z standard errors below -margin, so the
    candidate would almost surely not pass at the end. Stopping for futility can only block,
    never pass, so it costs a little power and nothing of the guarantee.
    """
    shown = betting.shown_in_any_order if any_order else betting.shown
    safe = shown(diffs, -margin, "above", lo=-1.0, hi=1.0, alpha=alpha, n_plan=n_plan)
    worse = shown(diffs, -margin, "below", lo=-1.0, hi=1.0, alpha=alpha, n_plan=n_plan)
    n = len(diffs)
    futile = bool(n >= 2 and diffs.mean() + FUTILITY_Z * diffs.std(ddof=1) / math.sqrt(n) < -margin)
    return safe, worse, futile


def _complete(scores: Mapping[str, Sequence[float]], cases: Sequence[str], repeats: Mapping[str, int],
              fill: float) -> tuple[np.ndarray, int, list[str]]:
    """Per-case means over exactly the expected repeats, filling what is absent with ``fill``."""
    means, missing, where = [], 0, []
    for case in cases:
        k = repeats[case]
        values = list(scores.get(case, ()))[:k]
        absent = k - len(values)
        if absent:
            missing += absent
            where.append(case)
        means.append((sum(values) + absent * fill) / k)
    return np.array(means, dtype=float), missing, where


def decide(
    metric: str,
    baseline: Mapping[str, Sequence[float]],
    candidate: Mapping[str, Sequence[float]],
    *,
    threshold: float,
    margin: float,
    alpha: float = 0.05,
    repeats: int | Mapping[str, int] | None = None,
    cases: Sequence[str] | None = None,
    keys: Mapping[str, str] | None = None,
    n_plan: int | None = None,
    final: bool = True,
) -> MetricVerdict:
    """Compare paired per-case scores (case id -> repeat scores, each in [0, 1]).

    ``cases`` are the cases expected (default: every case in either arm) and ``repeats``
    the scores expected per case, one number or one per case (default: the most any case
    has in either arm); ``keys`` give each case's content, which fixes the order cases are
    taken in. Without ``keys`` (score files) the cases have no order: the verdict is read once,
    from the capital averaged over seeded orders, so names and file order never matter.
    ``final=False`` is an interim look (needs ``keys``): it may "pass" or "block" early, else
    "continue".
    """
    if keys is None and not final:
        raise ValueError("an interim look needs an order: pass each case's content as keys")
    expected = sorted(set(baseline) | set(candidate)) if cases is None else list(cases)
    if isinstance(repeats, Mapping):
        per_case = {case: max(1, repeats.get(case, 1)) for case in expected}
    else:
        k = repeats or max([len(v) for v in (*baseline.values(), *candidate.values())] or [1])
        per_case = dict.fromkeys(expected, k)
    b, missing_b, where_b = _complete(baseline, expected, per_case, 1.0)
    c, missing_c, where_c = _complete(candidate, expected, per_case, 0.0)
    any_order = keys is None
    if keys is not None:
        order = sorted(range(len(expected)), key=lambda i: (order_key(keys[expected[i]]), expected[i]))
        b, c = b[order], c[order]
    n = len(expected)
    missing_cases = sorted(set(where_b) | set(where_c))
    common: dict[str, object] = dict(
        metric=metric, cases=n, alpha=alpha, margin=margin, threshold=threshold,
        missing_candidate=missing_c, missing_baseline=missing_b, missing_cases=missing_cases[:20],
    )
    missing_note = ""
    if missing_c or missing_b:
        missing_note = (f" ({missing_c} candidate and {missing_b} baseline scores absent, counted against the "
                        f"candidate, in {len(missing_cases)} cases)")
    if n < MIN_CASES:
        return MetricVerdict(
            decision="inconclusive" if final else "continue",
            baseline_mean=float(b.mean()) if n else math.nan, candidate_mean=float(c.mean()) if n else math.nan,
            difference=float((c - b).mean()) if n else math.nan, lower_bound=-1.0, upper_bound=1.0,
            reason=f"inconclusive: only {n} paired cases (need at least {MIN_CASES})", cases_needed=MIN_CASES,
            **common,  # type: ignore[arg-type]
        )
    diffs = c - b
    plan = n_plan or n
    bounds = betting.bounds_in_any_order if any_order else betting.bounds
    lower, upper = bounds(diffs, lo=-1.0, hi=1.0, alpha=alpha, n_plan=plan)
    diff, cand_mean = float(diffs.mean()), float(c.mean())
    common.update(baseline_mean=float(b.mean()), candidate_mean=cand_mean, difference=diff,
                  lower_bound=lower, upper_bound=upper)
    safe, worse, futile = evidence(diffs, margin, alpha, plan, any_order)

    def verdict(decision: Decision, reason: str, needed: int | None = None) -> MetricVerdict:
        return MetricVerdict(decision=decision, reason=reason + missing_note, cases_needed=needed,
                             **common)  # type: ignore[arg-type]

    if not final:
        if threshold > 0 and betting.shown(c, threshold, "below", lo=0.0, hi=1.0, alpha=alpha, n_plan=plan):
            return verdict("block", f"candidate mean {cand_mean:.3f} is shown below the threshold {threshold:.3f} "
                                    f"after {n} cases")
        if worse:
            return verdict("block", f"regression shown early: candidate - baseline = {diff:.3f}, upper bound "
                                    f"{upper:.3f} < -{margin:.3f} after {n} cases")
        if futile:
            return verdict("block", f"stopped for futility after {n} cases: candidate - baseline = {diff:.3f} is "
                                    f"more than {FUTILITY_Z:g} standard errors below -{margin:.3f}")
        above = threshold <= 0 or betting.shown(c, threshold, "above", lo=0.0, hi=1.0, alpha=alpha, n_plan=plan)
        if safe and above:
            return verdict("pass", f"non-inferior after {n} cases: lower bound {lower:.3f} > -{margin:.3f}")
        return verdict("continue", f"no decision after {n} cases (lower bound {lower:.3f}, margin {margin:.3f})")
    if cand_mean < threshold:
        return verdict("block", f"candidate mean {cand_mean:.3f} is below the threshold {threshold:.3f}")
    if safe:
        return verdict("pass", f"non-inferior: lower bound of candidate - baseline is {lower:.3f} > -{margin:.3f} "
                               f"at alpha {alpha:g}")
    if not worse and diff > -margin / 2:
        # Harmless-looking but not yet shown: the bound narrows like 1/sqrt(cases), and at least
        # log(1/alpha)/log(1 + CAP * gap) cases are needed when a single case could fail outright.
        gap = (diff + margin) / 2
        floor = math.log(1 / alpha) / math.log1p(betting.CAP * gap / max((1 - margin) / 2, 1e-9))
        needed = max(math.ceil(n * ((diff - lower) / (diff + margin)) ** 2), math.ceil(floor), n + 1)
        return verdict("inconclusive", f"inconclusive: not yet shown within the margin; lower bound {lower:.3f} "
                                       f"<= -{margin:.3f} with {n} cases, need about {needed} cases (or more "
                                       "repeats); a re-run of this candidate is counted and spends less alpha",
                       needed)
    return verdict("block", f"regression: candidate - baseline = {diff:.3f}, lower bound {lower:.3f} <= "
                            f"-{margin:.3f} at alpha {alpha:g}")
