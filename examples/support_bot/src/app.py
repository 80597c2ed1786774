"""Support bot: the sample GenAI application that genai-cicd releases.

Business logic only: answer a question with the variant's prompt, model and
guardrail (Bedrock Converse through the provider interface). The release
contract -- variant flag, per-variant EMF metrics, sampled capture of answers
for online scoring, probes, shadow answers -- is genai_cicd_app's (shared/app_layer).
Logs carry the variant and counts, never the question or the answer.
"""

from __future__ import annotations

import json
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext
from genai_cicd_app import ReleasedApp, Route, now
from pydantic import BaseModel, ConfigDict, Field

from genai_cicd.gates.refusal import is_refusal
from genai_cicd.models.manifest import Variant
from genai_cicd.providers.base import GenerationRequest, ProviderError
from genai_cicd.providers.bedrock import BedrockConverseProvider


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=4000)
    document: str | None = Field(default=None, max_length=20000)
    session_id: str | None = Field(default=None, max_length=200)  # keeps a conversation on one variant


PRICES: dict[str, list[float]] = json.loads((Path(__file__).parent / "prices.json").read_text())
logger = Logger()
release = ReleasedApp()
PROMPT_BUCKET = os.environ["PROMPT_BUCKET"]  # read once per cold start, like the helper's settings
_UNANSWERED = re.compile(r"don't have information|i don't know", re.IGNORECASE)


@lru_cache(maxsize=8)
def client(service: str) -> Any:
    """Created on first use, reused across invocations of a warm function."""
    return boto3.client(service)  # type: ignore[call-overload]


@lru_cache(maxsize=64)
def prompt_text(ref: str) -> str:
    """An s3:// reference, or a key in the control plane's artifact bucket (PROMPT_BUCKET)."""
    bucket, key = ref[5:].split("/", 1) if ref.startswith("s3://") else (PROMPT_BUCKET, ref)
    body: bytes = client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    return body.decode("utf-8")


def answer(route: Route, request: ChatRequest, request_id: str, function_arn: str) -> dict[str, Any]:
    variant = Variant.model_validate(route.variant)
    guardrail = variant.guardrail
    started = now()
    try:
        result = BedrockConverseProvider(client("bedrock-runtime")).generate(GenerationRequest(
            model_id=variant.model_id, system=prompt_text(variant.prompt), user=request.question,
            context=request.document, temperature=variant.temperature, max_tokens=variant.max_tokens,
            guardrail_id=guardrail.id if guardrail else None,
            guardrail_version=guardrail.version if guardrail else None))
    except ProviderError as exc:
        release.record_error(route, latency_ms=(now() - started) * 1000.0, error_type=type(exc).__name__)
        logger.warning("model call failed", extra={"variant": route.arm, "error": type(exc).__name__})
        return {"variant": route.arm, "error": "the assistant is unavailable, please retry"}
    price_in, price_out = PRICES.get(variant.model_id, [0.0, 0.0])
    cost = result.input_tokens / 1000 * price_in + result.output_tokens / 1000 * price_out
    # The bot could not answer, or refused (a guardrail block is counted apart).
    unanswered = (_UNANSWERED.search(result.text) is not None or is_refusal(result.text)) \
        and not result.guardrail_intervened
    release.record(route, latency_ms=result.latency_ms, input_tokens=result.input_tokens,
                   output_tokens=result.output_tokens, cost_usd=cost,
                   guardrail_intervened=result.guardrail_intervened, low_quality=unanswered)
    # With store: hashes the control plane never sees the text: the app's own check is the score.
    outcome: dict[str, Any] = {
        "request_id": request_id, "request": request.question, "answer": result.text,
        "latency_ms": result.latency_ms, "input_tokens": result.input_tokens, "output_tokens": result.output_tokens,
        "guardrail_intervened": result.guardrail_intervened, "cost_usd": cost,
        "scores": {"quality": 0.0 if unanswered or result.guardrail_intervened else 1.0}}
    release.capture(route, **outcome)
    # Shadow evaluation: the candidate answers this request too, in its own asynchronous invocation.
    release.shadow(route, function_arn=function_arn, **outcome)
    logger.info("answered", extra={"variant": route.arm, "synthetic": route.synthetic,
                                   "output_tokens": result.output_tokens, "latency_ms": result.latency_ms})
    return {"variant": route.arm, "answer": result.text}


@logger.inject_lambda_context(clear_state=True)
@release.metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    route = release.route(event, sticky_key=event.get("session_id"))
    if route.skip:  # a shadow invocation delivered after shadowing was switched off
        logger.info("shadow request dropped", extra={"reason": route.skip})
        return {"skipped": route.skip}
    request = parse(event=route.payload, model=ChatRequest)
    return answer(route, request, context.aws_request_id, context.invoked_function_arn)
