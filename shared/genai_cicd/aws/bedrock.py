"""Bedrock for the gates: ApplyGuardrail, Titan embeddings (InvokeModel) and evaluation jobs.

Each adapter turns a throttle into ProviderThrottled (the runner backs off and retries) and any
other service error into ProviderError (the case counts as failed, never as a pass).
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from genai_cicd.ports import GuardrailVerdict
from genai_cicd.providers.base import ProviderError, ProviderThrottled


def _raise(exc: ClientError) -> None:
    code = exc.response.get("Error", {}).get("Code", "")
    if code == "ThrottlingException":
        raise ProviderThrottled(code) from exc
    raise ProviderError(code) from exc


def policies_of(assessments: list[dict[str, Any]]) -> set[str]:
    """Map ApplyGuardrail assessments to the suite's policy names."""
    found: set[str] = set()
    for a in assessments:
        for f in (a.get("contentPolicy") or {}).get("filters", []):
            found.add("prompt_attack" if f.get("type") == "PROMPT_ATTACK" else "content")
        if (a.get("topicPolicy") or {}).get("topics"):
            found.add("topic")
        word = a.get("wordPolicy") or {}
        if word.get("customWords") or word.get("managedWordLists"):
            found.add("word")
        pii = a.get("sensitiveInformationPolicy") or {}
        if pii.get("piiEntities") or pii.get("regexes"):
            found.add("pii")
    return found


class BedrockGuardrails:
    def __init__(self, bedrock_runtime: Any) -> None:
        self._client = bedrock_runtime

    def apply(self, guardrail_id: str, version: str, source: str, text: str) -> GuardrailVerdict:
        try:
            response = self._client.apply_guardrail(guardrailIdentifier=guardrail_id, guardrailVersion=version,
                                                    source=source, content=[{"text": {"text": text}}])
        except ClientError as exc:
            _raise(exc)
        return GuardrailVerdict(action=str(response["action"]),
                                policies=policies_of(response.get("assessments") or []))


class BedrockEmbeddings:
    def __init__(self, bedrock_runtime: Any) -> None:
        self._client = bedrock_runtime

    def embed(self, model_id: str, text: str, dimensions: int) -> list[float]:
        try:
            response = self._client.invoke_model(
                modelId=model_id, contentType="application/json", accept="application/json",
                body=json.dumps({"inputText": text[:50_000], "dimensions": dimensions, "normalize": True}))
        except ClientError as exc:
            _raise(exc)
        vector: list[float] = json.loads(response["body"].read())["embedding"]
        return vector


class BedrockEvaluationJobs:
    def __init__(self, bedrock: Any) -> None:
        self._client = bedrock

    def create(self, request: dict[str, Any]) -> str:
        return str(self._client.create_evaluation_job(**request)["jobArn"])

    def status(self, job_arn: str) -> str:
        return str(self._client.get_evaluation_job(jobIdentifier=job_arn)["status"])
