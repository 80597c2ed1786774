"""The canary decision: one function for AnalyzeCanary, ``genai-cicd canary judge`` and bench/.

Each interval, for every judged metric of the plan (docs/STATISTICS.md):

- shown harmful: the anytime-valid lower bound of the canary/baseline ratio is
  above the tolerance (count metrics: rate ratio above 1 + rollback_tolerance;
  cost or tokens per request: above 1 + their allowed increase). Evidence of
  harm is pooled over every step and shared by k checks (Bonferroni, alpha/k
  each, of which CATASTROPHE_SHARE goes to the catastrophe check below). A
  critical metric rolls back as soon as it is shown harmful; the others once
  the step's minimum sample was served. -> rollback.
- catastrophe (critical metrics, from the first look): the same e-value with
  alternatives 5-100 times the tolerance, tempered by the plan's
  catastrophe_dispersion (the dispersion cannot be estimated yet), at its share
  of alpha/k. A canary failing half its requests is rolled back at the first look.
- shown safe: the step's own anytime-valid upper bound is below the allowance
  (detect_ratio for counts, 1 + the allowed increase for cost and tokens), for
  every judged metric at once (an intersection: each at alpha), after the
  step's minimum sample, on an interval where every metric arrived. -> the next
  step, or promote after the last.
- quality (when the plan has ``quality_margin``): the mean of bounded scores of
  each arm, pooled over every step (an answer's quality does not depend on the
  load); shown harmful when the anytime-valid upper bound of canary - baseline
  is below -quality_margin, shown safe when its lower bound is above it. An
  interval with captured answers left unscored (judge budget spent, scorer
  down) is incomplete: it never promotes.
- neither by ``max_intervals_per_step`` or ``max_duration_seconds`` -> rollback,
  "not shown safe" (never a promotion on missing or insufficient data).
- otherwise -> continue.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from genai_cicd.canary.sequential import (
    CATASTROPHE_MULTIPLES,
    Dispersion,
    GroupEvidence,
    PairedMeans,
    ScoreSums,
    StepCounts,
    difference_bounds,
    interval_harm_score,
    log_e_harm,
    log_e_rate_below,
    log_e_safe,
    ratio_bounds,
    ratio_estimate,
    ratio_lower,
    ratio_upper,
    shown_above,
    shown_below,
)
from genai_cicd.canary.shadow import difference_bounds as paired_difference_bounds

if TYPE_CHECKING:
    from genai_cicd.models.manifest import CanaryPlan

Action = Literal["continue", "next_step", "promote", "rollback"]
Outcome = Literal["baking", "shown_safe", "shown_harmful", "not_shown_safe"]
# No rollback on the pooled evidence of harm before this many intervals: the dispersion of the
# counts is estimated from differences of successive intervals and needs at least one pair (shrunk
# toward 1 by PRIOR_WEIGHT), and WITHOUT_WORST needs an interval besides the worst. Two, not three:
# 20x the errors is then rolled back by the second look on independent traffic (issue #27; the
# harmless canaries rolled back, measured in docs/BENCHMARKS.md §1, moved by one stream in 200).
MIN_HARM_INTERVALS = 2
# Without the interval that pushed hardest toward harm, the evidence must still reach this
# share of the harm bound (in log terms): one incident is not a regression.
WITHOUT_WORST = 0.35
# Share of each harm check's alpha/k spent on the catastrophe check (the rest on the pooled harm test).
CATASTROPHE_SHARE = 0.2
# Share of alpha spent on "the canary's rate is negligible" (the rest on the ratio).
NEGLIGIBLE_SHARE = 0.2
# Per-request paired checks: the plan's allowance field, and the arms' fields they divide.
PAIRED_CHECKS: dict[str, tuple[str, tuple[str, ...]]] = {
    "cost_per_request": ("max_cost_increase", ("cost_usd",)),
    "tokens_per_request": ("max_token_increase", ("input_tokens", "output_tokens")),
}
Arm = dict[str, float | None]
Groups = dict[str, list[float]]  # per field ("requests", a metric): one arm's sums per session group
Stream = Literal["user", "probe"]
QUALITY = "quality"


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CountEvidence(Model):
    steps: list[StepCounts] = Field(default_factory=lambda: [StepCounts()])
    dispersion: Dispersion = Field(default_factory=Dispersion)
    # The interval that pushed hardest toward harm: [step, x_c, n_c, x_b, n_b, score].
    worst: list[float] | None = None
    # Per session group, over the whole canary, when the app reports them (plan session_groups).
    groups: GroupEvidence | None = None

    def add(self, x_c: float, n_c: float, x_b: float, n_b: float, theta0: float) -> CountEvidence:
        score = interval_harm_score(x_c, n_c, x_b, n_b, theta0)
        worst = self.worst
        if worst is None or score > worst[5]:
            worst = [float(len(self.steps) - 1), x_c, n_c, x_b, n_b, score]
        return CountEvidence(steps=[*self.steps[:-1], self.steps[-1].add(x_c, n_c, x_b, n_b)],
                             dispersion=self.dispersion.add(x_c, n_c, x_b, n_b), worst=worst, groups=self.groups)

    def add_groups(self, canary: Groups, baseline: Groups, metric: str) -> CountEvidence:
        """Fold one interval's per-group sums of both arms (the metric's and the requests')."""
        groups = self.groups or GroupEvidence()
        return self.model_copy(update={"groups": groups.add(canary[metric], canary["requests"], baseline[metric],
                                                            baseline["requests"])})

    def dispersion_factor(self) -> float:
        """The larger of the two estimates: successive intervals (bursts, wobbling arms) and session groups
        (a session's failures, however long it lasts)."""
        return max(self.dispersion.factor(), self.groups.factor() if self.groups is not None else 1.0)

    def without_worst(self) -> list[StepCounts]:
        """The steps' counts without the interval that pushed hardest toward harm."""
        if self.worst is None:
            return self.steps
        step, x_c, n_c, x_b, n_b, _ = self.worst
        out = list(self.steps)
        i = int(step)
        out[i] = out[i].add(-x_c, -n_c, -x_b, -n_b)
        return out


