"""Canary judge benchmark: the product's decision vs Kayenta as it ships vs two simpler rules.

The plan is the one the targets of docs/STATISTICS.md are stated for: one step at
5%, one-minute intervals, up to 120, metrics errors (baseline 1%) and slow
requests (baseline 2%). Streams come from bench/canary_streams.py: independent
requests, bursts, per-arm overdispersion, sticky users, heavy sticky users (issue
#27), a realised split off the
nominal weight, and very low traffic (1 request/s). Every contender sees the same
streams (paired) and looks at every interval.

Contenders:
- ours: ``genai_cicd.canary.decision.judge`` with the plan's defaults (alpha 0.05,
  detect_ratio 2, rollback_tolerance 0.2) -- the function AnalyzeCanary calls.
  Promotes when shown safe; rolls back when shown harmful or not shown safe by
  the 120th interval.
- Kayenta as it ships: NetflixACAJudge + MannWhitneyClassifier defaults --
  per metric, the per-interval rates of canary and baseline (missing values as
  0), a two-sided 98% Mann-Whitney (Hodges-Lehmann) interval of the shift, a
  metric is High when the lower end exceeds 0.25 x |estimate| (Low: the upper
  end under -0.25 x |estimate|); with two equally weighted metrics one
  non-passing metric scores 50, under the marginal 75, so the canary fails.
  Run over all intervals so far at every interval ("increase": only High fails;
  "either": High or Low fails); promoted at the end of the 120 minutes. The
  interval uses the order statistics of the pairwise differences at the normal
  approximation's rank (R's wilcox.test refines this for ties).
- one-sided Mann-Whitney p < 0.02 and mean ratio > 1.25: the rule this
  benchmark called "Kayenta-style" before (increase only).
- static 2x alarm: a metric's canary rate over twice the baseline's for 5
  minutes in a row (a CloudWatch alarm behind CodeDeploy); promoted at the end.

    python bench/canary_judge.py [--runs 200] [--seed 1] [--workers 2]

Prints Markdown (docs/bench/canary_judge.md holds a run).
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import cache

import numpy as np
from canary_streams import FAMILIES, group_intervals, intervals, stream
from common import describe, wilson
from scipy.stats import mannwhitneyu, norm

from genai_cicd.canary.decision import CanaryEvidence, judge
from genai_cicd.models.manifest import CanaryPlan

PLAN = CanaryPlan(steps=[5], bake_seconds=60, max_intervals_per_step=120, metrics=["errors", "slow_requests"])
METRICS: tuple[str, ...] = tuple(m.value for m in PLAN.metrics)
MINUTES = 120
SHARE = 0.05
RATES = {"errors": 0.01, "slow_requests": 0.02}
CELLS: tuple[tuple[str, str, float], ...] = tuple((f, f, 20.0) for f in FAMILIES) + (
    ("low traffic (1 request/s)", "independent", 1.0),)
# effect -> (errors ratio, slow requests ratio, share of the canary's requests failing besides)
EFFECTS: dict[str, tuple[float, float, float]] = {
    "harmless": (1.0, 1.0, 0.0), "2x errors": (2.0, 1.0, 0.0), "5x errors": (5.0, 1.0, 0.0),
    "3x slow requests": (1.0, 3.0, 0.0),
    # catastrophes as issue #27 states them: 20x the 1% error rate (14-26% of requests with the
    # daily drift), a broken candidate failing half or every one of its requests
    "20x errors": (20.0, 1.0, 0.0), "half fail": (1.0, 1.0, 0.5), "every request fails": (1.0, 1.0, 1.0)}
CATASTROPHES = ("20x errors", "half fail", "every request fails")
Arm = dict[str, float | None]
Look = Callable[[Arm, Arm], str]  # -> "continue" | "promote" | "rollback" | "rollback (not shown safe)"


@dataclass
class Outcome:
    action: str  # promote | rollback
    harmful: bool  # rolled back on evidence of harm (ours), or by the rule (others)
    minute: int


GROUPS = 16  # session groups the app reports per arm (plan session_groups)
GROUPED = f"ours + {GROUPS} session groups"


def ours_grouped(groups: list[tuple[dict[str, list[float]], dict[str, list[float]]]]) -> Look:
    """Ours with the per-group sums the app reports (genai_cicd_app with a sticky key, plan session_groups)."""
    evidence = [CanaryEvidence()]
    minute = [0]

    def look(baseline: Arm, canary: Arm) -> str:
        b_groups, c_groups = groups[minute[0]]
        minute[0] += 1
        evidence[0], verdict = judge(PLAN, evidence[0], baseline, canary, step_index=0, baseline_groups=b_groups,
                                     canary_groups=c_groups, explain=False)
        if verdict.action == "rollback" and verdict.outcome == "not_shown_safe":
            return "rollback (not shown safe)"
        return "promote" if verdict.action == "promote" else verdict.action
    return look


def grouped_contender(s: dict[str, np.ndarray]) -> Callable[[], Look]:
    groups = group_intervals(s)
    return lambda: ours_grouped(groups)


def ours() -> Look:
    evidence = [CanaryEvidence()]

    def look(baseline: Arm, canary: Arm) -> str:
        evidence[0], verdict = judge(PLAN, evidence[0], baseline, canary, step_index=0, explain=False)
        if verdict.action == "rollback" and verdict.outcome == "not_shown_safe":
            return "rollback (not shown safe)"
        return "promote" if verdict.action == "promote" else verdict.action
    return look


Z98 = float(norm.ppf(0.99))


class ShiftInterval:
    """Hodges-Lehmann estimate and two-sided 98% interval of (canary - baseline), grown one pair at a time.

    The pairwise differences are kept sorted (insertion by binary search), so a look costs O(n)
    instead of re-sorting n^2 differences.
    """

    def __init__(self) -> None:
        self.x: list[float] = []
        self.y: list[float] = []
        self.diffs: np.ndarray = np.empty(0)

    def add(self, x: float, y: float) -> None:
        new = np.concatenate([x - np.asarray(self.y + [y]), np.asarray(self.x) - y])
        new.sort()
        self.diffs = np.insert(self.diffs, np.searchsorted(self.diffs, new), new)
        self.x.append(x)
        self.y.append(y)

    def interval(self) -> tuple[float, float, float]:
        n1, n2 = len(self.x), len(self.y)
        n = n1 * n2
        k = int(math.floor(n / 2 - Z98 * math.sqrt(n1 * n2 * (n1 + n2 + 1) / 12)))
        estimate = float(np.median(self.diffs))
        if k < 0:  # 98% is not attainable with this few values: the interval is everything (Pass)
            return estimate, -math.inf, math.inf
        return estimate, float(self.diffs[k]), float(self.diffs[n - 1 - k])


def kayenta(direction: str) -> Look:
    """NetflixACAJudge + MannWhitneyClassifier defaults, over all intervals so far."""
    shifts = {m: ShiftInterval() for m in METRICS}
    seen: dict[str, tuple[list[float], list[float]]] = {m: ([], []) for m in METRICS}
    minute = [0]

    def look(baseline: Arm, canary: Arm) -> str:
        minute[0] += 1
        failing = False
        for metric, shift in shifts.items():
            m = str(metric)
            n_c, n_b = canary.get("requests") or 0.0, baseline.get("requests") or 0.0
            x = (canary.get(m) or 0.0) / n_c if n_c else 0.0  # missing values as 0 (nanStrategy "replace")
            y = (baseline.get(m) or 0.0) / n_b if n_b else 0.0
            shift.add(x, y)
            seen[m][0].append(x)
            seen[m][1].append(y)
            if len(set(seen[m][0] + seen[m][1])) == 1 or sorted(seen[m][0]) == sorted(seen[m][1]):
                continue  # identical or all-tied data pass
            estimate, lower, upper = shift.interval()
            bound = 0.25 * abs(estimate)
            if lower > bound or (direction == "either" and upper < -bound):
                failing = True
        if failing:
            return "rollback"
        return "promote" if minute[0] >= MINUTES else "continue"
    return look


@cache
def _arrangements(n1: int, n2: int) -> tuple[int, ...]:
    """How many of the C(n1+n2, n1) orderings give U = 0, 1, ..., n1*n2 (the exact null distribution)."""
    if n1 == 0 or n2 == 0:
        return (1,)
    with_x, with_y = _arrangements(n1 - 1, n2), _arrangements(n1, n2 - 1)
    return tuple((with_x[u - n2] if 0 <= u - n2 < len(with_x) else 0) + (with_y[u] if u < len(with_y) else 0)
                 for u in range(n1 * n2 + 1))


def exact_sf(u: int, n1: int, n2: int) -> float:
    counts = _arrangements(min(n1, n2), max(n1, n2))
    return sum(counts[u:]) / math.comb(n1 + n2, n1)


class MannWhitney:
    """One-sided Mann-Whitney test of x > y, grown one pair of values at a time.

    The same p-value as scipy's default (exact for small tie-free samples, else the normal
    approximation with tie and continuity corrections), updated in O(n) per value;
    ``check_against_scipy`` confirms it at every start.
    """

    def __init__(self) -> None:
        self.x: list[float] = []
        self.y: list[float] = []
        self.u = 0.0
        self.tie = 0.0
        self.seen: dict[float, int] = {}

    def _count(self, v: float) -> None:
        c = self.seen.get(v, 0)
        self.tie += 3 * c * c + 3 * c
        self.seen[v] = c + 1

    def add_x(self, v: float) -> None:
        self.u += sum(1.0 if v > w else 0.5 if v == w else 0.0 for w in self.y)
        self.x.append(v)
        self._count(v)

    def add_y(self, v: float) -> None:
        self.u += sum(1.0 if w > v else 0.5 if w == v else 0.0 for w in self.x)
        self.y.append(v)
        self._count(v)

    def p_greater(self) -> float:
        n1, n2 = len(self.x), len(self.y)
        n = n1 + n2
        if min(n1, n2) <= 8 and len(self.seen) == n:
            return exact_sf(round(self.u), n1, n2)
        sd = math.sqrt(n1 * n2 / 12.0 * ((n + 1) - self.tie / (n * (n - 1))))
        if sd == 0:
            return 1.0
        z = (self.u - n1 * n2 / 2.0 - 0.5) / sd
        return 0.5 * math.erfc(z / math.sqrt(2))


def check_against_scipy(samples: int = 60) -> None:
    """Refuse to run if the incremental Mann-Whitney disagrees with scipy (tied and tie-free rates)."""
    rng = np.random.default_rng(0)
    for i in range(samples):
        test = MannWhitney()
        steps = int(rng.integers(3, 60))
        for step in range(1, steps + 1):
            a, b = (rng.binomial(40, 0.05, 2) / 40) if i % 2 else rng.random(2)
            test.add_x(float(a))
            test.add_y(float(b))
            if len(test.seen) == 1 or 10 < step < steps:
                continue
            ours_p = test.p_greater()
            scipy_p = float(mannwhitneyu(test.x, test.y, alternative="greater").pvalue)
            if not math.isclose(ours_p, scipy_p, rel_tol=1e-9, abs_tol=1e-12):
                raise SystemExit(f"Mann-Whitney mismatch: {ours_p} != scipy {scipy_p} at n = {len(test.x)}")


def mw_p02_ratio125() -> Look:
    """One-sided Mann-Whitney p < 0.02 on per-interval rates and mean ratio > 1.25, per metric."""
    tests = {m: MannWhitney() for m in METRICS}
    sums = {m: [0.0, 0.0] for m in METRICS}
    minute = [0]

    def look(baseline: Arm, canary: Arm) -> str:
        minute[0] += 1
        n_c, n_b = canary.get("requests") or 0.0, baseline.get("requests") or 0.0
        for metric, test in tests.items():
            m = str(metric)
            if not n_c or not n_b:
                continue
            x, y = (canary.get(m) or 0.0) / n_c, (baseline.get(m) or 0.0) / n_b
            test.add_x(x)
            test.add_y(y)
            sums[m][0] += y
            sums[m][1] += x
            if len(test.x) < 3 or len(test.seen) == 1:
                continue
            ratio = sums[m][1] / sums[m][0] if sums[m][0] > 0 else math.inf
            if test.p_greater() < 0.02 and ratio > 1.25:
                return "rollback"
        return "promote" if minute[0] >= MINUTES else "continue"
    return look


def static_alarm() -> Look:
    breaching = {m: 0 for m in METRICS}
    minute = [0]

    def look(baseline: Arm, canary: Arm) -> str:
        minute[0] += 1
        n_c, n_b = canary.get("requests") or 0.0, baseline.get("requests") or 0.0
        for metric in breaching:
            m = str(metric)
            over = bool(n_c and n_b and (canary.get(m) or 0.0) / n_c > 2 * (baseline.get(m) or 0.0) / n_b)
            breaching[m] = breaching[m] + 1 if over else 0
            if breaching[m] >= 5:
                return "rollback"
        return "promote" if minute[0] >= MINUTES else "continue"
    return look


CONTENDERS: dict[str, Callable[[], Look]] = {
    "ours (alpha 0.05)": ours,
    "Kayenta as it ships, direction either": lambda: kayenta("either"),
    "Kayenta as it ships, direction increase": lambda: kayenta("increase"),
    "one-sided MW p<0.02 and ratio>1.25": mw_p02_ratio125,
    "static 2x alarm, 5 minutes": static_alarm,
}


def play(make: Callable[[], Look], data: list[tuple[Arm, Arm]]) -> Outcome:
    look = make()
    for minute, (baseline, canary) in enumerate(data, start=1):
        action = look(baseline, canary)
        if action != "continue":
            return Outcome(action.split()[0], action == "rollback", minute)
    return Outcome("rollback", False, len(data))  # the stream ended undecided: not promoted


def cell(job: tuple[str, str, float, int, int]) -> dict[str, dict[str, list[Outcome]]]:
    label, family, rps, runs, seed = job
    out: dict[str, dict[str, list[Outcome]]] = {}
    for e, (effect, (errors, slow, share_failing)) in enumerate(EFFECTS.items()):
        rng = np.random.default_rng([seed, len(label), int(rps), e])
        raw = [stream(family, rng, minutes=MINUTES, rps=rps, share=SHARE, groups=GROUPS,
                      rates={"errors": (RATES["errors"], errors), "slow_requests": (RATES["slow_requests"], slow)},
                      failing={"errors": share_failing} if share_failing else None)
               for _ in range(runs)]
        streams = [intervals(s) for s in raw]
        out[effect] = {name: [play(make, data) for data in streams] for name, make in CONTENDERS.items()}
        out[effect][GROUPED] = [play(grouped_contender(s), data) for s, data in zip(raw, streams, strict=True)]
    return out


def rate(k: int, n: int) -> str:
    lo, hi = wilson(k, n)
    return f"{k / n:.1%} [{lo:.1%}, {hi:.1%}]"


def minutes(values: list[int]) -> str:
    if not values:
        return "- | -"
    return f"{statistics.median(values):.0f} | {float(np.percentile(values, 90)):.0f}"


def table(label: str, results: dict[str, dict[str, list[Outcome]]]) -> str:
    lines = [f"\n## {label}\n",
             "| effect | contender | rolled back as harmful [95% CI] | promoted [95% CI] | median / p90 min to "
             "rollback | median / p90 min to promote |", "|---|---|---|---|---|---|"]
    for effect, by_contender in results.items():
        for name, outs in by_contender.items():
            harmful = [o.minute for o in outs if o.action == "rollback" and o.harmful]
            promoted = [o.minute for o in outs if o.action == "promote"]
            lines.append(f"| {effect} | {name} | {rate(len(harmful), len(outs))} | {rate(len(promoted), len(outs))} "
                         f"| {minutes(harmful)} | {minutes(promoted)} |")
    return "\n".join(lines)


def targets(all_results: dict[str, dict[str, dict[str, list[Outcome]]]]) -> str:
    """The targets of docs/STATISTICS.md against ours, on the streams above."""
    def ours_of(label: str, effect: str) -> list[Outcome]:
        return all_results[label][effect]["ours (alpha 0.05)"]

    rows = []
    for label in all_results:
        if label.startswith("low traffic"):
            continue
        outs = ours_of(label, "harmless")
        k = sum(o.action == "rollback" and o.harmful for o in outs)
        rows.append((f"harmless, {label}: rolled back as harmful <= 5%", rate(k, len(outs)), k / len(outs) <= 0.05))
    ind = "independent"
    outs = ours_of(ind, "harmless")
    k = sum(o.action == "promote" for o in outs)
    rows.append(("harmless, independent: promoted (shown safe) >= 85%", rate(k, len(outs)), k / len(outs) >= 0.85))
    outs = ours_of(ind, "2x errors")
    k = sum(o.action == "promote" for o in outs)
    rows.append(("2x errors: promoted <= 5%", rate(k, len(outs)), k / len(outs) <= 0.05))
    k = sum(o.action == "rollback" for o in outs)
    rows.append(("2x errors: rolled back >= 75%", rate(k, len(outs)), k / len(outs) >= 0.75))
    outs = ours_of(ind, "5x errors")
    k = sum(o.action == "rollback" and o.harmful for o in outs)
    med = statistics.median(o.minute for o in outs)
    rows.append(("5x errors: rolled back every time, median <= 4 intervals",
                 f"{rate(k, len(outs))}, median {med:.0f}", k == len(outs) and med <= 4))
    outs = ours_of(ind, "3x slow requests")
    k = sum(o.action == "rollback" for o in outs)
    rows.append(("3x slow requests: rolled back >= 85%", rate(k, len(outs)), k / len(outs) >= 0.85))
    lines = ["\n## Targets (ours, streams above)\n", "| target | measured | met |", "|---|---|---|"]
    lines += [f"| {t} | {m} | {'yes' if ok else 'NO'} |" for t, m, ok in rows]
    return "\n".join(lines)


def catastrophes(all_results: dict[str, dict[str, dict[str, list[Outcome]]]]) -> str:
    """When ours rolls back a catastrophe: the share at the first, second and third look (one a minute), against
    issue #27's target (every stream: half or every request failing at the first look, 20x by the second)."""
    lines = ["\n## Catastrophes: the look at which ours rolls back (issue #27)\n",
             "| stream family | effect | at look 1 | by look 2 | by look 3 | median look | max look | target met |",
             "|---|---|---|---|---|---|---|---|"]
    for label, results in all_results.items():
        for effect in CATASTROPHES:
            outs = results[effect]["ours (alpha 0.05)"]
            looks = [o.minute if o.action == "rollback" and o.harmful else MINUTES + 1 for o in outs]
            n = len(looks)
            by = 2 if effect == "20x errors" else 1
            lines.append(f"| {label} | {effect} | " + " | ".join(rate(sum(x <= k for x in looks), n) for k in (1, 2, 3))
                         + f" | {statistics.median(looks):.0f} | {max(looks)} | "
                         + f"{'yes' if max(looks) <= by else 'NO'} (look {by}) |")
    return "\n".join(lines)


