"""Run one named gate, and combine gate results into the quality-gate verdict."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from genai_cicd.deps import Deps
from genai_cicd.errors import InvalidInput, domain_message
from genai_cicd.gates.contract import run_schema_contract
from genai_cicd.gates.external_scores import judge_external_scores
from genai_cicd.gates.guardrail import run_guardrail_suite
from genai_cicd.gates.injection import run_injection_suite
from genai_cicd.gates.regression import plan_shards, reduce_shards, run_prompt_regression, score_shard
from genai_cicd.logic.context import evidence_key, load_manifest
from genai_cicd.models.manifest import GATE_NAMES, GateName, configured
from genai_cicd.models.regression import ShardPlan, ShardPointer
from genai_cicd.models.tasks import (
    GateResult,
    GateTaskInput,
    QualityGateInput,
    QualityVerdict,
    ReleaseContext,
)


def run_gate_task(gate: GateName, task: GateTaskInput, deps: Deps) -> GateResult | ShardPlan | ShardPointer:
    """Run a gate; a ShardPlan or ShardPointer is a Distributed Map step of prompt_regression."""
    release = task.release
    manifest = load_manifest(deps, release)
    gates = manifest.gates
    prefix = evidence_key(release, "gates", gate)
    if gate == "prompt_regression":
        regression = configured(gates.prompt_regression, gate)
        if task.action == "plan":
            return plan_shards(regression, deps.artifacts, prefix)
        if task.action == "shard" and task.shard is not None:
            return score_shard(regression, manifest, deps.artifacts, deps.provider, release.release_id, prefix,
                               task.shard, deps.embeddings)
        if task.action == "reduce" and task.plan is not None:
            return reduce_shards(regression, deps.artifacts, prefix, task.plan, _run_number(release, gate, deps))
        if regression.scores is not None:
            return judge_external_scores(regression, deps.artifacts, prefix, _run_number(release, gate, deps))
        return run_prompt_regression(regression, manifest, deps.artifacts, deps.provider, release.release_id, prefix,
                                     deps.embeddings, _run_number(release, gate, deps))
    if task.action != "run":
        raise InvalidInput(f"action: {task.action!r} is a step of prompt_regression's Distributed Map, not of {gate}")
    if gate == "injection_suite":
        return run_injection_suite(configured(gates.injection_suite, gate), manifest, deps.artifacts, deps.provider,
                                   release.release_id, prefix)
    if gate == "guardrail_suite":
        return run_guardrail_suite(configured(gates.guardrail_suite, gate), manifest, deps.artifacts,
                                   deps.guardrails, prefix)
    if gate == "schema_contract":
        return run_schema_contract(configured(gates.schema_contract, gate), manifest, deps.artifacts, deps.provider,
                                   release.release_id, prefix)
    raise ValueError(f"gate {gate!r} does not run as a gate task (bedrock_evaluation has its own function)")


def _run_number(release: ReleaseContext, gate: str, deps: Deps) -> int:
    """This run's number among every run of ``gate`` on the same candidate content (re-runs spend alpha)."""
    candidate = release.candidate_hash or release.manifest_hash
    return deps.looks.record(release.app, release.environment, candidate, gate, release.release_id)


def quality_gate(event: QualityGateInput, deps: Deps) -> QualityVerdict:
    """PASS only if every requested gate ran and passed. A missing or malformed result blocks."""
    results: dict[str, GateResult] = {}
    reasons: list[str] = []
    blocked_by: list[str] = []
    for raw in event.gates:
        if "Error" in raw:  # a branch that failed: its Catch put the error here
            name = str(raw.get("gate", "unknown"))
            blocked_by.append(name)
            cause = domain_message(raw.get("Cause", ""), 300)
            reasons.append(f"{name}: gate failed to run ({raw['Error']}): {cause}")
            continue
        try:
            result = GateResult.model_validate(raw)
        except ValidationError:
            blocked_by.append("unknown")
            reasons.append("a gate returned a malformed result")
            continue
        results[result.gate] = result
    for name in GATE_NAMES:
        if not event.release.gates.get(name):
            continue
        found = results.get(name)
        if found is None:
            if name not in blocked_by:
                blocked_by.append(name)
                reasons.append(f"{name}: requested but no result")
        elif found.status != "PASS":
            blocked_by.append(name)
            reasons += [f"{name}: {r}" for r in found.reasons] or [f"{name}: {found.summary}"]
    if not any(event.release.gates.values()):
        blocked_by.append("manifest")
        reasons.append("no gate requested: a release with no evidence is not promoted")
    decision = "BLOCK" if blocked_by else "PASS"
    doc: dict[str, Any] = {
        "release_id": event.release.release_id, "decision": decision, "blocked_by": blocked_by,
        "reasons": reasons, "gates": {n: r.model_dump(mode="json") for n, r in results.items()},
    }
    uri = deps.artifacts.put_json(evidence_key(event.release, "quality_gate.json"), doc)
    evidence = {n: {"status": r.status, "dataset_hash": r.dataset_hash, "report_uri": r.report_uri,
                    "headline": r.summary[:300]} for n, r in results.items() if r.status != "SKIPPED"}
    return QualityVerdict(decision=decision, blocked_by=blocked_by, reasons=reasons[:50], report_uri=uri,
                          evidence=evidence)