class PairedEvidence(Model):
    total: PairedMeans = PairedMeans()
    step: PairedMeans = PairedMeans()


class QualityEvidence(Model):
    """Scores of both arms, pooled over every step."""

    canary: ScoreSums = ScoreSums()
    baseline: ScoreSums = ScoreSums()
    unscored: float = 0.0  # captured answers no scorer could score, over the whole canary
    # Pairs (probe traffic: one prompt to each variant): (canary - baseline + 1) / 2 of each pair. When the
    # stream has pairs, they decide (canary/shadow.py's paired bounds): the prompt's difficulty cancels.
    pairs: ScoreSums = ScoreSums()


class CanaryEvidence(Model):
    """Everything the judge has seen; small enough to travel in Step Functions state."""

    counts: dict[str, CountEvidence] = Field(default_factory=dict)
    paired: dict[str, PairedEvidence] = Field(default_factory=dict)
    quality: QualityEvidence = QualityEvidence()
    step_canary_requests: float = 0.0  # in intervals where both arms reported every judged metric
    step_canary_arrived: float = 0.0  # in every interval of the step
    step_intervals: int = 0
    intervals: int = 0

    def new_step(self) -> CanaryEvidence:
        return CanaryEvidence(
            counts={m: e.model_copy(update={"steps": [*e.steps, StepCounts()]}) for m, e in self.counts.items()},
            paired={m: e.model_copy(update={"step": PairedMeans()}) for m, e in self.paired.items()},
            quality=self.quality, step_canary_requests=0.0, step_canary_arrived=0.0, step_intervals=0,
            intervals=self.intervals)


class MetricBounds(Model):
    """One judged metric, as a person reads it: canary/baseline ratio, its bounds and the allowance."""

    estimate: float | None
    lower: float | None  # anytime-valid, all steps, at alpha / k
    upper: float | None  # anytime-valid, this step, at alpha
    harm_above: float  # roll back when lower > this
    allowance: float  # shown safe when upper < this
    status: Literal["harmful", "safe", "negligible", "undecided", "no data"]
    canary: str  # all steps: "12 of 3,400 requests (0.35%)"
    baseline: str
    canary_this_step: str = ""


class Verdict(Model):
    interval: int
    action: Action
    outcome: Outcome
    metric: str | None = None  # what decided a rollback, or the last metric shown safe
    reasons: list[str]
    metrics: dict[str, MetricBounds] = Field(default_factory=dict)


