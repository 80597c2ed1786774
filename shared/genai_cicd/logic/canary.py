"""Canary: start at the first step, judge each interval, step up, promote or roll back."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

from genai_cicd.canary import planning
from genai_cicd.canary.decision import CanaryEvidence, judge_streams, judged_metrics
from genai_cicd.canary.planning import PlanEstimate
from genai_cicd.deps import Deps
from genai_cicd.errors import ReleaseFenced, RollbackVerificationFailed
from genai_cicd.logic.context import evidence_key, load_manifest
from genai_cicd.logic.online_quality import score_interval
from genai_cicd.logic.probes import probes_needed
from genai_cicd.models.manifest import CanaryPlan, OnlineQuality, ReleaseManifest
from genai_cicd.models.tasks import CanaryState, ProbeState, ReleaseContext, RollbackResult
from genai_cicd.models.traffic import TrafficReceipt
from genai_cicd.ports import OtelGenAINames, TrafficShifter
from genai_cicd.shorten import shorten

FULL = 100.0


def shifter(deps: Deps, release: ReleaseContext, manifest: ReleaseManifest) -> TrafficShifter:
    """The adapter that moves this release's traffic (built by Deps from the manifest's mechanism)."""
    return deps.traffic(release.release_id, manifest)


def fenced_shift(deps: Deps, release: ReleaseContext, manifest: ReleaseManifest, weight: float) -> TrafficReceipt:
    """Move traffic only while this release holds the lock, and check again after the move.

    A reconciler (cancel, stopped execution) releases the lock before it rolls
    back. A shift already in flight when that happens sees the lock gone on its
    second check and undoes itself, so traffic never stays on a dead release.
    """
    if deps.lock.holder(manifest.app, manifest.environment) != release.release_id:
        raise ReleaseFenced(f"release {release.release_id} no longer holds {manifest.app}/{manifest.environment}")
    traffic = shifter(deps, release, manifest)
    receipt = traffic.set_weight(weight)
    if deps.lock.holder(manifest.app, manifest.environment) != release.release_id:
        traffic.rollback()
        raise ReleaseFenced(f"release {release.release_id} lost its lock while shifting; traffic restored")
    return receipt


def period_start(at: datetime, period: int) -> str:
    """The start of the metric period holding ``at``: a canary's windows are whole periods on
    CloudWatch's own boundaries, so where a step began within its period never changes which
    datapoints a window holds (the seconds before the shift count for the arms as they were)."""
    return datetime.fromtimestamp(int(at.timestamp()) // period * period, tz=at.tzinfo or UTC).isoformat()


def seconds_to_next_look(window_start: str, plan: CanaryPlan, now: datetime) -> int:
    """How long the Wait before the next look sleeps: until the look after ``window_start`` has ended
    and settled (metric_settle_seconds), so each look reads one new look's worth of whole periods."""
    longest = plan.look_seconds + plan.metric_settle_seconds  # a window never starts after the current period
    due = datetime.fromisoformat(window_start) + timedelta(seconds=longest)
    return min(longest, max(1, math.ceil((due - now).total_seconds())))


PLAN_LOOKBACK_SECONDS = 900


def otel_names(manifest: ReleaseManifest) -> OtelGenAINames | None:
    """Where the OpenTelemetry GenAI metrics are, when the plan reads them (metric_names: otel_genai)."""
    plan = manifest.canary
    if plan.metric_names != "otel_genai":
        return None
    dims = plan.otel.dimensions or {"app": manifest.app, "environment": manifest.environment}
    return OtelGenAINames(dimensions=tuple(sorted(dims.items())),
                          slow_seconds=plan.slow_request_ms / 1000.0 if plan.slow_request_ms else None)


