"""BedrockEvaluation: model-as-a-judge evaluation jobs on both variants' own answers.

The app's answers (prompt + model + guardrail, as users get them) are
generated once per case and arm and handed to Bedrock as precomputed
inference ("bring your own inference responses"), so the judge scores the
release, not the bare model. One CreateEvaluationJob per arm, idempotent by
clientRequestToken; the state machine polls with a Wait loop; when both
completed, per-case scores are read from the job's S3 output and compared
with the same paired non-inferiority rule as the other gates.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from typing import Any

from genai_cicd.errors import GateError
from genai_cicd.gates.common import ARMS, GateStatus, load_cases, load_variant, write_verdict
from genai_cicd.gates.noninferiority import decide
from genai_cicd.gates.runner import run_all
from genai_cicd.models.dataset import GoldenCase, case_ids
from genai_cicd.models.manifest import BedrockEvaluationGate, ReleaseManifest
from genai_cicd.models.tasks import EvaluationState, GateResult
from genai_cicd.ports import Artifacts, EvaluationJobs
from genai_cicd.providers.base import GenerationResult, ModelProvider

TERMINAL_FAILED = {"Failed", "Stopped", "Stopping", "Deleting"}
MAX_PROMPTS_PER_JOB = 1000


def prompt_key(prompt: object) -> str:
    """A case's key in the job's output: its prompt (a string, or Bedrock's {"text": ...} form)."""
    if isinstance(prompt, dict) and set(prompt) == {"text"}:
        prompt = prompt["text"]
    return hashlib.sha256(str(prompt).encode()).hexdigest()[:24]


def job_parts(n: int) -> list[tuple[int, int]]:
    return [(start, min(start + MAX_PROMPTS_PER_JOB, n)) for start in range(0, n, MAX_PROMPTS_PER_JOB)]


def job_key(arm: str, part: int, parts: int) -> str:
    return arm if parts == 1 else f"{arm}-{part + 1}"


def job_name(release_id: str, arm: str) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", release_id.lower()).strip("-")[:40] or "release"
    digest = hashlib.sha256(release_id.encode()).hexdigest()[:8]
    return f"{base}-{digest}-{arm}"[:63]


def source_id(manifest: ReleaseManifest, arm: str) -> str:
    return f"{manifest.app}-{arm}"


def start_jobs(gate: BedrockEvaluationGate, manifest: ReleaseManifest, store: Artifacts, provider: ModelProvider,
               jobs_api: EvaluationJobs, release_id: str, prefix: str) -> EvaluationState:
    cases, dataset_hash = load_cases(store, gate.dataset, GoldenCase)
    ids = case_ids(cases)
    if any(c.reference_response is None for c in cases):
        raise GateError(f"{gate.dataset}: every case needs a referenceResponse for a model-as-a-judge job")
    keys = [prompt_key(c.prompt) for c in cases]
    if len(set(keys)) != len(keys):
        raise GateError(f"{gate.dataset}: prompts must be unique: the job's output identifies a case by its prompt")
    if gate.candidate_answers == "dataset" and any(c.model_responses is None for c in cases):
        raise GateError(f"{gate.dataset}: candidate_answers 'dataset' needs modelResponses on every line")
    variants = {arm: load_variant(store, arm, getattr(manifest, arm)) for arm in ARMS}
    jobs = [(arm, cid, case) for arm in ARMS for cid, case in zip(ids, cases, strict=True)
            if not (arm == "candidate" and gate.candidate_answers == "dataset")]

    def call(job: tuple[str, str, GoldenCase]) -> GenerationResult:
        arm, cid, case = job
        return provider.generate(variants[arm].request(case.prompt, f"{release_id}:eval:{arm}:{cid}"))

    outcomes, stats = run_all(jobs, call, concurrency=8)
    if stats.errors:
        raise GateError(f"{stats.errors} answers could not be generated for the evaluation dataset")
    answers = {(o.item[0], o.item[1]): o.result.text for o in outcomes if o.result is not None}
    for cid, case in zip(ids, cases, strict=True):
        if gate.candidate_answers == "dataset" and case.model_responses:
            answers[("candidate", cid)] = case.model_responses[0].response
    arns: dict[str, str] = {}
    parts = job_parts(len(cases))
    for arm in ARMS:
        rows = [{"prompt": case.prompt, "referenceResponse": case.reference_response,
                 "category": case.category or "general",
                 "modelResponses": [{"response": answers[(arm, cid)], "modelIdentifier": source_id(manifest, arm)}]}
                for cid, case in zip(ids, cases, strict=True)]
        for part, (start, end) in enumerate(parts):
            key = job_key(arm, part, len(parts))
            dataset_uri = store.put_jsonl(f"{prefix}/{arm}/dataset-{part + 1:03d}.jsonl", rows[start:end])
            evaluator: dict[str, Any] = {}
            if gate.evaluator_model_id:
                evaluator = {"evaluatorModelConfig": {"bedrockEvaluatorModels": [
                    {"modelIdentifier": gate.evaluator_model_id}]}}
            arns[key] = jobs_api.create(dict(
                jobName=job_name(release_id, key), jobDescription=f"genai-cicd {release_id} {key}"[:200],
                roleArn=gate.role_arn,
                clientRequestToken=hashlib.sha256(f"{release_id}:{key}".encode()).hexdigest()[:64],
                applicationType="ModelEvaluation",
                evaluationConfig={"automated": {"datasetMetricConfigs": [{
                    "taskType": gate.task_type,
                    "dataset": {"name": f"{key}-cases", "datasetLocation": {"s3Uri": dataset_uri}},
                    "metricNames": gate.metric_names}], **evaluator}},
                inferenceConfig={"models": [{"precomputedInferenceSource": {
                    "inferenceSourceIdentifier": source_id(manifest, arm)}}]},
                outputDataConfig={"s3Uri": store.uri(f"{prefix}/{arm}/output/part-{part + 1:03d}/")},
            ))
    return EvaluationState(status="InProgress", jobs=arns, polls=0, dataset_hash=dataset_hash)


def read_scores(store: Artifacts, output_prefix: str) -> tuple[dict[str, dict[str, list[float | None]]], int]:
    """({metric: {prompt key: [result or None]}}, records) from every ``*_output.jsonl`` under a prefix."""
    scores: dict[str, dict[str, list[float | None]]] = defaultdict(lambda: defaultdict(list))
    records = 0
    for ref in store.list_keys(output_prefix):
        if not ref.endswith("_output.jsonl"):
            continue
        for number, line in enumerate(store.read_text(ref).splitlines(), start=1):
            if not line.strip():
                continue
            record = json.loads(line)
            source = record.get("inputRecord")
            if not isinstance(source, dict) or "prompt" not in source:
                raise GateError(f"{ref}:{number}: inputRecord.prompt is missing: not an evaluation output line")
            records += 1
            key = prompt_key(source["prompt"])
            for item in (record.get("automatedEvaluationResult") or {}).get("scores", []):
                value = item.get("result")
                usable = isinstance(value, int | float) and not isinstance(value, bool)
                scores[str(item.get("metricName"))][key].append(float(value) if usable else None)
    return scores, records


def _dataset_keys(store: Artifacts, prefix: str, arm: str) -> list[str]:
    keys: list[str] = []
    for ref in sorted(store.list_keys(store.uri(f"{prefix}/{arm}/"))):
        name = ref.rsplit("/", 1)[-1]
        if name.startswith("dataset-") and name.endswith(".jsonl"):
            keys += [prompt_key(json.loads(line)["prompt"]) for line in store.read_text(ref).splitlines()
                     if line.strip()]
    return keys


def poll_jobs(gate: BedrockEvaluationGate, store: Artifacts, jobs_api: EvaluationJobs, state: EvaluationState,
              prefix: str) -> EvaluationState:
    if state.result is not None:
        return state  # already decided: a repeated poll changes nothing
    statuses = {arm: jobs_api.status(arn) for arm, arn in state.jobs.items()}
    polls = state.polls + 1
    failed = {arm: s for arm, s in statuses.items() if s in TERMINAL_FAILED}
    if failed:
        result = GateResult(gate="bedrock_evaluation", status="BLOCK", summary="evaluation job did not complete",
                            reasons=[f"{arm} evaluation job {s}" for arm, s in failed.items()])
        return state.model_copy(update={"status": "Done", "polls": polls, "result": result})
    if any(s != "Completed" for s in statuses.values()):
        if polls >= gate.max_polls:
            raise GateError(f"evaluation jobs still {statuses} after {polls} polls")
        return state.model_copy(update={"polls": polls})
    expected = sorted(set(_dataset_keys(store, prefix, "baseline")) | set(_dataset_keys(store, prefix, "candidate")))
    per_arm = {arm: read_scores(store, store.uri(f"{prefix}/{arm}/output/"))[0] for arm in ARMS}
    verdicts = []
    for metric in gate.metric_names:
        base, cand = per_arm["baseline"].get(metric, {}), per_arm["candidate"].get(metric, {})
        values = [v for arm in (base, cand) for vs in arm.values() for v in vs if v is not None]
        if any(not 0.0 <= v <= 1.0 for v in values):
            verdicts.append({"metric": metric, "decision": "block",
                             "reason": "scores outside [0, 1]: the gate judges normalised metrics only"})
            continue
        # A null result is absent: it counts against the candidate like a missing case.
        clean = {arm: {k: [v for v in vs if v is not None] for k, vs in scores.items()}
                 for arm, scores in (("baseline", base), ("candidate", cand))}
        verdicts.append(decide(metric, clean["baseline"], clean["candidate"], threshold=0.0, margin=gate.margin,
                               repeats=1, cases=expected, keys={k: k for k in expected}).model_dump(mode="json"))
    reasons = [f"{v['metric']}: {v['reason']}" for v in verdicts if v["decision"] != "pass"]
    status: GateStatus = "BLOCK" if reasons else "PASS"
    uri = write_verdict(store, prefix, "bedrock_evaluation", status, reasons, jobs=state.jobs, metrics=verdicts)
    result = GateResult(gate="bedrock_evaluation", status=status, dataset_hash=state.dataset_hash,
                        summary="; ".join(f"{v['metric']} {v['decision']}" for v in verdicts)[:2000],
                        reasons=reasons, report_uri=uri, stats={"jobs": state.jobs})
    return state.model_copy(update={"status": "Done", "polls": polls, "result": result})