def judged_metrics(plan: CanaryPlan) -> tuple[list[str], list[str]]:
    """(count metrics, paired checks) the plan judges; "quality" counts among the paired checks."""
    counts = [m.value for m in plan.metrics]
    paired = [name for name, (field, _) in PAIRED_CHECKS.items() if getattr(plan, field) is not None]
    if plan.quality_margin is not None:
        paired.append(QUALITY)
    return counts, paired


def _quality_interval(baseline: Arm, canary: Arm) -> tuple[tuple[float, float, float, float] | None, float, str]:
    """(n_c, sum_c, n_b, sum_b) of this interval, unscored answers, and a note when data is missing."""
    n_c, s_c = canary.get("quality_count"), canary.get("quality_sum")
    n_b, s_b = baseline.get("quality_count"), baseline.get("quality_sum")
    unscored = (canary.get("quality_unscored") or 0.0) + (baseline.get("quality_unscored") or 0.0)
    if n_c is None or s_c is None or n_b is None or s_b is None:
        return None, unscored, f"quality: no data for the {'canary' if n_c is None or s_c is None else 'baseline'}"
    return (n_c, s_c, n_b, s_b), unscored, ""


def _paired_means(baseline: Arm, canary: Arm, fields: tuple[str, ...]) -> tuple[float, float] | None:
    """(canary, baseline) mean per request of the fields' sum in this interval; None without data."""
    n_b, n_c = baseline.get("requests"), canary.get("requests")
    values_b = [baseline.get(f) for f in fields]
    values_c = [canary.get(f) for f in fields]
    if not n_b or not n_c or any(v is None for v in values_b + values_c):
        return None
    total_b = sum(v for v in values_b if v is not None)
    total_c = sum(v for v in values_c if v is not None)
    if total_b <= 0 or total_c < 0:
        return None
    return total_c / n_c, total_b / n_b


def _rate(bad: float, requests: float) -> str:
    return f"{bad:,.0f} of {requests:,.0f} requests ({bad / requests:.2%})" if requests else "no requests"


def _scores(s: ScoreSums) -> str:
    return f"{s.n:,.0f} answers scored, mean {s.total / s.n:.3f}" if s.n else "no answers scored"


PLAIN = {"errors": "error rate", "slow_requests": "slow-request rate", "low_quality": "low-quality rate",
         "guardrail_interventions": "guardrail intervention rate", QUALITY: "mean quality score of live answers"}


def _times(x: float | None) -> str:
    """A ratio in words: 2.35 -> '2.35 times', inf -> 'unbounded' (too little data to bound it)."""
    if x is None or math.isnan(x):
        return "unknown"
    if math.isinf(x):
        return "unbounded" if x > 0 else "0 times"
    return f"{x:.2f} times"


def _range(lower: float | None, upper: float | None) -> str:
    """Where the ratio can lie, in words: 'between 1.2 and 3.4 times', 'at least 5.5 times'."""
    if lower is None or upper is None or math.isnan(lower) or math.isnan(upper):
        return "too little data to bound it"
    if math.isinf(upper):
        return f"at least {_times(lower)}, no upper bound yet"
    return f"between {_times(lower).removesuffix(' times')} and {_times(upper)}"


def _signed(x: float | None) -> str:
    if x is None or math.isnan(x):
        return "unknown"
    if math.isinf(x):
        return "unbounded"
    return f"{x:+.2f}"


