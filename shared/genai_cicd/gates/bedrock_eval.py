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

from genai_cicd.aws.artifacts import ArtifactStore
from genai_cicd.errors import GateError
from genai_cicd.gates.common import ARMS, load_cases, load_variant
from genai_cicd.gates.noninferiority import decide
from genai_cicd.gates.runner import run_all
from genai_cicd.models.dataset import GoldenCase, case_ids
from genai_cicd.models.manifest import ReleaseManifest
from genai_cicd.models.tasks import GateResult
from genai_cicd.providers.base import GenerationResult, ModelProvider

TERMINAL_FAILED = {"Failed", "Stopped", "Stopping", "Deleting"}


def job_name(release_id: str, arm: str) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", release_id.lower()).strip("-")[:40] or "release"
    digest = hashlib.sha256(release_id.encode()).hexdigest()[:8]
    return f"{base}-{digest}-{arm}"[:63]


def source_id(manifest: ReleaseManifest, arm: str) -> str:
    return f"{manifest.app}-{arm}"


def start_jobs(manifest: ReleaseManifest, store: ArtifactStore, provider: ModelProvider, bedrock: Any,
               release_id: str, prefix: str) -> dict[str, Any]:
    gate = manifest.gates.bedrock_evaluation
    assert gate is not None
    cases, dataset_hash = load_cases(store, gate.dataset, GoldenCase)
    ids = case_ids(cases)
    if any(c.reference_response is None for c in cases):
        raise GateError(f"{gate.dataset}: every case needs a referenceResponse for a model-as-a-judge job")
    variants = {arm: load_variant(store, arm, getattr(manifest, arm)) for arm in ARMS}
    jobs = [(arm, cid, case) for arm in ARMS for cid, case in zip(ids, cases, strict=True)]

    def call(job: tuple[str, str, GoldenCase]) -> GenerationResult:
        arm, cid, case = job
        return provider.generate(variants[arm].request(case.prompt, f"{release_id}:eval:{arm}:{cid}"))

    outcomes, stats = run_all(jobs, call, concurrency=8)
    if stats.errors:
        raise GateError(f"{stats.errors} answers could not be generated for the evaluation dataset")
    arns: dict[str, str] = {}
    for arm in ARMS:
        rows = [{"prompt": case.prompt, "referenceResponse": case.reference_response, "category": case.category
                 or "general", "modelResponses": [{"response": o.result.text if o.result else "",
                                                   "modelIdentifier": source_id(manifest, arm)}]}
                for o in outcomes if o.item[0] == arm for (_, _, case) in [o.item]]
        dataset_uri = store.put_jsonl(f"{prefix}/{arm}/dataset.jsonl", rows)
        evaluator: dict[str, Any] = {}
        if gate.evaluator_model_id:
            evaluator = {"evaluatorModelConfig": {"bedrockEvaluatorModels": [
                {"modelIdentifier": gate.evaluator_model_id}]}}
        response = bedrock.create_evaluation_job(
            jobName=job_name(release_id, arm), jobDescription=f"genai-cicd {release_id} {arm}"[:200],
            roleArn=gate.role_arn,
            clientRequestToken=hashlib.sha256(f"{release_id}:{arm}".encode()).hexdigest()[:64],
            applicationType="ModelEvaluation",
            evaluationConfig={"automated": {"datasetMetricConfigs": [{
                "taskType": gate.task_type,
                "dataset": {"name": f"{arm}-cases", "datasetLocation": {"s3Uri": dataset_uri}},
                "metricNames": gate.metric_names}], **evaluator}},
            inferenceConfig={"models": [{"precomputedInferenceSource": {
                "inferenceSourceIdentifier": source_id(manifest, arm)}}]},
            outputDataConfig={"s3Uri": store.uri(f"{prefix}/{arm}/output/")},
        )
        arns[arm] = response["jobArn"]
    return {"status": "InProgress", "jobs": arns, "polls": 0, "dataset_hash": dataset_hash}


def _scores(store: ArtifactStore, output_prefix: str) -> dict[str, dict[str, list[float]]]:
    """{metric: {case key: [score]}} from every ``*_output.jsonl`` under the job's output prefix."""
    scores: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for ref in store.list_keys(output_prefix):
        if not ref.endswith("_output.jsonl"):
            continue
        for line in store.read_text(ref).splitlines():
            if not line.strip():
                continue
            record = json.loads(line)
            key = hashlib.sha256(str(record.get("prompt")).encode()).hexdigest()[:16]
            for item in (record.get("automatedEvaluationResult") or {}).get("scores", []):
                if isinstance(item.get("result"), int | float):
                    scores[item["metricName"]][key].append(float(item["result"]))
    return scores


def poll_jobs(manifest: ReleaseManifest, store: ArtifactStore, bedrock: Any, state: dict[str, Any],
              prefix: str) -> dict[str, Any]:
    gate = manifest.gates.bedrock_evaluation
    assert gate is not None
    statuses = {arm: bedrock.get_evaluation_job(jobIdentifier=arn)["status"] for arm, arn in state["jobs"].items()}
    polls = int(state.get("polls", 0)) + 1
    failed = {arm: s for arm, s in statuses.items() if s in TERMINAL_FAILED}
    if failed:
        result = GateResult(gate="bedrock_evaluation", status="BLOCK", summary="evaluation job did not complete",
                            reasons=[f"{arm} evaluation job {s}" for arm, s in failed.items()])
        return {**state, "status": "Done", "polls": polls, "result": result.model_dump(mode="json")}
    if any(s != "Completed" for s in statuses.values()):
        if polls >= gate.max_polls:
            raise GateError(f"evaluation jobs still {statuses} after {polls} polls")
        return {**state, "status": "InProgress", "polls": polls}
    per_arm = {arm: _scores(store, store.uri(f"{prefix}/{arm}/output/")) for arm in ARMS}
    verdicts = []
    for metric in gate.metric_names:
        base, cand = per_arm["baseline"].get(metric, {}), per_arm["candidate"].get(metric, {})
        if not base or not cand:
            verdicts.append({"metric": metric, "decision": "block", "reason": "no scores in the job output"})
            continue
        verdicts.append(decide(metric, base, cand, threshold=0.0, margin=gate.margin).model_dump(mode="json"))
    reasons = [f"{v['metric']}: {v['reason']}" for v in verdicts if v["decision"] != "pass"]
    status = "BLOCK" if reasons else "PASS"
    uri = store.put_json(f"{prefix}/verdict.json", {"gate": "bedrock_evaluation", "status": status,
                                                     "jobs": state["jobs"], "metrics": verdicts, "reasons": reasons})
    result = GateResult(gate="bedrock_evaluation", status=status, dataset_hash=state.get("dataset_hash"),
                        summary="; ".join(f"{v['metric']} {v['decision']}" for v in verdicts)[:2000],
                        reasons=reasons, report_uri=uri, stats={"jobs": state["jobs"]})
    return {**state, "status": "Done", "polls": polls, "result": result.model_dump(mode="json")}
