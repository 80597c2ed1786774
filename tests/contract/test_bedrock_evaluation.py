"""Bedrock evaluation payloads as AWS documents them: the gate reads them, the embedded backend writes them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from genai_cicd.aws.bedrock import BedrockEvaluationJobs
from genai_cicd.gates.bedrock_eval import MAX_PROMPTS_PER_JOB, job_parts, poll_jobs, start_jobs
from genai_cicd.models.dataset import GoldenCase, parse_jsonl
from genai_cicd.models.manifest import parse_manifest
from genai_cicd.models.tasks import EvaluationState
from genai_cicd.providers.base import GenerationRequest, GenerationResult
from genai_cicd_local.embedded.backend import EmbeddedBackend

HERE = Path(__file__).parent / "bedrock"
OUTPUT = (HERE / "evaluation-output.jsonl").read_text()
PREFIX = "releases/r1/gates/bedrock_evaluation"


class MemoryStore:
    """The ArtifactStore calls the evaluation gate makes, on a dict of keys."""

    bucket = "mem"

    def __init__(self, files: dict[str, str] | None = None) -> None:
        self.files = dict(files or {})

    def uri(self, key: str) -> str:
        return f"s3://mem/{key}"

    def _key(self, ref: str) -> str:
        return ref[len("s3://mem/"):] if ref.startswith("s3://mem/") else ref

    def read_text(self, ref: str) -> str:
        return self.files[self._key(ref)]

    def list_keys(self, ref: str) -> list[str]:
        prefix = self._key(ref)
        return sorted(self.uri(k) for k in self.files if k.startswith(prefix))

    def put_json(self, key: str, doc: Any) -> str:
        self.files[key] = json.dumps(doc)
        return self.uri(key)

    def put_jsonl(self, key: str, rows: list[Any]) -> str:
        self.files[key] = "\n".join(json.dumps(r) for r in rows) + "\n"
        return self.uri(key)


class CompletedJobs:
    def get_evaluation_job(self, jobIdentifier: str) -> dict[str, Any]:  # noqa: N803 (boto3's name)
        return {"status": "Completed"}


def manifest(**gate: Any) -> Any:
    return parse_manifest({
        "app": "a", "environment": "e", "change": {"kinds": ["prompt"]},
        "baseline": {"prompt": "b.txt", "model_id": "m"}, "candidate": {"prompt": "c.txt", "model_id": "m"},
        "gates": {"bedrock_evaluation": {"dataset": "golden.jsonl",
                                         "role_arn": "arn:aws:iam::123456789012:role/Eval", **gate}}})


def completed_store(candidate_lines: list[str]) -> MemoryStore:
    dataset = "\n".join(json.dumps(json.loads(line)["inputRecord"]) for line in OUTPUT.splitlines()) + "\n"
    job = "job/abc/models/m/taskTypes/General/datasets/d/0f1e_output.jsonl"
    return MemoryStore({
        f"{PREFIX}/baseline/dataset-001.jsonl": dataset, f"{PREFIX}/candidate/dataset-001.jsonl": dataset,
        f"{PREFIX}/baseline/output/part-001/{job}": OUTPUT,
        f"{PREFIX}/candidate/output/part-001/{job}": "\n".join(candidate_lines) + "\n"})


def verdict(store: MemoryStore) -> dict[str, Any]:
    state = poll_jobs(manifest().gates.bedrock_evaluation, store,  # type: ignore[arg-type]
                      BedrockEvaluationJobs(CompletedJobs()),  # type: ignore[arg-type]
                      EvaluationState(status="InProgress", jobs={"baseline": "a", "candidate": "b"}), PREFIX)
    assert state.result is not None and state.status == "Done"
    return json.loads(store.files[f"{PREFIX}/verdict.json"]) | {"status": state.result.status}


def test_doc_shaped_output_for_30_cases_is_compared_as_30_cases() -> None:
    doc = verdict(completed_store(OUTPUT.splitlines()))
    assert {m["metric"]: m["cases"] for m in doc["metrics"]} == {"Builtin.Correctness": 30, "Builtin.Completeness": 30}
    assert all(m["missing_candidate"] == 0 for m in doc["metrics"])


def test_a_prompt_missing_from_the_candidates_output_counts_against_it() -> None:
    doc = verdict(completed_store(OUTPUT.splitlines()[5:]))
    assert all(m["cases"] == 30 and m["missing_candidate"] == 5 for m in doc["metrics"])
    assert doc["status"] == "BLOCK"


def test_null_results_are_absent_and_unnormalised_metrics_block() -> None:
    lines = [json.loads(line) for line in OUTPUT.splitlines()]
    lines[0]["automatedEvaluationResult"]["scores"][0]["result"] = None  # as AWS writes a not-applicable metric
    lines[1]["automatedEvaluationResult"]["scores"][1]["result"] = 17.878  # e.g. Builtin.Robustness
    doc = verdict(completed_store([json.dumps(line) for line in lines]))
    by_metric = {m["metric"]: m for m in doc["metrics"]}
    assert by_metric["Builtin.Correctness"]["missing_candidate"] == 1
    assert by_metric["Builtin.Completeness"]["decision"] == "block"
    assert "outside [0, 1]" in by_metric["Builtin.Completeness"]["reason"]


def test_an_output_line_without_input_record_is_refused() -> None:
    flat = [json.dumps({**json.loads(line)["inputRecord"], "automatedEvaluationResult": {"scores": []}})
            for line in OUTPUT.splitlines()]
    with pytest.raises(Exception, match="inputRecord.prompt is missing"):
        verdict(completed_store(flat))


def test_bring_your_own_inference_lines_are_golden_cases() -> None:
    cases = parse_jsonl((HERE / "byoi-dataset.jsonl").read_text(), GoldenCase, "byoi-dataset.jsonl")
    assert cases[0].model_responses is not None and cases[0].model_responses[0].response == "That is $6 in total."


class Answers:
    name = "answers"

    def __init__(self) -> None:
        self.calls = 0

    def generate(self, request: GenerationRequest) -> GenerationResult:
        self.calls += 1
        return GenerationResult(text="an answer", input_tokens=1, output_tokens=1, latency_ms=1, stop_reason="end_turn")


class Jobs:
    def __init__(self) -> None:
        self.created: list[dict[str, Any]] = []

    def create_evaluation_job(self, **kwargs: Any) -> dict[str, Any]:
        self.created.append(kwargs)
        return {"jobArn": f"arn:aws:bedrock:us-east-1:123456789012:evaluation-job/{len(self.created)}"}


def test_over_1000_prompts_runs_several_jobs_per_arm_with_the_documented_task_type() -> None:
    lines = [json.dumps({"prompt": f"question {i}?", "referenceResponse": f"answer {i}"}) for i in range(1500)]
    store = MemoryStore({"golden.jsonl": "\n".join(lines), "b.txt": "base prompt", "c.txt": "cand prompt"})
    jobs = Jobs()
    m = manifest()
    state = start_jobs(m.gates.bedrock_evaluation, m, store, Answers(), BedrockEvaluationJobs(jobs),  # type: ignore[arg-type]
                       "r1", PREFIX)
    assert sorted(state.jobs) == ["baseline-1", "baseline-2", "candidate-1", "candidate-2"]
    assert job_parts(1500) == [(0, 1000), (1000, 1500)]
    for job in jobs.created:
        config = job["evaluationConfig"]["automated"]["datasetMetricConfigs"][0]
        assert config["taskType"] == "General"
        rows = store.read_text(config["dataset"]["datasetLocation"]["s3Uri"]).splitlines()
        assert 0 < len(rows) <= MAX_PROMPTS_PER_JOB
    assert len({j["jobName"] for j in jobs.created}) == 4 and len({j["clientRequestToken"] for j in jobs.created}) == 4


def test_candidate_answers_from_the_dataset_are_not_generated_again() -> None:
    byoi = (HERE / "byoi-dataset.jsonl").read_text()
    store = MemoryStore({"golden.jsonl": byoi, "b.txt": "base prompt", "c.txt": "cand prompt"})
    provider, jobs = Answers(), Jobs()
    m = manifest(candidate_answers="dataset")
    start_jobs(m.gates.bedrock_evaluation, m, store, provider, BedrockEvaluationJobs(jobs), "r1",  # type: ignore[arg-type]
               PREFIX)
    assert provider.calls == 2  # the baseline's answers only
    candidate = [json.loads(line) for line in store.files[f"{PREFIX}/candidate/dataset-001.jsonl"].splitlines()]
    assert [row["modelResponses"][0]["response"] for row in candidate] == ["That is $6 in total.", "366 days."]


def shape(value: Any) -> Any:
    """Keys all the way down (lists by their first item): what a contract compares."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__ if value is not None else "null"