def judge(plan: CanaryPlan, evidence: CanaryEvidence, baseline: Arm, canary: Arm, *, step_index: int,
          elapsed_seconds: float | None = None, step_seconds: float | None = None,
          baseline_groups: Groups | None = None, canary_groups: Groups | None = None,
          explain: bool = True) -> tuple[CanaryEvidence, Verdict]:
    """Fold one interval (per-arm sums, None = CloudWatch had no datapoint) into the evidence and decide.

    ``step_seconds``: how long this step has served, up to the end of the judged periods. A step shown
    safe before bake_seconds keeps serving (and looking) until it has served them; None: no minimum
    (a replayed stream without times). ``explain=False`` skips the confidence bounds (for the
    benchmark's many thousands of streams); the decision is the same.
    """
    count_metrics, paired_checks = judged_metrics(plan)
    k = len(count_metrics) + len(paired_checks)
    alpha = plan.alpha
    log_harm = math.log(k / (alpha * (1 - CATASTROPHE_SHARE)))
    log_catastrophe = math.log(k / (alpha * CATASTROPHE_SHARE))
    log_safe_ratio = math.log(1 / (alpha * (1 - NEGLIGIBLE_SHARE)))
    log_safe_rate = math.log(1 / (alpha * NEGLIGIBLE_SHARE))
    theta_harm = 1.0 + plan.rollback_tolerance
    last_step = step_index + 1 >= len(plan.steps)
    notes: list[str] = []
    n_c, n_b = canary.get("requests"), baseline.get("requests")
    complete = bool(n_c) and bool(n_b)
    counts = dict(evidence.counts)
    paired = dict(evidence.paired)
    if not (n_c and n_b):  # None (no datapoint) or 0 in either arm
        notes.append("no canary or no baseline requests in this interval")
    else:
        for metric in count_metrics:
            x_c, x_b = canary.get(metric), baseline.get(metric)
            if x_c is None or x_b is None:
                complete = False
                notes.append(f"{metric}: no data for the {'canary' if x_c is None else 'baseline'}")
                continue
            counts[metric] = counts.get(metric, CountEvidence()).add(x_c, n_c, x_b, n_b, theta_harm)
            if (canary_groups is not None and baseline_groups is not None and _grouped(canary_groups, metric)
                    and _grouped(baseline_groups, metric)):
                counts[metric] = counts[metric].add_groups(canary_groups, baseline_groups, metric)
        for check in paired_checks:
            if check == QUALITY:
                continue
            means = _paired_means(baseline, canary, PAIRED_CHECKS[check][1])
            if means is None:
                complete = False
                notes.append(f"{check}: no data for one arm")
                continue
            pe = paired.get(check, PairedEvidence())
            sizes = (n_c, n_b)
            paired[check] = PairedEvidence(total=pe.total.add(*means, *sizes), step=pe.step.add(*means, *sizes))
    quality = evidence.quality
    if QUALITY in paired_checks:
        sums, unscored, missing = _quality_interval(baseline, canary)
        if sums is not None:
            pairs = quality.pairs
            if canary.get("quality_pairs"):
                n_pairs = float(canary.get("quality_pairs") or 0.0)
                pairs = pairs.add(n_pairs, float(canary.get("quality_pairs_sum") or 0.0),
                                  canary.get("quality_pairs_sum_squares"))
            quality = QualityEvidence(
                canary=quality.canary.add(sums[0], sums[1], canary.get("quality_sum_squares")),
                baseline=quality.baseline.add(sums[2], sums[3], baseline.get("quality_sum_squares")),
                unscored=quality.unscored + unscored, pairs=pairs)
        if missing:
            complete = False
            notes.append(missing)
        if unscored > 0:
            # Fail closed: an answer nobody scored might be the bad one.
            complete = False
            notes.append(f"quality: {unscored:,.0f} captured answers unscored in this interval "
                         "(judge budget spent or scorer failed): no promotion on this interval")
    step_requests = evidence.step_canary_requests + ((n_c or 0.0) if complete else 0.0)
    arrived = evidence.step_canary_arrived + (n_c or 0.0)
    new = CanaryEvidence(counts=counts, paired=paired, quality=quality, step_canary_requests=step_requests,
                         step_canary_arrived=arrived, step_intervals=evidence.step_intervals + 1,
                         intervals=evidence.intervals + 1)
    # Why fewer requests count than arrived: say it where the count is printed.
    uncounted = (f" ({arrived:,.0f} arrived; an interval counts only when both arms report every judged metric)"
                 if arrived > step_requests else "")
    sample_reached = step_requests >= plan.min_canary_requests_per_step
    may_harm = new.intervals >= MIN_HARM_INTERVALS

    harmful: list[str] = []
    catastrophes: set[str] = set()
    unsafe: list[str] = []
    bounds: dict[str, MetricBounds] = {}
    for metric in count_metrics:
        ev = counts.get(metric)
        if ev is None or sum(s.canary_requests for s in ev.steps) <= 0:
            unsafe.append(metric)
            bounds[metric] = MetricBounds(estimate=None, lower=None, upper=None, harm_above=theta_harm,
                                          allowance=plan.detect_ratio, status="no data", canary="no data",
                                          baseline="no data")
            continue
        disp = ev.dispersion_factor()
        critical = metric in plan.critical_metrics
        # No single interval rolls back on its own (WITHOUT_WORST). An extra condition only makes
        # the test stricter, so its error rate stays at most alpha/k.
        is_harmful = (may_harm and (critical or sample_reached)
                      and log_e_harm(ev.steps, theta_harm, disp) >= log_harm
                      and log_e_harm(ev.without_worst(), theta_harm, disp) >= log_harm * WITHOUT_WORST)
        # A catastrophe needs no third look: its own share of alpha, tempered by the declared dispersion
        # (or the estimated one, when larger) because the dispersion cannot be estimated from one interval.
        if (not is_harmful and critical and log_e_harm(ev.steps, theta_harm, max(plan.catastrophe_dispersion, disp),
                                                       CATASTROPHE_MULTIPLES) >= log_catastrophe):
            is_harmful = True
            catastrophes.add(metric)
        step = ev.steps[-1]
        negligible = log_e_rate_below(step.canary_bad, step.canary_requests, plan.negligible_rate,
                                      max(ev.dispersion.arms()[0], ev.groups.factor() if ev.groups else 1.0)
                                      ) >= log_safe_rate
        is_safe = negligible or log_e_safe(ev.steps[-1:], plan.detect_ratio, disp) >= log_safe_ratio
        if is_harmful:
            harmful.append(metric)
        elif not is_safe:
            unsafe.append(metric)
        if explain:
            c_bad, c_n = sum(s.canary_bad for s in ev.steps), sum(s.canary_requests for s in ev.steps)
            b_bad, b_n = sum(s.baseline_bad for s in ev.steps), sum(s.baseline_requests for s in ev.steps)
            est = ratio_estimate(ev.steps)
            bounds[metric] = MetricBounds(
                estimate=None if math.isnan(est) else est,
                lower=ratio_lower(ev.steps, k / (alpha * (1 - CATASTROPHE_SHARE)), disp),
                upper=ratio_upper(ev.steps[-1:], 1 / (alpha * (1 - NEGLIGIBLE_SHARE)), disp),
                harm_above=theta_harm, allowance=plan.detect_ratio,
                status="harmful" if is_harmful else "negligible" if negligible else "safe" if is_safe
                else "undecided", canary=_rate(c_bad, c_n), baseline=_rate(b_bad, b_n),
                canary_this_step=_rate(step.canary_bad, step.canary_requests))
    for check in paired_checks:
        if check == QUALITY:
            continue
        limit = 1.0 + float(getattr(plan, PAIRED_CHECKS[check][0]))
        pe = paired.get(check, PairedEvidence())
        # Harm on every step's evidence at alpha/k, safety on this step's at alpha (as for counts).
        is_harmful = may_harm and pe.total.n >= 1 and shown_above(pe.total, limit, alpha / k)
        is_safe = pe.step.n >= 1 and shown_below(pe.step, limit, alpha)
        if is_harmful:
            harmful.append(check)
        elif not is_safe:
            unsafe.append(check)
        if explain:
            lower, _ = ratio_bounds(pe.total, alpha / k)
            _, upper = ratio_bounds(pe.step, alpha)
            paired_estimate = pe.total.ratio() if pe.total.n else None
            bounds[check] = MetricBounds(
                estimate=paired_estimate, lower=lower, upper=upper, harm_above=limit,
                allowance=limit,
                status="harmful" if is_harmful else "safe" if is_safe else "no data" if not pe.total.n
                else "undecided",
                canary=f"{pe.total.n} intervals paired", baseline=f"{pe.step.n} in this step")

    if QUALITY in paired_checks:
        margin = float(plan.quality_margin or 0.0)
        q = quality
        has_data = q.canary.n > 0 and q.baseline.n > 0
        if q.pairs.n > 0:  # paired answers (probes): the difference of each pair, not of two arms' means
            harm_lower, harm_upper = paired_difference_bounds(q.pairs, alpha / k)
            safe_lower, _ = paired_difference_bounds(q.pairs, alpha)
        else:
            harm_lower, harm_upper = difference_bounds(q.canary, q.baseline, alpha / k)
            safe_lower, _ = difference_bounds(q.canary, q.baseline, alpha)
        critical = QUALITY in plan.critical_metrics
        is_harmful = has_data and may_harm and (critical or sample_reached) and harm_upper < -margin
        is_safe = has_data and safe_lower > -margin
        if is_harmful:
            harmful.append(QUALITY)
        elif not is_safe:
            unsafe.append(QUALITY)
        if explain:
            bounds[QUALITY] = MetricBounds(
                estimate=(2 * q.pairs.mean() - 1 if q.pairs.n > 0
                          else q.canary.mean() - q.baseline.mean()) if has_data else None,
                lower=safe_lower if has_data else None, upper=harm_upper if has_data else None,
                harm_above=-margin, allowance=-margin,
                status="harmful" if is_harmful else "safe" if is_safe else "undecided" if has_data else "no data",
                canary=_scores(q.canary) + (f" ({q.pairs.n:,.0f} in pairs, judged as pairs)" if q.pairs.n else ""),
                baseline=_scores(q.baseline))

    def say(metric: str) -> str:
        """One metric in plain words: what each arm saw, the ratio, the range it may take, the lines."""
        b = bounds.get(metric)
        name = PLAIN.get(metric, metric.replace("_", " "))
        if b is None:
            return name
        if metric == QUALITY:
            return (f"{name}: canary {b.canary} vs baseline {b.baseline}; the difference is {_signed(b.estimate)} "
                    f"(could be {_signed(b.lower)} to {_signed(b.upper)}); harm is shown when that whole range is "
                    f"below {_signed(b.harm_above)}, safety when it is all above {_signed(b.allowance)}")
        if b.status == "no data":
            return f"{name}: no data yet (canary {b.canary}, baseline {b.baseline})"
        if b.status == "negligible":
            return (f"{name}: the canary's rate is shown under the negligible rate {plan.negligible_rate:.2%} "
                    f"(this step {b.canary_this_step}; baseline {b.baseline})")
        # The lines apply to the range, not the estimate: an estimate of 1.21 beside "harmful above 1.20"
        # read as harm to people while the range said safe.
        lines = (f"harm is shown when that whole range is above {_times(b.harm_above)}, safety when it is all below "
                 f"{_times(b.allowance)}")
        if metric in PAIRED_CHECKS:
            return (f"{name}: canary/baseline {_times(b.estimate)} over {b.canary} ({_range(b.lower, b.upper)}); "
                    f"{lines}")
        ratio = ("the baseline had none" if b.estimate is not None and math.isinf(b.estimate)
                 else f"{_times(b.estimate)} the baseline's rate")
        return f"{name}: canary {b.canary} vs baseline {b.baseline}, {ratio} ({_range(b.lower, b.upper)}); {lines}"

    def verdict(action: Action, outcome: Outcome, metric: str | None, why: list[str]) -> tuple[CanaryEvidence,
                                                                                             Verdict]:
        return new, Verdict(interval=evidence.intervals, action=action, outcome=outcome, metric=metric,
                            reasons=(why + notes)[:20], metrics=bounds)

    if harmful:
        return verdict("rollback", "shown_harmful", harmful[0],
                       [("shown catastrophically harmful (many times the baseline's rate, at the first looks): "
                         if m in catastrophes else "shown harmful: ") + say(m) for m in harmful])
    out_of_intervals = new.step_intervals >= plan.max_intervals_per_step
    out_of_time = (plan.max_duration_seconds is not None and elapsed_seconds is not None
                   and elapsed_seconds >= plan.max_duration_seconds)
    served = step_seconds is None or step_seconds >= plan.bake_seconds
    if not unsafe and complete and sample_reached and not served and not out_of_intervals and not out_of_time:
        return verdict("continue", "baking", None, [
            f"shown safe at {plan.steps[step_index]:g}% after {step_requests:,.0f} canary requests; the step "
            f"serves at least bake_seconds ({plan.bake_seconds} s), {step_seconds:,.0f} s so far"])
    if not unsafe and complete and sample_reached and served:
        judged = count_metrics + paired_checks
        return verdict("promote" if last_step else "next_step", "shown_safe", judged[-1],
                       [f"shown safe at {plan.steps[step_index]:g}% after {step_requests:,.0f} canary requests: "
                        + "; ".join(say(m) for m in judged)])
    if out_of_intervals or out_of_time:
        deadline = (f"{plan.max_intervals_per_step} intervals at this step" if out_of_intervals
                    else f"the maximum canary duration of {plan.max_duration_seconds} s")
        pending = unsafe or ["minimum sample"]
        why = [f"not shown safe within {deadline}"]
        if not sample_reached:
            why.append(f"{step_requests:,.0f} of the {plan.min_canary_requests_per_step:,} canary requests "
                       f"this step must see{uncounted}")
        return verdict("rollback", "not_shown_safe", pending[0], why + [say(m) for m in unsafe])
    why = [f"baking at {plan.steps[step_index]:g}%: {step_requests:,.0f} canary requests this step"
           + ("" if sample_reached else f" of at least {plan.min_canary_requests_per_step:,}") + uncounted]
    why += ["not yet shown safe: " + say(m) for m in unsafe]
    return verdict("continue", "baking", None, why)


