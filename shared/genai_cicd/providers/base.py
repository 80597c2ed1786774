"""The provider interface every model backend implements."""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field


class ProviderError(Exception):
    """The model call failed for a reason retrying will not fix."""


class ProviderTransient(ProviderError):
    """A server-side failure that a retry may fix (5xx, model error, timeout)."""


class ProviderThrottled(ProviderTransient):
    """The provider is rate limiting (Bedrock ThrottlingException, HTTP 429)."""


class GenerationRequest(BaseModel):
    model_config = ConfigDict(frozen=True)

    model_id: str
    system: str
    user: str
    temperature: float = 0.2
    max_tokens: int = 512
    guardrail_id: str | None = None
    guardrail_version: str | None = None
    # Retrieved text (RAG) sent beside the user message. With a guardrail, only the
    # user message is marked guardContent, as applications commonly do.
    context: str | None = Field(default=None, max_length=100_000)
    # Distinguishes repeats of one case so no layer can serve a cached answer.
    request_tag: str = Field(default="", max_length=256)


class GenerationResult(BaseModel):
    text: str
    input_tokens: int
    output_tokens: int
    latency_ms: float
    stop_reason: str
    guardrail_intervened: bool = False


class ModelProvider(Protocol):
    name: str

    def generate(self, request: GenerationRequest) -> GenerationResult: ...
