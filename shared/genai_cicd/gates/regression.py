"""PromptRegression: golden dataset x K repeats, candidate vs baseline, scored.

Per-case outputs and the score files (docs/FORMATS.md, score lines) go to S3; the
task returns a small summary. Inline, cases are scored in a fixed order (a
hash of each case's content) and the verdict is read after each planned look
(``looks``, default a quarter at a time): the gate stops at the first clear
pass or block, and the confidence sequence keeps its level at every look. With
``shard_size`` the state machine plans shards, a Distributed Map scores each
in its own invocation, and a reduce step decides over all of them at once.

Evidence is complete or counted against the candidate: a failed call (either
arm), a rejected judge verdict or an absent score is filled with the worst
value for the candidate and the best for the baseline, and failed calls above
``max_error_rate`` block on their own. Every run of the gate on the same
candidate is counted (``aws/looks.py``) and spends its share of alpha.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from genai_cicd.errors import GateError, InvalidInput
from genai_cicd.gates.common import ARMS, GateStatus, load_cases, load_variant, write_verdict
from genai_cicd.gates.model_scorers import (
    DEFAULT_RUBRIC,
    EmbeddingCosine,
    LabelClassifier,
    LLMJudge,
    VerdictRejected,
)
from genai_cicd.gates.noninferiority import MetricVerdict, alpha_for_run, decide, order_key
from genai_cicd.gates.runner import run_all
from genai_cicd.gates.scorers import SCORERS
from genai_cicd.models.dataset import GoldenCase, case_ids
from genai_cicd.models.manifest import PromptRegressionGate, ReleaseManifest
from genai_cicd.models.regression import RunnerFigures, ScoredPart, ScoredRow, Shard, ShardPlan, ShardPointer
from genai_cicd.models.tasks import GateResult
from genai_cicd.ports import Artifacts, Embeddings
from genai_cicd.providers.base import GenerationResult, ModelProvider

MIN_LOOK_CASES = 20  # an interim look on fewer cases could hardly decide anything


def case_key(case: GoldenCase) -> str:
    """The case's place in the scoring order: its content, never its id or its line."""
    return order_key(json.dumps(case.model_dump(mode="json", exclude={"id"}), sort_keys=True))


def look_sizes(n: int, looks: list[float]) -> list[int]:
    sizes = sorted({min(n, max(MIN_LOOK_CASES, math.ceil(f * n))) for f in looks} | {n})
    return sizes


def build_scorers(gate: PromptRegressionGate, provider: ModelProvider, embeddings: Embeddings | None) -> dict[str, Any]:
    scorers: dict[str, Any] = {}
    for name in gate.metrics:
        if name == "llm_judge":
            if gate.judge is None:
                raise ValueError("llm_judge needs judge settings")  # the manifest model refuses this
            scorers[name] = LLMJudge(provider, gate.judge.model_id, gate.judge.rubric or DEFAULT_RUBRIC)
        elif name == "embedding_cosine":
            if gate.embedding_model_id is None or embeddings is None:
                raise ValueError("embedding_cosine needs embedding_model_id and an embeddings adapter")
            scorers[name] = EmbeddingCosine(embeddings, gate.embedding_model_id)
        elif name == "classifier":
            if gate.classifier is None:
                raise ValueError("classifier needs classifier settings")  # the manifest model refuses this
            c = gate.classifier
            scorers[name] = LabelClassifier(provider, c.model_id, c.labels, c.pass_labels)
        else:
            scorers[name] = SCORERS[name]()
    return scorers


@dataclass(frozen=True)
class Judgement:
    """The verdict over the parts scored so far (``judge_parts``)."""

    status: GateStatus
    verdicts: list[MetricVerdict]
    reasons: list[str]
    errors: dict[str, int]  # arm -> model calls that failed after retries
    alpha: float
    covered: int  # cases scored
    total: int  # cases in the dataset
    dataset_hash: str
    final: bool