def _grouped(groups: Groups | None, metric: str) -> bool:
    """Both the metric's and the requests' per-group sums, of one length (a partial read adds nothing)."""
    if not groups or metric not in groups or "requests" not in groups:
        return False
    return len(groups[metric]) == len(groups["requests"]) >= 2


def with_alpha(plan: CanaryPlan, alpha: float) -> CanaryPlan:
    return plan.model_copy(update={"alpha": alpha})


def combine(user: Verdict, probe: Verdict) -> tuple[Verdict, Stream]:
    """One verdict from two streams judged at alpha/2 each (so the union of their errors stays at alpha).

    Harm shown in either stream rolls back; a step advances when either stream shows every judged
    metric safe and the other shows no harm; both past the deadline roll back as not shown safe.
    """
    streams: tuple[tuple[Verdict, Stream], ...] = ((user, "user"), (probe, "probe"))
    for verdict, stream in streams:
        if verdict.outcome == "shown_harmful":
            return _tagged(verdict, stream), stream
    for verdict, stream in streams:
        if verdict.outcome == "shown_safe":
            return _tagged(verdict, stream), stream
    for verdict, stream in streams:
        if verdict.action == "rollback":
            return _tagged(verdict, stream), stream
    merged = user.model_copy(update={"reasons": (user.reasons[:8] + ["probes: " + r for r in probe.reasons[:8]])})
    return merged, "user"


