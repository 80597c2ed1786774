"""Canary: start at the first step, judge each interval, step up, promote or roll back."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

from genai_cicd.aws.cloudwatch import latency_summary
from genai_cicd.aws.traffic import AppConfigFlag, CodeDeployLambda, LambdaAlias, TrafficShifter
from genai_cicd.canary.cost import cost_check, interval_log_ratio
from genai_cicd.canary.judge import JudgeConfig, JudgeState, judge_interval
from genai_cicd.errors import ReleaseFenced
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


def _now() -> datetime:
    return datetime.now(UTC)


def start_canary(release: ReleaseContext, deps: Deps) -> CanaryState:
    manifest = load_manifest(deps, release)
    receipt = fenced_shift(deps, release, manifest, manifest.canary.steps[0])
    # CodeDeploy sets its own first step; the others apply the manifest's exactly.
    weight = float(receipt.get("weight", manifest.canary.steps[0]))
    now = _now().isoformat()
    return CanaryState(started_at=now, step_index=0, weight=weight, window_start=now, judge=JudgeState())


def analyze_canary(release: ReleaseContext, canary: CanaryState, deps: Deps) -> CanaryState:
    manifest = load_manifest(deps, release)
    plan = manifest.canary
    start = datetime.fromisoformat(canary.window_start)
    end = _now()
    # Whole periods only, so the same datapoint is never counted in two windows.
    seconds = max(plan.metric_period_seconds, int((end - start).total_seconds()) // plan.metric_period_seconds
                  * plan.metric_period_seconds)
    end = start + timedelta(seconds=seconds)
    counts = deps.metrics_reader.interval_counts(
        namespace=plan.metrics_namespace, app=manifest.app, environment=manifest.environment,
        start=start, end=end, period=plan.metric_period_seconds,
    )
    config = JudgeConfig(metrics=[m.value for m in plan.metrics],
                         critical_metrics=[m.value for m in plan.critical_metrics], alpha=plan.alpha,
                         min_canary_requests=plan.planned_sample(canary.weight),
                         max_intervals=plan.max_intervals_per_step)
    state, decision = judge_interval(canary.judge, counts["baseline"], counts["candidate"], config)
    ratio = interval_log_ratio(counts["baseline"], counts["candidate"])
    if ratio is not None:
        state = state.model_copy(update={"cost_log_ratios": [*state.cost_log_ratios, ratio]})
    metric = decision.metric
    reasons = list(decision.reasons)
    verdict = decision.decision
    if plan.max_cost_increase is not None and verdict != "rollback":
        cost, lower, upper = cost_check(state.cost_log_ratios, plan.alpha / plan.max_intervals_per_step,
                                        plan.max_cost_increase)
        span = f"x{math.exp(lower):.2f}..x{math.exp(upper):.2f}" if cost != "unknown" else "not enough intervals"
        if cost == "over":
            verdict, metric = "rollback", "cost_per_request"
            reasons.insert(0, f"cost_per_request: canary/baseline {span}, above the allowed "
                              f"+{plan.max_cost_increase:.0%}")
        elif verdict == "promote" and cost == "unknown":
            out_of_time = state.step_intervals >= plan.max_intervals_per_step
            verdict = "rollback" if out_of_time else "continue"
            metric = "cost_per_request" if out_of_time else None
            reasons.insert(0, f"cost_per_request not yet shown within +{plan.max_cost_increase:.0%} ({span})")
    if plan.max_duration_seconds is not None and canary.started_at and verdict != "rollback":
        elapsed = (end - datetime.fromisoformat(canary.started_at)).total_seconds()
        final_step = canary.step_index + 1 >= len(plan.steps)
        if elapsed >= plan.max_duration_seconds and not (verdict == "promote" and final_step):
            verdict, metric = "rollback", None
            reasons.insert(0, f"maximum canary duration {plan.max_duration_seconds}s reached before promotion")
    if verdict == "promote":
        action = "promote" if canary.step_index + 1 >= len(plan.steps) else "next_step"
    else:
        action = verdict
    latency = latency_summary(deps.client("cloudwatch"), namespace=plan.metrics_namespace, app=manifest.app,
                              environment=manifest.environment, start=start, end=end,
                              bound_ms=plan.slow_request_ms)
    # The time series for the report: appended per interval (small JSON lines).
    key = evidence_key(release, "canary", f"interval-{state.intervals:04d}.json")
    recorded = decision.model_dump(mode="json") | {"metric": metric, "reasons": reasons}
    deps.artifacts.put_json(key, {"start": start.isoformat(), "end": end.isoformat(), "weight": canary.weight,
                                  "counts": counts, "latency": latency, "decision": recorded, "action": action})
    return CanaryState(started_at=canary.started_at, step_index=canary.step_index, weight=canary.weight, action=action,
                       window_start=end.isoformat(), judge=state, last_reasons=reasons[:10],
                       metric=metric, timeline_uri=deps.artifacts.uri(key))


def next_step(release: ReleaseContext, canary: CanaryState, deps: Deps) -> CanaryState:
    manifest = load_manifest(deps, release)
    index = canary.step_index + 1
    receipt = fenced_shift(deps, release, manifest, manifest.canary.steps[index])
    weight = float(receipt.get("weight", manifest.canary.steps[index]))
    return CanaryState(started_at=canary.started_at, step_index=index, weight=weight, action="continue",
                       window_start=_now().isoformat(),
                       judge=canary.judge.new_step(), last_reasons=canary.last_reasons)


def full_rollout(release: ReleaseContext, canary: CanaryState, deps: Deps) -> CanaryState:
    manifest = load_manifest(deps, release)
    fenced_shift(deps, release, manifest, FULL)
    return canary.model_copy(update={"weight": FULL, "action": "promote"})


def rollback(release: ReleaseContext, deps: Deps) -> RollbackResult:
    manifest = load_manifest(deps, release)
    receipt: dict[str, Any] = shifter(deps, release, manifest).rollback()
    return RollbackResult(weight=0.0, verified=True, receipt=json.loads(json.dumps(receipt, default=str)))
