"""PromptRegression: golden dataset x K repeats, candidate vs baseline, scored.

Per-case outputs and the score files (DESIGN.md §5 format) go to S3; the
task returns a small summary. Inline, one invocation scores every case; with
``shard_size`` the state machine plans shards, a Distributed Map scores each
in its own invocation, and a reduce step decides over all of them. Candidate calls that fail after retries score
0 and, above ``max_error_rate``, block; baseline failures are excluded from
the pairing and, above the same rate, block too (the baseline could not be
measured, so nothing can be shown).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from genai_cicd.aws.artifacts import ArtifactStore
from genai_cicd.gates.common import ARMS, load_cases, load_variant
from genai_cicd.gates.model_scorers import DEFAULT_RUBRIC, EmbeddingCosine, LabelClassifier, LLMJudge
from genai_cicd.gates.noninferiority import decide
from genai_cicd.gates.runner import run_all
from genai_cicd.gates.scorers import SCORERS
from genai_cicd.models.dataset import GoldenCase, case_ids
from genai_cicd.models.manifest import PromptRegressionGate, ReleaseManifest
from genai_cicd.models.tasks import GateResult
from genai_cicd.providers.base import GenerationResult, ModelProvider


def build_scorers(gate: PromptRegressionGate, provider: ModelProvider, bedrock_runtime: Any) -> dict[str, Any]:
    scorers: dict[str, Any] = {}
    for name in gate.metrics:
        if name == "llm_judge":
            assert gate.judge is not None
            scorers[name] = LLMJudge(provider, gate.judge.model_id, gate.judge.rubric or DEFAULT_RUBRIC)
        elif name == "embedding_cosine":
            assert gate.embedding_model_id is not None
            scorers[name] = EmbeddingCosine(bedrock_runtime, gate.embedding_model_id)
        elif name == "classifier":
            assert gate.classifier is not None
            c = gate.classifier
            scorers[name] = LabelClassifier(provider, c.model_id, c.labels, c.pass_labels)
        else:
            scorers[name] = SCORERS[name]()
    return scorers


def run_prompt_regression(manifest: ReleaseManifest, store: ArtifactStore, provider: ModelProvider,
                          release_id: str, evidence_prefix: str, bedrock_runtime: Any = None) -> GateResult:
    """Inline: every case in this invocation, then the verdict."""
    part = score_cases(manifest, store, provider, release_id, None, bedrock_runtime)
    return reduce_parts(manifest, store, [part], evidence_prefix)


# ---------------------------------------------------------------- sharded (Distributed Map)
def plan_shards(manifest: ReleaseManifest, store: ArtifactStore, evidence_prefix: str) -> dict[str, Any]:
    """Split the golden set into contiguous shards of ``shard_size`` cases; the list goes to S3 for ItemReader."""
    gate = manifest.gates.prompt_regression
    assert gate is not None and gate.shard_size is not None
    cases, _ = load_cases(store, gate.dataset, GoldenCase)
    case_ids(cases)  # duplicate ids are refused before any model call
    shards = [{"index": i, "start": start, "end": min(start + gate.shard_size, len(cases))}
              for i, start in enumerate(range(0, len(cases), gate.shard_size))]
    uri = store.put_json(f"{evidence_prefix}/shards.json", shards)
    bucket, key = store.locate(uri)
    return {"bucket": bucket, "key": key, "shards": len(shards), "cases": len(cases)}


def score_shard(manifest: ReleaseManifest, store: ArtifactStore, provider: ModelProvider, release_id: str,
                evidence_prefix: str, shard: dict[str, int], bedrock_runtime: Any = None) -> dict[str, Any]:
    """One Distributed Map child: score cases [start, end), write them to S3, return a pointer."""
    part = score_cases(manifest, store, provider, release_id, (shard["start"], shard["end"]), bedrock_runtime)
    uri = store.put_json(f"{evidence_prefix}/shards/shard-{shard['index']:05d}.json", part)
    return {"index": shard["index"], "uri": uri, "rows": len(part["rows"])}


def reduce_shards(manifest: ReleaseManifest, store: ArtifactStore, evidence_prefix: str,
                  shards: list[dict[str, Any]]) -> GateResult:
    """After the Map: the verdict over every shard. A shard missing from S3 fails the gate (never a pass)."""
    parts = [store.read_json(s["uri"]) for s in sorted(shards, key=lambda s: int(s["index"]))]
    return reduce_parts(manifest, store, parts, evidence_prefix)


# ---------------------------------------------------------------- the two halves
def score_cases(manifest: ReleaseManifest, store: ArtifactStore, provider: ModelProvider, release_id: str,
                window: tuple[int, int] | None, bedrock_runtime: Any = None) -> dict[str, Any]:
    """Generate and score cases (all, or ``window``) x repeats x both arms. JSON-ready rows and counters."""
    gate = manifest.gates.prompt_regression
    assert gate is not None
    cases, dataset_hash = load_cases(store, gate.dataset, GoldenCase)
    ids = case_ids(cases)
    total = len(cases)
    if window is not None:
        cases, ids = cases[window[0]:window[1]], ids[window[0]:window[1]]
    variants = {"baseline": load_variant(store, "baseline", manifest.baseline),
                "candidate": load_variant(store, "candidate", manifest.candidate)}
    jobs = [(arm, cid, case, k) for arm in ARMS for cid, case in zip(ids, cases, strict=True)
            for k in range(gate.repeats)]
    scorers = build_scorers(gate, provider, bedrock_runtime)

    def call(job: tuple[str, str, GoldenCase, int]) -> tuple[GenerationResult, dict[str, float]]:
        # Generate and score in one job, so judge and embedding calls share the
        # runner's adaptive concurrency and retries.
        arm, cid, case, k = job
        result = provider.generate(variants[arm].request(case.prompt, f"{release_id}:{arm}:{cid}:{k}"))
        scored = {m: v for m, scorer in scorers.items() if (v := scorer.score(case, result.text)) is not None}
        return result, scored

    outcomes, stats = run_all(jobs, call, concurrency=gate.concurrency, max_throttle_seconds=gate.max_throttle_seconds)
    rows: list[dict[str, Any]] = []
    for outcome in outcomes:
        arm, cid, case, k = outcome.item
        scores: dict[str, float] | None
        if outcome.result is None:
            # A failed candidate call scores 0 on every metric; a failed baseline call is left out.
            scores = None if arm == "baseline" else {str(m): 0.0 for m in gate.metrics}
        else:
            scores = outcome.result[1]
        rows.append({"arm": arm, "case_id": cid, "repeat": k, "scores": scores, "error": outcome.error,
                     "output": outcome.result[0].text if outcome.result else None,
                     "output_tokens": outcome.result[0].output_tokens if outcome.result else None,
                     "latency_ms": outcome.result[0].latency_ms if outcome.result else None})
    return {"dataset_hash": dataset_hash, "cases_total": total, "cases": len(cases), "rows": rows,
            "prompt_hashes": {arm: v.prompt_hash for arm, v in variants.items()},
            "rejected_model_verdicts": {m: getattr(sc, "rejected", 0) for m, sc in scorers.items()
                                        if hasattr(sc, "rejected")},
            "runner": {"calls": stats.calls, "throttle_events": stats.throttle_events,
                       "min_concurrency": stats.min_concurrency, "seconds": round(stats.seconds, 3)}}


def reduce_parts(manifest: ReleaseManifest, store: ArtifactStore, parts: list[dict[str, Any]],
                 evidence_prefix: str) -> GateResult:
    gate = manifest.gates.prompt_regression
    assert gate is not None
    dataset_hash = parts[0]["dataset_hash"]
    total = parts[0]["cases_total"]
    covered = sum(p["cases"] for p in parts)
    per_metric: dict[str, dict[str, defaultdict[str, list[float]]]] = {
        m: {arm: defaultdict(list) for arm in ARMS} for m in gate.metrics
    }
    errors = {arm: 0 for arm in ARMS}
    rows = [row for p in parts for row in p["rows"]]
    score_rows: dict[str, list[dict[str, Any]]] = {arm: [] for arm in ARMS}
    for row in rows:
        arm = row["arm"]
        if row["error"]:
            errors[arm] += 1
        if row["scores"] is None:
            continue
        for metric_name, value in row["scores"].items():
            per_metric[metric_name][arm][row["case_id"]].append(value)
        score_rows[arm].append({"case_id": row["case_id"], "repeat": row["repeat"], "scores": row["scores"]})
    verdicts = [
        decide(m, per_metric[m]["baseline"], per_metric[m]["candidate"], threshold=policy.threshold,
               margin=policy.margin, alpha=gate.alpha)
        for m, policy in gate.metrics.items()
    ]
    calls_per_arm = total * gate.repeats
    reasons = [f"{v.metric}: {v.reason}" for v in verdicts if v.decision != "pass"]
    if covered != total or any(p["dataset_hash"] != dataset_hash for p in parts):
        reasons.append(f"only {covered} of {total} cases were scored (a shard is missing or saw another "
                       "dataset); an incomplete run never passes")
    for arm in ARMS:
        rate = errors[arm] / calls_per_arm
        if rate > gate.max_error_rate:
            reasons.append(f"{arm}: {errors[arm]} of {calls_per_arm} model calls failed after retries "
                           f"({rate:.1%} > {gate.max_error_rate:.1%}); failed calls never pass")
    status = "BLOCK" if reasons else "PASS"
    rejected: dict[str, int] = defaultdict(int)
    for p in parts:
        for m, n in p["rejected_model_verdicts"].items():
            rejected[m] += n
    verdict_doc = {
        "gate": "prompt_regression", "status": status, "dataset": gate.dataset, "dataset_hash": dataset_hash,
        "cases": total, "repeats": gate.repeats, "errors": errors, "shards": len(parts),
        "rejected_model_verdicts": dict(rejected), "prompt_hashes": parts[0]["prompt_hashes"],
        "metrics": [v.model_dump(mode="json") for v in verdicts], "reasons": reasons,
        "runner": {"calls": sum(p["runner"]["calls"] for p in parts),
                   "throttle_events": sum(p["runner"]["throttle_events"] for p in parts),
                   "min_concurrency": min(p["runner"]["min_concurrency"] for p in parts),
                   "seconds": round(sum(p["runner"]["seconds"] for p in parts), 3)},
    }
    store.put_jsonl(f"{evidence_prefix}/outputs.jsonl", rows)
    for arm in ARMS:
        store.put_jsonl(f"{evidence_prefix}/{arm}_scores.jsonl", score_rows[arm])
    uri = store.put_json(f"{evidence_prefix}/verdict.json", verdict_doc)
    summary = "; ".join(f"{v.metric} {v.decision} (cand {v.candidate_mean:.3f} vs base {v.baseline_mean:.3f}, "
                        f"LB {v.lower_bound:+.3f})" for v in verdicts)
    return GateResult(
        gate="prompt_regression", status=status, summary=summary[:2000], reasons=reasons[:50], report_uri=uri,
        dataset_hash=dataset_hash,
        stats={"cases": total, "repeats": gate.repeats, "errors": errors, "shards": len(parts),
               "metrics": {v.metric: {"decision": v.decision, "baseline_mean": round(v.baseline_mean, 4),
                                      "candidate_mean": round(v.candidate_mean, 4),
                                      "lower_bound": round(v.lower_bound, 4)} for v in verdicts}},
    )
