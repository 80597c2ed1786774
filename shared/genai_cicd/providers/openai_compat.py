"""OpenAI-compatible chat completions provider (a local Ollama or vLLM).

Uses the standard library's HTTP client: one POST to ``{base_url}/chat/completions``.
Guardrails are not applied by such endpoints; a manifest that names a
guardrail with this provider is refused rather than silently unguarded.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

from genai_cicd.providers.base import (
    GenerationRequest,
    GenerationResult,
    ProviderError,
    ProviderThrottled,
    ProviderTransient,
)


class OpenAICompatibleProvider:
    name = "openai-compatible"

    def __init__(self, base_url: str, api_key: str | None = None, timeout_seconds: float = 60.0) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError("base_url must start with http:// or https://")
        self._url = base_url.rstrip("/") + "/chat/completions"
        self._api_key = api_key
        self._timeout = timeout_seconds

    def generate(self, request: GenerationRequest) -> GenerationResult:
        if request.guardrail_id:
            raise ProviderError("guardrails need Bedrock; an OpenAI-compatible endpoint cannot apply them")
        body = {
            "model": request.model_id,
            "messages": [
                {"role": "system", "content": request.system},
                {"role": "user", "content": request.user if request.context is None else
                 f"Retrieved document:\n<<<\n{request.context}\n>>>\n\n{request.user}"},
            ],
            "temperature": request.temperature,
            "max_tokens": request.max_tokens,
        }
        headers = {"Content-Type": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        req = urllib.request.Request(self._url, data=json.dumps(body).encode(), headers=headers, method="POST")
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(req, timeout=self._timeout) as resp:  # noqa: S310 - URL is configured
                payload = json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            if exc.code in (429, 503):
                raise ProviderThrottled(f"HTTP {exc.code}") from exc
            if exc.code >= 500:
                raise ProviderTransient(f"HTTP {exc.code}") from exc
            raise ProviderError(f"HTTP {exc.code}") from exc
        except (urllib.error.URLError, TimeoutError) as exc:
            raise ProviderTransient(str(exc)) from exc
        except json.JSONDecodeError as exc:
            raise ProviderError(str(exc)) from exc
        latency = (time.perf_counter() - started) * 1000
        try:
            choice = payload["choices"][0]
            text = choice["message"]["content"] or ""
        except (KeyError, IndexError, TypeError) as exc:
            raise ProviderError("response has no choices[0].message.content") from exc
        usage = payload.get("usage") or {}
        return GenerationResult(
            text=text,
            input_tokens=int(usage.get("prompt_tokens", 0)),
            output_tokens=int(usage.get("completion_tokens", 0)),
            latency_ms=latency,
            stop_reason=str(choice.get("finish_reason", "")),
        )
