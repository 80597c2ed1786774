"""Bedrock Converse provider (bedrock-runtime ``Converse``)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError, ReadTimeoutError

from genai_cicd.providers.base import (
    GenerationRequest,
    GenerationResult,
    ProviderError,
    ProviderThrottled,
    ProviderTransient,
)

_THROTTLING = {"ThrottlingException", "ServiceQuotaExceededException"}
_TRANSIENT = {"ModelErrorException", "InternalServerException", "ModelTimeoutException",
              "ServiceUnavailableException", "ModelNotReadyException"}


class BedrockConverseProvider:
    name = "bedrock"

    def __init__(self, client: Any) -> None:
        self._client = client

    @staticmethod
    def _content(request: GenerationRequest) -> list[dict[str, Any]]:
        if request.context is None:
            return [{"text": request.user}]
        document = {"text": f"Retrieved document:\n<<<\n{request.context}\n>>>"}
        if request.guardrail_id:
            return [document, {"guardContent": {"text": {"text": request.user}}}]
        return [document, {"text": request.user}]

    def generate(self, request: GenerationRequest) -> GenerationResult:
        kwargs: dict[str, Any] = {
            "modelId": request.model_id,
            "system": [{"text": request.system}],
            "messages": [{"role": "user", "content": self._content(request)}],
            "inferenceConfig": {"maxTokens": request.max_tokens, "temperature": request.temperature},
        }
        if request.request_tag:
            # requestMetadata is logged with the invocation, never used for caching.
            kwargs["requestMetadata"] = {"genai-cicd-request": request.request_tag}
        if request.guardrail_id:
            kwargs["guardrailConfig"] = {
                "guardrailIdentifier": request.guardrail_id,
                "guardrailVersion": request.guardrail_version or "DRAFT",
                "trace": "disabled",
            }
        try:
            response = self._client.converse(**kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in _THROTTLING:
                raise ProviderThrottled(code) from exc
            if code in _TRANSIENT:
                raise ProviderTransient(code) from exc
            raise ProviderError(f"{code}: {exc.response.get('Error', {}).get('Message', '')}") from exc
        except (ReadTimeoutError, ConnectTimeoutError, EndpointConnectionError) as exc:
            # botocore already retried the transport: a timed-out case is an error, retried by the runner.
            raise ProviderTransient(type(exc).__name__) from exc
        content = response.get("output", {}).get("message", {}).get("content", [])
        text = "".join(block.get("text", "") for block in content)
        usage = response.get("usage", {})
        return GenerationResult(
            text=text,
            input_tokens=int(usage.get("inputTokens", 0)),
            output_tokens=int(usage.get("outputTokens", 0)),
            latency_ms=float(response.get("metrics", {}).get("latencyMs", 0)),
            stop_reason=str(response.get("stopReason", "")),
            guardrail_intervened=response.get("stopReason") == "guardrail_intervened",
        )
