"""Support bot: the sample GenAI application that genai-cicd releases.

Per request: read the variant flag (AppConfig, through Powertools
Parameters), pick baseline or candidate by the flag's candidate weight, call
the model through the provider interface (Bedrock Converse with the
variant's guardrail), and emit per-variant EMF metrics: Requests, Errors,
SlowRequests, LatencyMs, InputTokens, OutputTokens, CostUSD,
GuardrailInterventions and an online quality signal (LowQuality).
Logs carry the variant and counts, never the question or the answer.
"""

from __future__ import annotations

import json
import os
import random
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricResolution, MetricUnit
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field

from genai_cicd.gates.scorers import is_refusal
from genai_cicd.models.manifest import Variant
from genai_cicd.providers.base import GenerationRequest, ProviderError
from genai_cicd.providers.bedrock import BedrockConverseProvider


class AppSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    app: str = Field(alias="APP_NAME")
    environment: str = Field(alias="APP_ENVIRONMENT")
    flag_application: str = Field(alias="FLAG_APPLICATION_ID")
    flag_environment: str = Field(alias="FLAG_ENVIRONMENT_ID")
    flag_profile: str = Field(alias="FLAG_PROFILE_ID")
    flag_max_age: int = Field(alias="FLAG_MAX_AGE_SECONDS", ge=0)
    prompt_bucket: str = Field(alias="PROMPT_BUCKET")
    slow_request_ms: float = Field(alias="SLOW_REQUEST_MS", gt=0)
    metric_resolution: int = Field(alias="METRIC_RESOLUTION")


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=4000)
    document: str | None = Field(default=None, max_length=20000)


SETTINGS = AppSettings.model_validate(dict(os.environ))
PRICES: dict[str, list[float]] = json.loads((Path(__file__).parent / "prices.json").read_text())
logger = Logger()
# service="" keeps the dimension set to exactly app, environment, variant.
metrics = Metrics(service="")
metrics.set_default_dimensions(app=SETTINGS.app, environment=SETTINGS.environment)
_rng = random.SystemRandom()
_UNANSWERED = re.compile(r"don't have information|i don't know", re.IGNORECASE)


@lru_cache(maxsize=8)
def client(service: str) -> Any:
    """Created on first use, reused across invocations of a warm function."""
    return boto3.client(service)  # type: ignore[call-overload]


@lru_cache(maxsize=64)
def prompt_text(ref: str) -> str:
    bucket, key = (ref[5:].split("/", 1) if ref.startswith("s3://") else (SETTINGS.prompt_bucket, ref))
    body: bytes = client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    return body.decode("utf-8")


def pick_variant(flag: dict[str, Any]) -> tuple[str, Variant]:
    weight = float(flag.get("candidate_weight", 0.0))
    arm = "candidate" if _rng.random() * 100.0 < weight else "baseline"
    return arm, Variant.model_validate(flag[arm])


def answer(request: ChatRequest) -> dict[str, Any]:
    flag = parameters.get_app_config(name=SETTINGS.flag_profile, environment=SETTINGS.flag_environment,
                                     application=SETTINGS.flag_application, transform="json",
                                     max_age=SETTINGS.flag_max_age)
    arm, variant = pick_variant(flag)
    provider = BedrockConverseProvider(client("bedrock-runtime"))
    guardrail = variant.guardrail
    resolution = MetricResolution.High if SETTINGS.metric_resolution == 1 else MetricResolution.Standard
    metrics.add_dimension(name="variant", value=arm)

    def emit(name: str, value: float, unit: MetricUnit = MetricUnit.Count) -> None:
        metrics.add_metric(name=name, unit=unit, value=value, resolution=resolution)

    emit("Requests", 1)
    try:
        result = provider.generate(GenerationRequest(
            model_id=variant.model_id, system=prompt_text(variant.prompt), user=request.question,
            context=request.document, temperature=variant.temperature, max_tokens=variant.max_tokens,
            guardrail_id=guardrail.id if guardrail else None,
            guardrail_version=guardrail.version if guardrail else None))
    except ProviderError as exc:
        for name in ("SlowRequests", "LowQuality", "GuardrailInterventions", "InputTokens", "OutputTokens"):
            emit(name, 0)
        emit("CostUSD", 0, MetricUnit.NoUnit)
        emit("Errors", 1)
        logger.warning("model call failed", extra={"variant": arm, "error": type(exc).__name__})
        return {"variant": arm, "error": "the assistant is unavailable, please retry"}
    price_in, price_out = PRICES.get(variant.model_id, [0.0, 0.0])
    # Online quality signal: the bot could not answer, or refused (a guardrail block is counted apart).
    low_quality = (_UNANSWERED.search(result.text) is not None or is_refusal(result.text)) \
        and not result.guardrail_intervened
    emit("Errors", 0)
    emit("LatencyMs", result.latency_ms, MetricUnit.Milliseconds)
    emit("SlowRequests", 1 if result.latency_ms > SETTINGS.slow_request_ms else 0)
    emit("InputTokens", result.input_tokens)
    emit("OutputTokens", result.output_tokens)
    emit("CostUSD", result.input_tokens / 1000 * price_in + result.output_tokens / 1000 * price_out,
         MetricUnit.NoUnit)
    emit("GuardrailInterventions", 1 if result.guardrail_intervened else 0)
    emit("LowQuality", 1 if low_quality else 0)
    logger.info("answered", extra={"variant": arm, "output_tokens": result.output_tokens,
                                   "latency_ms": result.latency_ms})
    return {"variant": arm, "answer": result.text}


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return answer(parse(event=event, model=ChatRequest))
