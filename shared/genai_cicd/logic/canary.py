"""Canary: start at the first step, judge each interval, step up, promote or roll back."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from genai_cicd.aws.cloudwatch import latency_summary
from genai_cicd.aws.traffic import AppConfigFlag, CodeDeployLambda, LambdaAlias, TrafficShifter
from genai_cicd.canary import planning
from genai_cicd.canary.decision import CanaryEvidence, judge
from genai_cicd.canary.planning import PlanEstimate
from genai_cicd.errors import ReleaseFenced, RollbackVerificationFailed
from genai_cicd.logic.context import evidence_key, load_manifest
from genai_cicd.logic.deps import Deps
from genai_cicd.models.manifest import ReleaseManifest
from genai_cicd.models.tasks import CanaryState, ReleaseContext, RollbackResult

FULL = 100.0


def shifter(deps: Deps, release: ReleaseContext, manifest: ReleaseManifest) -> TrafficShifter:
    plan = manifest.canary
    if plan.mechanism == "codedeploy":
        assert plan.codedeploy is not None
        assert manifest.baseline.lambda_version and manifest.candidate.lambda_version
        cd = plan.codedeploy
        return CodeDeployLambda(deps.client("codedeploy"), deps.client("lambda"), application=cd.application_name,
                                deployment_group=cd.deployment_group_name, function_name=cd.function_name,
                                alias=cd.alias, baseline_version=manifest.baseline.lambda_version,
                                candidate_version=manifest.candidate.lambda_version, release_id=release.release_id)
    if plan.mechanism == "lambda_alias":
        assert plan.alias is not None
        assert manifest.baseline.lambda_version and manifest.candidate.lambda_version
        return LambdaAlias(deps.client("lambda"), function_name=plan.alias.function_name, alias=plan.alias.alias,
                           baseline_version=manifest.baseline.lambda_version,
                           candidate_version=manifest.candidate.lambda_version)
    target = plan.appconfig
    cfg = deps.config
    return AppConfigFlag(
        deps.client("appconfig"),
        application_id=target.application_id or cfg.appconfig_application_id,
        environment_id=target.environment_id or cfg.appconfig_environment_id,
        profile_id=target.configuration_profile_id or cfg.appconfig_profile_id,
        strategy_id=target.deployment_strategy_id or cfg.appconfig_strategy_id,
        baseline=manifest.baseline.model_dump(mode="json"), candidate=manifest.candidate.model_dump(mode="json"),
        release_id=release.release_id,
    )


def fenced_shift(deps: Deps, release: ReleaseContext, manifest: ReleaseManifest, weight: float) -> dict[str, Any]:
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


PLAN_LOOKBACK_SECONDS = 900


def traffic_estimate(deps: Deps, manifest: ReleaseManifest) -> PlanEstimate | None:
    """What the plan needs at the traffic of the last 15 minutes (all on the baseline before the shift).

    None when that traffic cannot be read or there was none: the estimate is information for
    the people watching, never an input to the decision.
    """
    plan = manifest.canary
    end = deps.clock()
    try:
        counts = deps.metrics_reader.interval_counts(
            namespace=plan.metrics_namespace, app=manifest.app, environment=manifest.environment,
            start=end - timedelta(seconds=PLAN_LOOKBACK_SECONDS), end=end, period=PLAN_LOOKBACK_SECONDS,
            arms=("baseline",), fields=("requests", *(m.value for m in plan.metrics)))
    except ClientError:
        return None
    base = counts["baseline"]
    requests = base.get("requests") or 0.0
    if requests <= 0:
        return None
    rates = {m.value: (base.get(m.value) or 0.0) / requests for m in plan.metrics if base.get(m.value) is not None}
    return planning.estimate(plan, requests_per_second=requests / PLAN_LOOKBACK_SECONDS, baseline_rates=rates)


def start_canary(release: ReleaseContext, deps: Deps) -> CanaryState:
    manifest = load_manifest(deps, release)
    estimate = traffic_estimate(deps, manifest)
    receipt = fenced_shift(deps, release, manifest, manifest.canary.steps[0])
    # CodeDeploy sets its own first step; the others apply the manifest's exactly.
    weight = float(receipt.get("weight", manifest.canary.steps[0]))
    now = deps.clock().isoformat()
    plan_text = (estimate.sentence() if estimate is not None
                 else "no baseline traffic in the last 15 minutes: time to a verdict unknown")
    return CanaryState(started_at=now, step_index=0, weight=weight, window_start=now, judge=CanaryEvidence(),
                       plan=plan_text[:1000])


def analyze_canary(release: ReleaseContext, canary: CanaryState, deps: Deps) -> CanaryState:
    manifest = load_manifest(deps, release)
    plan = manifest.canary
    start = datetime.fromisoformat(canary.window_start)
    end = deps.clock()
    # Whole periods only, so the same datapoint is never counted in two windows.
    seconds = max(plan.metric_period_seconds, int((end - start).total_seconds()) // plan.metric_period_seconds
                  * plan.metric_period_seconds)
    end = start + timedelta(seconds=seconds)
    counts = deps.metrics_reader.interval_counts(
        namespace=plan.metrics_namespace, app=manifest.app, environment=manifest.environment,
        start=start, end=end, period=plan.metric_period_seconds,
    )
    elapsed = (end - datetime.fromisoformat(canary.started_at)).total_seconds() if canary.started_at else None
    evidence, verdict = judge(plan, canary.judge, counts["baseline"], counts["candidate"],
                              step_index=canary.step_index, elapsed_seconds=elapsed)
    latency = latency_summary(deps.client("cloudwatch"), namespace=plan.metrics_namespace, app=manifest.app,
                              environment=manifest.environment, start=start, end=end,
                              bound_ms=plan.slow_request_ms)
    # The time series for the report: one small JSON object per interval.
    key = evidence_key(release, "canary", f"interval-{evidence.intervals:04d}.json")
    deps.artifacts.put_json(key, {"start": start.isoformat(), "end": end.isoformat(), "weight": canary.weight,
                                  "counts": counts, "latency": latency, "decision": verdict.model_dump(mode="json"),
                                  "action": verdict.action})
    return CanaryState(started_at=canary.started_at, step_index=canary.step_index, weight=canary.weight,
                       action=verdict.action, outcome=verdict.outcome, window_start=end.isoformat(), judge=evidence,
                       last_reasons=[r[:500] for r in verdict.reasons[:10]], metric=verdict.metric,
                       timeline_uri=deps.artifacts.uri(key), plan=canary.plan)


def next_step(release: ReleaseContext, canary: CanaryState, deps: Deps) -> CanaryState:
    manifest = load_manifest(deps, release)
    index = canary.step_index + 1
    receipt = fenced_shift(deps, release, manifest, manifest.canary.steps[index])
    weight = float(receipt.get("weight", manifest.canary.steps[index]))
    return CanaryState(started_at=canary.started_at, step_index=index, weight=weight, action="continue",
                       window_start=deps.clock().isoformat(), judge=canary.judge.new_step(),
                       last_reasons=canary.last_reasons, metric=canary.metric, plan=canary.plan)


def full_rollout(release: ReleaseContext, canary: CanaryState, deps: Deps) -> CanaryState:
    manifest = load_manifest(deps, release)
    fenced_shift(deps, release, manifest, FULL)
    return canary.model_copy(update={"weight": FULL, "action": "promote"})


def rollback(release: ReleaseContext, deps: Deps) -> RollbackResult:
    """Route everything to the baseline, then read the weight back: only a read-back of 0 is verified."""
    manifest = load_manifest(deps, release)
    target = shifter(deps, release, manifest)
    receipt: dict[str, Any] = target.rollback()
    weight = target.current_weight()
    if weight != 0.0:
        raise RollbackVerificationFailed(f"after rollback the candidate still gets {weight}% of traffic")
    return RollbackResult(weight=weight, verified=True, receipt=json.loads(json.dumps(receipt, default=str)))
