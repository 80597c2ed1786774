"""bedrock-runtime, simulated: Converse (SimulatedFoundationModel), ApplyGuardrail (SimulatedGuardrails),
InvokeModel for Titan embeddings, and a tokens-per-minute quota like Bedrock's."""

from __future__ import annotations

import hashlib
import json
import math
import threading
from collections.abc import Callable
from typing import Any

from genai_cicd import clock as clock_seam
from genai_cicd_local.embedded.guardrails import GuardrailRegistry, evaluate
from genai_cicd_local.embedded.lambda_runtime import current_function
from genai_cicd_local.embedded.model import ModelError, SimulatedFoundationModel, profile_for
from genai_cicd_local.embedded.services.base import BackendError, stream
from genai_cicd_local.embedded.text import content_words


class TokenQuota:
    """A tokens-per-minute quota like Bedrock's: over it, calls are throttled."""

    def __init__(self, tokens_per_minute: int, clock: Callable[[], float] = clock_seam.now,
                 start_full: bool = True) -> None:
        self.capacity = tokens_per_minute
        self._tokens = float(tokens_per_minute) if start_full else 0.0
        self._clock = clock
        self._last = clock()
        self._lock = threading.Lock()
        self.throttled = 0

    def take(self, amount: int) -> bool:
        with self._lock:
            now = self._clock()
            self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.capacity / 60.0)
            self._last = now
            if self._tokens < amount:
                self.throttled += 1
                return False
            self._tokens -= amount
            return True