def traffic_estimate(deps: Deps, manifest: ReleaseManifest) -> PlanEstimate | None:
    """What the plan needs at the traffic of the last 15 minutes (all on the baseline before the shift).

    The rate is taken over the minutes since requests were first seen in that window, so an app
    live for five minutes is not taken for one three times slower. None when that traffic cannot
    be read or there was none: the estimate is information for the people watching, and what
    decides whether probes are sent; never an input to the verdict.
    """
    plan = manifest.canary
    end = deps.clock() - timedelta(seconds=plan.metric_settle_seconds)  # what CloudWatch has in full
    start = end - timedelta(seconds=PLAN_LOOKBACK_SECONDS)
    where: dict[str, Any] = {"namespace": plan.metrics_namespace, "app": manifest.app,
                             "environment": manifest.environment}
    otel = otel_names(manifest)
    counts = deps.metrics_reader.interval_counts_or_none(
        **where, start=start, end=end, period=PLAN_LOOKBACK_SECONDS,
        arms=("baseline",), fields=("requests", *(m.value for m in plan.metrics)), otel=otel)
    if counts is None:
        return None
    base = counts["baseline"]
    requests = base.get("requests") or 0.0
    if requests <= 0:
        return None
    seen = deps.metrics_reader.first_seen(**where, start=start, end=end, otel=otel)
    seconds = PLAN_LOOKBACK_SECONDS if seen is None else min(
        PLAN_LOOKBACK_SECONDS, max(60.0, (end - seen).total_seconds()))
    rates = {m.value: (base.get(m.value) or 0.0) / requests for m in plan.metrics if base.get(m.value) is not None}
    return planning.estimate(plan, requests_per_second=requests / seconds, baseline_rates=rates)


def start_canary(release: ReleaseContext, deps: Deps) -> CanaryState:
    manifest = load_manifest(deps, release)
    estimate = traffic_estimate(deps, manifest)
    receipt = fenced_shift(deps, release, manifest, manifest.canary.steps[0])
    # CodeDeploy sets its own first step; the others apply the manifest's exactly.
    weight = receipt.weight
    at = deps.clock()
    now = at.isoformat()
    plan_text = (estimate.sentence() if estimate is not None
                 else "no baseline traffic in the last 15 minutes: time to a verdict unknown")
    probes = probes_needed(manifest, estimate)
    extras = []
    if manifest.canary.probes is not None:
        extras.append(f"probes {'on' if probes.active else 'off'}: {probes.reason}")
    online = manifest.canary.online_quality
    if online is not None:
        extras.append(budget_sentence(online, estimate))
    window_start = period_start(at, manifest.canary.metric_period_seconds)
    return CanaryState(started_at=now, step_index=0, weight=weight, window_start=window_start,
                       step_started_at=now, wait_seconds=seconds_to_next_look(window_start, manifest.canary, at),
                       judge=CanaryEvidence(),
                       plan=bounded_plan(plan_text, extras), probes=probes)


PLAN_CHARS = 500  # what a notification and the ledger keep of a string (logic/notify.py)