def _tagged(verdict: Verdict, stream: str) -> Verdict:
    return verdict if stream == "user" else verdict.model_copy(
        update={"reasons": ["probe traffic: " + r for r in verdict.reasons]})


def judge_streams(plan: CanaryPlan, user: CanaryEvidence, user_baseline: Arm, user_canary: Arm, *,
                  probe: CanaryEvidence | None = None, probe_baseline: Arm | None = None,
                  probe_canary: Arm | None = None, step_index: int, elapsed_seconds: float | None = None,
                  step_seconds: float | None = None, baseline_groups: Groups | None = None,
                  canary_groups: Groups | None = None, budget_spent: bool = False, explain: bool = True
                  ) -> tuple[CanaryEvidence, CanaryEvidence | None, Verdict, Stream]:
    """AnalyzeCanary's decision for one interval: user traffic alone, or with the probe stream beside it.

    With probes each stream is judged at alpha/2 and the verdicts are combined (``combine``).
    ``budget_spent``: the judge budget of online quality is used up, so every later interval has
    unscored answers and none can promote; a canary still baking rolls back now instead of at
    its deadline.
    """
    if probe is None or probe_baseline is None or probe_canary is None:
        evidence, verdict = judge(plan, user, user_baseline, user_canary, step_index=step_index,
                                  elapsed_seconds=elapsed_seconds, step_seconds=step_seconds,
                                  baseline_groups=baseline_groups, canary_groups=canary_groups, explain=explain)
        probe_ev: CanaryEvidence | None = None
        stream: Stream = "user"
    else:
        half = with_alpha(plan, plan.alpha / 2)
        evidence, user_verdict = judge(half, user, user_baseline, user_canary, step_index=step_index,
                                       elapsed_seconds=elapsed_seconds, step_seconds=step_seconds,
                                       baseline_groups=baseline_groups, canary_groups=canary_groups,
                                       explain=explain)
        probe_ev, probe_verdict = judge(half, probe, probe_baseline, probe_canary, step_index=step_index,
                                        elapsed_seconds=elapsed_seconds, step_seconds=step_seconds,
                                       explain=explain)
        verdict, stream = combine(user_verdict, probe_verdict)
    if budget_spent and verdict.action == "continue":
        verdict = verdict.model_copy(update={
            "action": "rollback", "outcome": "not_shown_safe", "metric": QUALITY,
            "reasons": ["not shown safe: the judge budget is spent, so no later interval can be fully scored "
                        "or promote", *verdict.reasons][:20]})
    return evidence, probe_ev, verdict, stream