class BedrockRuntimeService:
    _lock: threading.RLock
    guardrails: GuardrailRegistry
    model: SimulatedFoundationModel
    quota: TokenQuota | None
    model_tokens: dict[str, int]
    # Simulated model latency (reported, not slept) per calling function: what the call would have cost
    # that Lambda in wall time on AWS (the benchmarks' Lambda-seconds estimate).
    model_latency_ms_by_caller: dict[str, float]
    model_spend_usd: float

    def _init_bedrock_runtime(self, model: SimulatedFoundationModel | None) -> None:
        self.model = model or SimulatedFoundationModel()
        self.quota = None
        self.model_tokens = {"input": 0, "output": 0}
        self.model_latency_ms_by_caller = {}
        self.model_spend_usd = 0.0

    def _guardrail_config(self, identifier: str, version: str) -> dict[str, Any]:
        try:
            return self.guardrails.get(identifier).at(version)
        except KeyError:
            raise BackendError("ResourceNotFoundException", f"guardrail {identifier}:{version} not found",
                               404) from None

    def apply_guardrail(self, p: dict[str, Any]) -> dict[str, Any]:
        config = self._guardrail_config(p["guardrailIdentifier"], p["guardrailVersion"])
        text = "\n".join(block.get("text", {}).get("text", "") for block in p.get("content", []))
        result = evaluate(config, text, p["source"])
        return {"usage": {"topicPolicyUnits": 1, "contentPolicyUnits": 1, "wordPolicyUnits": 1,
                          "sensitiveInformationPolicyUnits": 1, "sensitiveInformationPolicyFreeUnits": 0,
                          "contextualGroundingPolicyUnits": 0},
                "action": "GUARDRAIL_INTERVENED" if result.intervened else "NONE",
                "outputs": [{"text": result.output}] if result.intervened else [],
                "assessments": [result.detail] if result.intervened else []}

    def converse(self, p: dict[str, Any]) -> dict[str, Any]:
        model_id = p["modelId"]
        system = "\n".join(block.get("text", "") for block in p.get("system", []))
        blocks = [block for m in p.get("messages", []) if m.get("role") == "user" for block in m.get("content", [])]
        user = "\n\n".join(b["text"] if "text" in b else b["guardContent"]["text"]["text"]
                           for b in blocks if "text" in b or "guardContent" in b)
        # With guardContent blocks present only they are guarded (Bedrock's rule).
        guarded = [b["guardContent"]["text"]["text"] for b in blocks if "guardContent" in b]
        guarded_text = "\n".join(guarded) if guarded else user
        inference = p.get("inferenceConfig", {})
        tag = json.dumps(p.get("requestMetadata", {}), sort_keys=True)
        guard = p.get("guardrailConfig")
        config = self._guardrail_config(guard["guardrailIdentifier"], guard["guardrailVersion"]) if guard else None
        if self.quota is not None:
            estimate = int(len((system + " " + user).split()) * 1.33) + int(inference.get("maxTokens", 512) // 4)
            if not self.quota.take(estimate):
                raise BackendError("ThrottlingException", "Too many tokens, please wait before trying again.", 429)
        if config is not None:
            checked = evaluate(config, guarded_text, "INPUT")
            if checked.intervened:
                return self._converse_response(checked.output, 0, 40.0, "guardrail_intervened", system, user)
        try:
            completion = self.model.complete(model_id, system, user, float(inference.get("temperature", 0.7)),
                                             int(inference.get("maxTokens", 512)), tag)
        except ModelError as exc:
            raise BackendError("ModelErrorException", str(exc), 424) from None
        text, stop = completion.text, completion.stop_reason
        with self._lock:
            self.model_tokens["input"] += completion.input_tokens
            self.model_tokens["output"] += completion.output_tokens
            caller = current_function() or "client"
            self.model_latency_ms_by_caller[caller] = (self.model_latency_ms_by_caller.get(caller, 0.0)
                                                       + completion.latency_ms)
            self.model_spend_usd += self.price(model_id, completion.input_tokens, completion.output_tokens)
        if config is not None:
            checked = evaluate(config, text, "OUTPUT")
            if checked.intervened:
                text, stop = checked.output, "guardrail_intervened"
        return self._converse_response(text, completion.output_tokens, completion.latency_ms, stop, system, user,
                                       completion.input_tokens)

    @staticmethod
    def _converse_response(text: str, out_tokens: int, latency: float, stop: str, system: str, user: str,
                           in_tokens: int | None = None) -> dict[str, Any]:
        in_tokens = in_tokens if in_tokens is not None else int(len((system + " " + user).split()) * 1.33)
        return {"output": {"message": {"role": "assistant", "content": [{"text": text}]}}, "stopReason": stop,
                "usage": {"inputTokens": in_tokens, "outputTokens": out_tokens,
                          "totalTokens": in_tokens + out_tokens},
                "metrics": {"latencyMs": int(latency)}}

    def invoke_model(self, p: dict[str, Any]) -> dict[str, Any]:
        """Titan text embeddings, simulated: hashed content words and bigrams, L2-normalised."""
        if not str(p["modelId"]).startswith("amazon.titan-embed"):
            raise BackendError("ValidationException",
                               f"the embedded backend serves InvokeModel for Titan embeddings only, not {p['modelId']}")
        body = p["body"]
        request = json.loads(body.decode() if isinstance(body, bytes) else body)
        dims = int(request.get("dimensions", 1024))
        words = content_words(request["inputText"])
        vector = [0.0] * dims
        for feature in words + [f"{a}_{b}" for a, b in zip(words, words[1:], strict=False)]:
            digest = hashlib.sha256(feature.encode()).digest()
            vector[int.from_bytes(digest[:4], "big") % dims] += 1.0 if digest[4] % 2 else -1.0
        norm = math.sqrt(sum(v * v for v in vector)) or 1.0
        payload = {"embedding": [v / norm for v in vector], "inputTextTokenCount": len(words)}
        return {"body": stream(json.dumps(payload).encode()), "contentType": "application/json"}

    def price(self, model_id: str, input_tokens: int, output_tokens: int) -> float:
        profile = profile_for(model_id)
        return input_tokens / 1000 * profile.usd_per_1k_input + output_tokens / 1000 * profile.usd_per_1k_output