def run_prompt_regression(gate: PromptRegressionGate, manifest: ReleaseManifest, store: Artifacts,
                          provider: ModelProvider, release_id: str, evidence_prefix: str,
                          embeddings: Embeddings | None = None, run: int = 1) -> GateResult:
    """Inline: score a look's cases at a time, in content order, and stop at the first clear verdict."""
    cases, _ = load_cases(store, gate.dataset, GoldenCase)
    ids = case_ids(cases)
    order = sorted(range(len(cases)), key=lambda i: (case_key(cases[i]), ids[i]))
    parts: list[ScoredPart] = []
    done = 0
    for size in look_sizes(len(cases), gate.looks):
        parts.append(score_cases(gate, manifest, store, provider, release_id, order[done:size], embeddings))
        done = size
        judged = judge_parts(gate, parts, run, final=size == len(cases))
        if judged is not None:
            return write_result(gate, store, parts, evidence_prefix, run, judged)
    raise AssertionError("the last look always decides")  # judge_parts(final=True) never returns None


# ---------------------------------------------------------------- sharded (Distributed Map)
def plan_shards(gate: PromptRegressionGate, store: Artifacts, evidence_prefix: str) -> ShardPlan:
    """Split the golden set into contiguous shards of ``shard_size`` cases; the list goes to S3 for ItemReader.

    The Map writes its children's results to S3 (ResultWriter, under ``map-results/``), so the
    execution's state holds a pointer whatever the number of shards; the reduce step reads each
    shard's part from where the child stored it, by the plan's index.
    """
    if gate.shard_size is None:
        raise ValueError("plan_shards: the gate has no shard_size (the state machine plans only sharded runs)")
    cases, _ = load_cases(store, gate.dataset, GoldenCase)
    case_ids(cases)  # duplicate ids are refused before any model call
    shards = [Shard(index=i, start=start, end=min(start + gate.shard_size, len(cases)))
              for i, start in enumerate(range(0, len(cases), gate.shard_size))]
    uri = store.put_json(f"{evidence_prefix}/shards.json", [s.model_dump() for s in shards])
    bucket, key = store.locate(uri)
    return ShardPlan(bucket=bucket, key=key, shards=len(shards), cases=len(cases))


def shard_key(evidence_prefix: str, index: int) -> str:
    return f"{evidence_prefix}/shards/shard-{index:05d}.json"


def score_shard(gate: PromptRegressionGate, manifest: ReleaseManifest, store: Artifacts, provider: ModelProvider,
                release_id: str, evidence_prefix: str, shard: Shard,
                embeddings: Embeddings | None = None) -> ShardPointer:
    """One Distributed Map child: score cases [start, end), write them to S3, return a pointer."""
    part = score_cases(gate, manifest, store, provider, release_id, list(range(shard.start, shard.end)), embeddings)
    uri = store.put_json(shard_key(evidence_prefix, shard.index), part.model_dump(mode="json"))
    return ShardPointer(index=shard.index, uri=uri, rows=len(part.rows))


def reduce_shards(gate: PromptRegressionGate, store: Artifacts, evidence_prefix: str, plan: ShardPlan,
                  run: int = 1) -> GateResult:
    """After the Map: the verdict over every planned shard. A shard missing from S3, or one that is not a
    scored part, counts as missing cases: an incomplete run never passes."""
    listed = store.read_json(f"s3://{plan.bucket}/{plan.key}")
    try:
        planned = [Shard.model_validate(s) for s in listed]
    except (TypeError, ValidationError) as exc:
        raise GateError(f"{plan.key}: not a shard plan: {exc}") from None
    parts: list[ScoredPart] = []
    for shard in sorted(planned, key=lambda s: s.index):
        try:
            parts.append(ScoredPart.model_validate(store.read_json(store.uri(shard_key(evidence_prefix, shard.index)))))
        except (InvalidInput, ValidationError):
            continue  # counted as missing cases by judge_parts
    if not parts:
        raise GateError(f"none of the {len(planned)} shards of {plan.key} left a result")
    judged = judge_parts(gate, parts, run, final=True)
    if judged is None:
        raise AssertionError("a final look always decides")
    return write_result(gate, store, parts, evidence_prefix, run, judged)


