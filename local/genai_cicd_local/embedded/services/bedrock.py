"""Bedrock's control plane, simulated: guardrails (create, version, get) and evaluation jobs."""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

from genai_cicd_local.embedded.guardrails import GuardrailRegistry
from genai_cicd_local.embedded.lambda_runtime import as_service
from genai_cicd_local.embedded.services.base import ACCOUNT, BackendError
from genai_cicd_local.embedded.text import content_words

if TYPE_CHECKING:
    from genai_cicd_local.embedded.clock import SimulatedClock


class BedrockService:
    clock: SimulatedClock
    region: str
    guardrails: GuardrailRegistry
    evaluation_jobs: dict[str, dict[str, Any]]

    def _init_bedrock(self) -> None:
        self.guardrails, self.evaluation_jobs = GuardrailRegistry(), {}

    # -- Bedrock ------------------------------------------------------------------
    def create_guardrail(self, p: dict[str, Any]) -> dict[str, Any]:
        try:
            g = self.guardrails.create(p)
        except ValueError as exc:
            raise BackendError("ConflictException", str(exc)) from None
        return {"guardrailId": g.guardrail_id, "version": "DRAFT", "createdAt": self.clock.utc_now(),
                "guardrailArn": f"arn:aws:bedrock:{self.region}:{ACCOUNT}:guardrail/{g.guardrail_id}"}

    def create_guardrail_version(self, p: dict[str, Any]) -> dict[str, Any]:
        try:
            version = self.guardrails.publish(p["guardrailIdentifier"])
        except KeyError:
            raise BackendError("ResourceNotFoundException", "guardrail not found", 404) from None
        return {"guardrailId": p["guardrailIdentifier"].rsplit("/", 1)[-1], "version": version}

    def get_guardrail(self, p: dict[str, Any]) -> dict[str, Any]:
        try:
            g = self.guardrails.get(p["guardrailIdentifier"])
            config = g.at(p.get("guardrailVersion", "DRAFT"))
        except KeyError:
            raise BackendError("ResourceNotFoundException", "guardrail not found", 404) from None
        return {"name": g.name, "guardrailId": g.guardrail_id, "version": p.get("guardrailVersion", "DRAFT"),
                "status": "READY", "blockedInputMessaging": config.get("blockedInputMessaging", ""),
                "blockedOutputsMessaging": config.get("blockedOutputsMessaging", "")}

    # A simulated evaluation job: InProgress on the first GetEvaluationJob, then
    # Completed with per-record scores written in Bedrock's documented output layout
    # by a simulated judge (token overlap with the reference), so the gate's own S3
    # parsing runs unchanged. Like Bedrock, it refuses a dataset over 1,000 prompts.
    def create_evaluation_job(self, p: dict[str, Any]) -> dict[str, Any]:
        token = p.get("clientRequestToken")
        for job in self.evaluation_jobs.values():
            if token and job["_token"] == token:
                return {"jobArn": job["jobArn"]}
        if any(j["jobName"] == p["jobName"] for j in self.evaluation_jobs.values()):
            raise BackendError("ConflictException", f"evaluation job {p['jobName']} already exists")
        job_id = uuid.uuid4().hex[:12]
        arn = f"arn:aws:bedrock:{self.region}:{ACCOUNT}:evaluation-job/{job_id}"
        self.evaluation_jobs[arn] = {
            "jobName": p["jobName"], "jobArn": arn, "status": "InProgress", "roleArn": p["roleArn"],
            "jobType": "Automated", "applicationType": p.get("applicationType", "ModelEvaluation"),
            "evaluationConfig": p["evaluationConfig"], "inferenceConfig": p["inferenceConfig"],
            "outputDataConfig": p["outputDataConfig"], "creationTime": self.clock.utc_now(), "_token": token,
            "_id": job_id, "_polls": 0}
        return {"jobArn": arn}

    def get_evaluation_job(self, p: dict[str, Any]) -> dict[str, Any]:
        job = self.evaluation_jobs.get(p["jobIdentifier"])
        if job is None:
            raise BackendError("ResourceNotFoundException", "evaluation job not found", 404)
        job["_polls"] += 1
        if job["status"] == "InProgress" and job["_polls"] >= 2:
            self._complete_evaluation(job)
        return {k: v for k, v in job.items() if not k.startswith("_")}

    def _complete_evaluation(self, job: dict[str, Any]) -> None:
        with as_service():  # the job's service role reads and writes S3, not the caller
            self._complete_evaluation_as_service(job)

    def _complete_evaluation_as_service(self, job: dict[str, Any]) -> None:
        import boto3

        s3 = boto3.client("s3", region_name=self.region)
        out_bucket, _, out_prefix = job["outputDataConfig"]["s3Uri"][5:].partition("/")
        for config in job["evaluationConfig"]["automated"]["datasetMetricConfigs"]:
            src_bucket, _, src_key = config["dataset"]["datasetLocation"]["s3Uri"][5:].partition("/")
            lines = [line for line in s3.get_object(Bucket=src_bucket, Key=src_key)["Body"].read().decode()
                     .splitlines() if line.strip()]
            if len(lines) > 1000:
                job["status"] = "Failed"
                job["failureMessages"] = [f"dataset {config['dataset']['name']} has {len(lines)} prompts; "
                                          "the limit is 1000"]
                return
            out = []
            for line in lines:
                if not line.strip():
                    continue
                record = json.loads(line)
                response = record["modelResponses"][0]["response"]
                ref, got = set(content_words(record.get("referenceResponse", ""))), set(content_words(response))
                recall = len(ref & got) / len(ref) if ref else 0.0
                precision = len(ref & got) / len(got) if got else 0.0
                scores = []
                for metric in config["metricNames"]:
                    value = recall if metric.endswith("Completeness") else (
                        2 * precision * recall / (precision + recall) if precision + recall else 0.0)
                    scores.append({"metricName": metric, "result": round(value, 3)})
                # The documented layout (Bedrock user guide, "Understand how the results of your model
                # evaluation job are saved in Amazon S3"): the scores, the dataset line as
                # inputRecord, and the responses beside it; tests/contract holds the page's shape.
                responses = record.pop("modelResponses")
                out.append(json.dumps({"automatedEvaluationResult": {"scores": scores}, "inputRecord": record,
                                       "modelResponses": responses}))
            model = job["inferenceConfig"]["models"][0]["precomputedInferenceSource"]["inferenceSourceIdentifier"]
            key = (f"{out_prefix}{job['jobName']}/{job['_id']}/models/{model}/taskTypes/{config['taskType']}/"
                   f"datasets/{config['dataset']['name']}/{uuid.uuid4().hex[:8]}_output.jsonl")
            s3.put_object(Bucket=out_bucket, Key=key, Body=("\n".join(out) + "\n").encode())
        job["status"] = "Completed"