ONSET = 20  # minute at which the late regression starts


def late_onset(job: tuple[str, int, int]) -> str:
    """2x errors from minute ONSET of the single 120-minute step (issue #27): how often ours promotes after the
    regression began, and how long after onset it rolls back."""
    family, runs, seed = job
    rng = np.random.default_rng([seed, len(family), ONSET])
    outs = [play(ours, intervals(stream(family, rng, minutes=MINUTES, rps=20, share=SHARE, onset=ONSET,
                                        rates={"errors": (RATES["errors"], 2.0),
                                               "slow_requests": (RATES["slow_requests"], 1.0)})))
            for _ in range(runs)]
    before = sum(o.action == "promote" and o.minute <= ONSET for o in outs)
    after = [o.minute - ONSET for o in outs if o.action == "promote" and o.minute > ONSET]
    harmful = [o.minute - ONSET for o in outs if o.action == "rollback" and o.harmful]
    return (f"| {family} | {rate(before, runs)} | {rate(len(after), runs)} | "
            f"{statistics.median(after) if after else '-'} | {rate(len(harmful), runs)} | {minutes(harmful)} |")


def missing_data_promotions(runs: int, seed: int) -> int:
    """Streams where the canary's slow_requests never arrive: the judge must never promote."""
    rng = np.random.default_rng(seed)
    promoted = 0
    for _ in range(runs):
        data = intervals(stream("independent", rng, minutes=MINUTES, rps=20, share=SHARE,
                                rates={"errors": (0.01, 1.0), "slow_requests": (0.02, 1.0)}))
        outcome = play(ours, [(b, {**c, "slow_requests": None}) for b, c in data])
        promoted += outcome.action == "promote"
    return promoted


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--families", default=",".join(c[0] for c in CELLS),
                        help="comma-separated labels of the stream families to run")
    args = parser.parse_args()
    started = time.perf_counter()
    check_against_scipy()
    chosen = [c for c in CELLS if c[0] in args.families.split(",")]
    print(f"# Canary judge: {args.runs} streams per cell, {MINUTES} one-minute intervals at {SHARE:.0%}, looked at "
          f"every interval; errors 1% and slow requests 2% on the baseline\n")
    print(describe())
    print("\nPlan: `steps: [5]`, `bake_seconds: 60`, `max_intervals_per_step: 120`, metrics errors and "
          "slow_requests (errors critical), everything else the defaults. `rolled back as harmful` excludes "
          "ours' rollbacks as \"not shown safe\" at the 120th interval; the others never decide early to "
          "promote, so they promote at minute 120 unless their rule fired.")
    jobs = [(label, family, rps, args.runs, args.seed) for label, family, rps in chosen]
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        results = dict(zip([j[0] for j in jobs], pool.map(cell, jobs), strict=True))
    for label, res in results.items():
        print(table(label, res))
    if "independent" in results:
        print(targets(results))
    print(catastrophes(results))
    print(f"\n## 2x errors from minute {ONSET} of the step (issue #27), ours\n\n| stream family | promoted before "
          "onset (harmless then) | promoted after onset | median minutes after onset, when promoted | rolled back as "
          "harmful | median / p90 min from onset to rollback |\n|---|---|---|---|---|---|")
    onset_families = [f for f in ("independent", "bursts", "overdispersed", "split off nominal")
                      if f in args.families.split(",")]
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        for row in pool.map(late_onset, [(f, args.runs, args.seed) for f in onset_families]):
            print(row)
    missing = min(args.runs, 50)
    print(f"\nStreams with the canary's slow_requests missing: {missing_data_promotions(missing, args.seed)} "
          f"promotions in {missing} streams.")
    print(f"\n(took {time.perf_counter() - started:.0f} s with {args.workers} workers)")


if __name__ == "__main__":
    main()