def test_the_embedded_backend_writes_what_the_documentation_shows() -> None:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="contract-bucket")
        record = json.loads(OUTPUT.splitlines()[0])
        dataset = {**record["inputRecord"], "modelResponses": record["modelResponses"]}
        s3.put_object(Bucket="contract-bucket", Key="in/dataset.jsonl", Body=json.dumps(dataset).encode())
        backend = EmbeddedBackend("us-east-1")
        arn = backend.create_evaluation_job({
            "jobName": "contract", "roleArn": "arn:aws:iam::123456789012:role/Eval",
            "applicationType": "ModelEvaluation",
            "evaluationConfig": {"automated": {"datasetMetricConfigs": [{
                "taskType": "General",
                "dataset": {"name": "d", "datasetLocation": {"s3Uri": "s3://contract-bucket/in/dataset.jsonl"}},
                "metricNames": ["Builtin.Correctness", "Builtin.Completeness"]}]}},
            "inferenceConfig": {"models": [{"precomputedInferenceSource": {"inferenceSourceIdentifier": "app"}}]},
            "outputDataConfig": {"s3Uri": "s3://contract-bucket/out/"}})["jobArn"]
        while backend.get_evaluation_job({"jobIdentifier": arn})["status"] != "Completed":
            pass
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="contract-bucket", Prefix="out/")["Contents"]]
        assert len(keys) == 1 and "/taskTypes/General/datasets/d/" in keys[0] and keys[0].endswith("_output.jsonl")
        written = json.loads(s3.get_object(Bucket="contract-bucket", Key=keys[0])["Body"].read())
    documented = shape(record)
    ours = shape(written)
    assert set(ours) == set(documented)
    assert ours["inputRecord"] == documented["inputRecord"] and ours["modelResponses"] == documented["modelResponses"]
    # The simulated judge leaves out evaluatorDetails (optional in the documented shape); the rest matches.
    assert ours["automatedEvaluationResult"]["scores"][0].items() <= documented["automatedEvaluationResult"][
        "scores"][0].items()