# ---------------------------------------------------------------- the two halves
def score_cases(gate: PromptRegressionGate, manifest: ReleaseManifest, store: Artifacts, provider: ModelProvider,
                release_id: str, indices: list[int], embeddings: Embeddings | None = None) -> ScoredPart:
    """Generate and score the cases at ``indices`` x repeats x both arms."""
    all_cases, dataset_hash = load_cases(store, gate.dataset, GoldenCase)
    all_ids = case_ids(all_cases)
    cases, ids = [all_cases[i] for i in indices], [all_ids[i] for i in indices]
    variants = {"baseline": load_variant(store, "baseline", manifest.baseline),
                "candidate": load_variant(store, "candidate", manifest.candidate)}
    jobs = [(arm, cid, case, k) for arm in ARMS for cid, case in zip(ids, cases, strict=True)
            for k in range(gate.repeats)]
    scorers = build_scorers(gate, provider, embeddings)

    def call(job: tuple[str, str, GoldenCase, int]) -> tuple[GenerationResult, dict[str, float], list[str]]:
        # Generate and score in one job, so judge and embedding calls share the
        # runner's adaptive concurrency and retries.
        arm, cid, case, k = job
        result = provider.generate(variants[arm].request(case.prompt, f"{release_id}:{arm}:{cid}:{k}"))
        scored: dict[str, float] = {}
        rejected: list[str] = []
        for m, scorer in scorers.items():
            try:
                value = scorer.score(case, result.text)
            except VerdictRejected:
                rejected.append(m)  # absent: counted against the candidate, whichever arm it was
                continue
            if value is None:
                continue
            if isinstance(value, bool) or not math.isfinite(value) or not 0.0 <= value <= 1.0:
                rejected.append(m)  # a scorer out of its range is a broken measurement, never a score
                continue
            scored[m] = float(value)
        return result, scored, rejected

    outcomes, stats = run_all(jobs, call, concurrency=gate.concurrency, max_throttle_seconds=gate.max_throttle_seconds)
    rows: list[ScoredRow] = []
    keys = {cid: case_key(case) for cid, case in zip(ids, cases, strict=True)}
    rejected_counts: dict[str, int] = defaultdict(int)
    for outcome in outcomes:
        arm, cid, case, k = outcome.item
        if outcome.result is not None:
            for m in outcome.result[2]:
                rejected_counts[m] += 1
        # A failed call has no scores: its absence counts against the candidate in either arm.
        generated = outcome.result[0] if outcome.result else None
        rows.append(ScoredRow(arm=arm, case_id=cid, repeat=k, key=keys[cid],
                              scores=outcome.result[1] if outcome.result else None,
                              rejected=outcome.result[2] if outcome.result else [], error=outcome.error,
                              output=generated.text if generated else None,
                              output_tokens=generated.output_tokens if generated else None,
                              latency_ms=generated.latency_ms if generated else None))
    return ScoredPart(dataset_hash=dataset_hash, cases_total=len(all_cases), cases=len(cases), rows=rows,
                      prompt_hashes={arm: v.prompt_hash for arm, v in variants.items()},
                      rejected_model_verdicts=dict(rejected_counts),
                      runner=RunnerFigures(calls=stats.calls, throttle_events=stats.throttle_events,
                                           min_concurrency=stats.min_concurrency, seconds=round(stats.seconds, 3)))


def judge_parts(gate: PromptRegressionGate, parts: list[ScoredPart], run: int, final: bool) -> Judgement | None:
    """The verdict over the cases scored so far; None at an interim look that decided nothing."""
    alpha = alpha_for_run(gate.alpha, run)
    dataset_hash = parts[0].dataset_hash
    total = parts[0].cases_total
    covered = sum(p.cases for p in parts)
    rows = [row for p in parts for row in p.rows]
    per_metric: dict[str, dict[str, defaultdict[str, list[float]]]] = {
        m: {arm: defaultdict(list) for arm in ARMS} for m in gate.metrics}
    errors = dict.fromkeys(ARMS, 0)
    keys: dict[str, str] = {}
    applies: dict[str, set[str]] = {m: set() for m in gate.metrics}
    answered: set[str] = set()
    for row in rows:
        keys[row.case_id] = row.key
        if row.error or row.scores is None:
            errors[row.arm] += 1
            continue
        answered.add(row.case_id)
        for metric_name, value in row.scores.items():
            if metric_name in per_metric:  # a metric the gate does not judge is ignored, never a score
                per_metric[metric_name][row.arm][row.case_id].append(value)
                applies[metric_name].add(row.case_id)
        for metric_name in row.rejected:
            if metric_name in applies:
                applies[metric_name].add(row.case_id)
    # A metric applies to a case if any answer was scored on it; a case no call answered is
    # assumed to need every metric (unknown counts as applicable).
    unanswered = set(keys) - answered
    verdicts: list[MetricVerdict] = [
        decide(m, per_metric[m]["baseline"], per_metric[m]["candidate"], threshold=policy.threshold,
               margin=policy.margin, alpha=alpha, repeats=gate.repeats, cases=sorted(applies[m] | unanswered),
               keys=keys, n_plan=total, final=final)
        for m, policy in gate.metrics.items()
    ]
    calls_so_far = covered * gate.repeats
    error_reasons = []
    for arm in ARMS:
        rate = errors[arm] / max(calls_so_far, 1)
        if rate > gate.max_error_rate:
            error_reasons.append(f"{arm}: {errors[arm]} of {calls_so_far} model calls failed after retries "
                                 f"({rate:.1%} > {gate.max_error_rate:.1%}); failed calls never pass")
    decisions = {v.decision for v in verdicts}
    if not final and not error_reasons and decisions != {"pass"} and "block" not in decisions:
        return None
    reasons = [f"{v.metric}: {v.reason}" for v in verdicts if v.decision != "pass"] + error_reasons
    if final and (covered != total or any(p.dataset_hash != dataset_hash for p in parts)):
        reasons.append(f"only {covered} of {total} cases were scored (a shard is missing or saw another "
                       "dataset); an incomplete run never passes")
    return Judgement(status="BLOCK" if reasons else "PASS", verdicts=verdicts, reasons=reasons, errors=errors,
                     alpha=alpha, covered=covered, total=total, dataset_hash=dataset_hash, final=final)