def bounded_plan(estimate: str, extras: list[str]) -> str:
    """The estimate, then what probes and the judge budget will do; a long estimate is cut, never them."""
    tail = "".join(f"; {e}" for e in extras)[:PLAN_CHARS // 2]
    room = PLAN_CHARS - len(tail)
    head = estimate if len(estimate) <= room else estimate[:room - 1].rsplit(" ", 1)[0] + "…"
    return head + tail


def budget_sentence(online: OnlineQuality, estimate: PlanEstimate | None) -> str:
    """What the judge budget buys: answers scored, and how long that lasts at the observed traffic."""
    if online.store == "hashes":
        return "online quality: the app scores its answers (store: hashes), no judge calls here"
    calls = online.max_judge_calls
    text = f"online quality: a budget of {calls:,} judge calls scores up to {calls:,} answers"
    if estimate is not None and estimate.steps:
        # Both arms capture about as many answers as the canary at its share.
        per_minute = 2 * estimate.steps[0].canary_requests_per_minute * online.sample_share
        if per_minute > 0:
            text += f", about {calls / per_minute:,.0f} min of captures at the first step"
    return text


PROBE_ARMS = ("baseline-probe", "candidate-probe")


def analyze_canary(release: ReleaseContext, canary: CanaryState, deps: Deps) -> CanaryState:
    manifest = load_manifest(deps, release)
    plan = manifest.canary
    start = datetime.fromisoformat(canary.window_start)
    # Only settled periods (ended metric_settle_seconds ago: CloudWatch has every datapoint of them), and
    # whole ones, so the same datapoint is never counted in two windows and a late one is never missed.
    now = deps.clock()
    settled = now - timedelta(seconds=plan.metric_settle_seconds)
    seconds = int((settled - start).total_seconds()) // plan.metric_period_seconds * plan.metric_period_seconds
    # The canary's age is now, not the end of the settled window: waiting for CloudWatch never buys time.
    elapsed = (now - datetime.fromisoformat(canary.started_at)).total_seconds() if canary.started_at else None
    if seconds < plan.metric_period_seconds:
        # Nothing settled since the last look: bake again without a look (no interval is spent), unless
        # the canary is out of time (then it was not shown safe in time, as at any look).
        if plan.max_duration_seconds is not None and elapsed is not None and elapsed > plan.max_duration_seconds:
            return canary.model_copy(update={"action": "rollback", "outcome": "not_shown_safe", "last_reasons": [
                f"not shown safe within the maximum canary duration of {plan.max_duration_seconds} s"]})
        return canary.model_copy(update={
            "action": "continue", "wait_seconds": seconds_to_next_look(canary.window_start, plan, now),
            "last_reasons": [f"waiting for CloudWatch: periods are judged {plan.metric_settle_seconds} s after "
                             "they end"]})
    end = start + timedelta(seconds=seconds)

    otel = otel_names(manifest)

    def read(arms: tuple[str, str]) -> dict[str, dict[str, float | None]]:
        return deps.metrics_reader.interval_counts(
            namespace=plan.metrics_namespace, app=manifest.app, environment=manifest.environment,
            start=start, end=end, period=plan.metric_period_seconds, arms=arms, otel=otel)

    counts = read(("baseline", "candidate"))
    groups = read_groups(deps, manifest, start, end)
    group_note = groups_disagree(groups, counts)
    if group_note:
        groups = None  # partly ingested or partly lost: judge this look without them
    interval = canary.judge.intervals + 1
    scores, online, scores_key = score_interval(deps, release, manifest, canary.online, end, interval)
    if plan.online_quality is not None:
        counts = {"baseline": {**counts["baseline"], **scores.arm("user", "baseline")},
                  "candidate": {**counts["candidate"], **scores.arm("user", "candidate")}}
    probes = canary.probes
    probe_counts: dict[str, dict[str, float | None]] | None = None
    if probes.active:
        raw = read(PROBE_ARMS)
        probe_counts = {"baseline": dict(raw["baseline-probe"]), "candidate": dict(raw["candidate-probe"])}
        _count_crashes(probe_counts, probes)
        if plan.online_quality is not None:
            for arm in ("baseline", "candidate"):
                probe_counts[arm].update(scores.arm("probe", arm))
        cost = sum((probe_counts[a].get("cost_usd") or 0.0) for a in ("baseline", "candidate"))
        probes = probes.model_copy(update={"cost_usd": probes.cost_usd + cost, "crashed_seen": dict(probes.crashed)})
    evidence, probe_evidence, verdict, stream = judge_streams(
        plan, canary.judge, counts["baseline"], counts["candidate"],
        probe=probes.judge if probe_counts else None,
        probe_baseline=probe_counts["baseline"] if probe_counts else None,
        probe_canary=probe_counts["candidate"] if probe_counts else None, step_index=canary.step_index,
        elapsed_seconds=elapsed, step_seconds=(end - step_began(canary)).total_seconds(),
        baseline_groups=groups["baseline"] if groups else None, canary_groups=groups["candidate"] if groups else None,
        budget_spent=online.budget_spent)
    if probe_evidence is not None:
        probes = probes.model_copy(update={"judge": probe_evidence})
    notes = list(scores.notes) + ([group_note] if group_note else [])
    if probes.stopped:
        notes.append(f"probes stopped: {probes.stopped}")
    latency = deps.metrics_reader.latency_summary(namespace=plan.metrics_namespace, app=manifest.app,
                                                  environment=manifest.environment, start=start, end=end,
                                                  bound_ms=plan.slow_request_ms, otel=otel)
    # The time series for the report: one small JSON object per interval.
    key = evidence_key(release, "canary", f"interval-{evidence.intervals:04d}.json")
    deps.artifacts.put_json(key, {"start": start.isoformat(), "end": end.isoformat(), "weight": canary.weight,
                                  "counts": counts, "groups": groups, "probe_counts": probe_counts,
                                  "latency": latency,
                                  "decision": verdict.model_dump(mode="json"), "action": verdict.action,
                                  "stream": stream, "quality_scores": scores_key,
                                  "online": online.model_dump(mode="json", exclude={"cursors"}),
                                  "probes": probes.model_dump(mode="json", exclude={"judge"}), "notes": notes})
    # Whole reasons: a two-metric verdict runs to about 700 characters; ten of 2,000 fit the 256 KiB payload.
    reasons = [shorten(r, 2000) for r in (verdict.reasons + notes)[:10]]
    return CanaryState(started_at=canary.started_at, step_index=canary.step_index, weight=canary.weight,
                       action=verdict.action, outcome=verdict.outcome, window_start=end.isoformat(),
                       step_started_at=canary.step_started_at,
                       wait_seconds=seconds_to_next_look(end.isoformat(), plan, now), judge=evidence,
                       last_reasons=reasons, metric=verdict.metric, timeline_uri=deps.artifacts.uri(key),
                       plan=canary.plan, stream=stream, online=online, probes=probes)


def read_groups(deps: Deps, manifest: ReleaseManifest, start: datetime, end: datetime
                ) -> dict[str, dict[str, list[float]]] | None:
    """The window's counts per session group of both arms, when the plan asks the app for them (None:
    not asked, or the app reported none; the judge then has only its interval-to-interval estimate)."""
    plan = manifest.canary
    if plan.session_groups is None or plan.metric_names != "genai_cicd":
        return None
    count_metrics, _ = judged_metrics(plan)
    return deps.metrics_reader.group_counts(
        namespace=plan.metrics_namespace, app=manifest.app, environment=manifest.environment, start=start, end=end,
        period=plan.metric_period_seconds, groups=plan.session_groups, fields=("requests", *count_metrics))


def groups_disagree(groups: dict[str, dict[str, list[float]]] | None,
                    counts: dict[str, dict[str, float | None]]) -> str | None:
    """Why a look's session groups cannot be used, or None: each arm's groups must add up to its own
    series' counts (within 1%, or 2 requests: CloudWatch may duplicate an EMF line), or some group lines
    are missing or late and a lopsided split would pass for sessions failing together."""
    if groups is None:
        return None
    for arm, by_field in groups.items():
        for field, values in by_field.items():
            total = counts.get(arm, {}).get(field)
            if total is None or abs(sum(values) - total) > max(2.0, 0.01 * total):
                return (f"session groups not used in this look: the {arm}'s {field} per group add up to "
                        f"{sum(values):,.0f}, its own series to {'no data' if total is None else f'{total:,.0f}'}")
    return None


def step_began(canary: CanaryState) -> datetime:
    """When this step's weight was set (a state without it: the canary's start, then its first window)."""
    return datetime.fromisoformat(canary.step_started_at or canary.started_at or canary.window_start)


def _count_crashes(counts: dict[str, dict[str, float | None]], probes: ProbeState) -> None:
    """A probe whose invocation failed outright emitted no metric: count it as a request and an error."""
    for arm in ("baseline", "candidate"):
        new = probes.crashed.get(arm, 0) - probes.crashed_seen.get(arm, 0)
        if new > 0:
            c = counts[arm]
            c["requests"] = (c.get("requests") or 0.0) + new
            c["errors"] = (c.get("errors") or 0.0) + new


def next_step(release: ReleaseContext, canary: CanaryState, deps: Deps) -> CanaryState:
    manifest = load_manifest(deps, release)
    index = canary.step_index + 1
    receipt = fenced_shift(deps, release, manifest, manifest.canary.steps[index])
    weight = receipt.weight
    at = deps.clock()
    probes = canary.probes.model_copy(update={"judge": canary.probes.judge.new_step()})
    # The window goes on where the last look ended: the periods not yet settled at that look (which ran at
    # the previous weight) are judged in this step's first window, never skipped (arms are counted apart).
    return CanaryState(started_at=canary.started_at, step_index=index, weight=weight, action="continue",
                       window_start=canary.window_start, step_started_at=at.isoformat(),
                       wait_seconds=seconds_to_next_look(canary.window_start, manifest.canary, at),
                       judge=canary.judge.new_step(),
                       last_reasons=canary.last_reasons, metric=canary.metric, plan=canary.plan,
                       stream=canary.stream, online=canary.online, probes=probes)


def full_rollout(release: ReleaseContext, canary: CanaryState, deps: Deps) -> CanaryState:
    manifest = load_manifest(deps, release)
    fenced_shift(deps, release, manifest, FULL)
    return canary.model_copy(update={"weight": FULL, "action": "promote"})


def rollback(release: ReleaseContext, deps: Deps) -> RollbackResult:
    """Route everything to the baseline, then read the weight back: only a read-back of 0 is verified."""
    manifest = load_manifest(deps, release)
    target = shifter(deps, release, manifest)
    receipt = target.rollback()
    weight = target.current_weight()
    if weight != 0.0:
        raise RollbackVerificationFailed(f"after rollback the candidate still gets {weight}% of traffic")
    return RollbackResult(weight=weight, receipt=receipt)
