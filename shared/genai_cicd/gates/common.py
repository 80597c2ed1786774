"""What every gate shares: loading variants and datasets, building requests."""

from __future__ import annotations

from dataclasses import dataclass

from genai_cicd.aws.artifacts import ArtifactStore
from genai_cicd.models.dataset import T, content_hash, parse_jsonl
from genai_cicd.models.manifest import Variant
from genai_cicd.providers.base import GenerationRequest

ARMS = ("baseline", "candidate")


@dataclass(frozen=True)
class LoadedVariant:
    arm: str
    variant: Variant
    system_prompt: str
    prompt_hash: str

    def request(self, user: str, tag: str, system_prefix: str = "", context: str | None = None) -> GenerationRequest:
        guardrail = self.variant.guardrail
        return GenerationRequest(
            model_id=self.variant.model_id, system=system_prefix + self.system_prompt, user=user,
            temperature=self.variant.temperature, max_tokens=self.variant.max_tokens,
            guardrail_id=guardrail.id if guardrail else None,
            guardrail_version=guardrail.version if guardrail else None, request_tag=tag,
            context=context,
        )


def load_variant(store: ArtifactStore, arm: str, variant: Variant) -> LoadedVariant:
    text = store.read_text(variant.prompt)
    return LoadedVariant(arm, variant, text, content_hash(text))


def load_cases(store: ArtifactStore, ref: str, model: type[T]) -> tuple[list[T], str]:
    text = store.read_text(ref)
    return parse_jsonl(text, model, ref), content_hash(text)