def write_result(gate: PromptRegressionGate, store: Artifacts, parts: list[ScoredPart], evidence_prefix: str,
                 run: int, judged: Judgement) -> GateResult:
    verdicts = judged.verdicts
    rows = [row for p in parts for row in p.rows]
    score_rows: dict[str, list[dict[str, Any]]] = {arm: [] for arm in ARMS}
    for row in rows:
        if row.scores is not None:
            score_rows[row.arm].append({"case_id": row.case_id, "repeat": row.repeat, "scores": row.scores})
    rejected: dict[str, int] = defaultdict(int)
    for p in parts:
        for m, n in p.rejected_model_verdicts.items():
            rejected[m] += n
    calls = sum(p.runner.calls for p in parts)
    looks = {"run": run, "alpha": judged.alpha, "looks_planned": len(look_sizes(judged.total, gate.looks)),
             "looks_taken": len(parts) if not gate.shard_size else 1, "cases_scored": judged.covered,
             "stopped_early": judged.covered < judged.total}
    figures = {
        "dataset": gate.dataset,
        "dataset_hash": judged.dataset_hash, "cases": judged.total, "repeats": gate.repeats,
        "errors": judged.errors, "shards": len(parts) if gate.shard_size else 1, "sequential": looks,
        "rejected_model_verdicts": dict(rejected), "prompt_hashes": parts[0].prompt_hashes,
        "metrics": [v.model_dump(mode="json") for v in verdicts],
        "runner": {"calls": calls,
                   "throttle_events": sum(p.runner.throttle_events for p in parts),
                   "min_concurrency": min(p.runner.min_concurrency for p in parts),
                   "seconds": round(sum(p.runner.seconds for p in parts), 3)},
    }
    store.put_jsonl(f"{evidence_prefix}/outputs.jsonl", [row.model_dump(mode="json") for row in rows])
    for arm in ARMS:
        store.put_jsonl(f"{evidence_prefix}/{arm}_scores.jsonl", score_rows[arm])
    uri = write_verdict(store, evidence_prefix, "prompt_regression", judged.status, judged.reasons, **figures)
    summary = "; ".join(f"{v.metric} {v.decision} (cand {v.candidate_mean:.3f} vs base {v.baseline_mean:.3f}, "
                        f"lower bound {v.lower_bound:+.3f})" for v in verdicts)
    if looks["stopped_early"]:
        summary += f"; decided after {judged.covered} of {judged.total} cases"
    return GateResult(
        gate="prompt_regression", status=judged.status, summary=summary[:2000], reasons=judged.reasons[:50],
        report_uri=uri, dataset_hash=judged.dataset_hash,
        stats={"cases": judged.total, "cases_scored": judged.covered, "repeats": gate.repeats,
               "errors": judged.errors, "shards": len(parts) if gate.shard_size else 1, "run": run,
               "alpha": judged.alpha, "model_calls": calls,
               "metrics": {v.metric: {"decision": v.decision, "baseline_mean": round(v.baseline_mean, 4),
                                      "candidate_mean": round(v.candidate_mean, 4),
                                      "lower_bound": round(v.lower_bound, 4)} for v in verdicts}},
    )
