"""What every gate shares: loading variants and datasets, building requests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from genai_cicd.models.dataset import T, content_hash, parse_jsonl
from genai_cicd.models.manifest import GateName, Variant
from genai_cicd.ports import Artifacts
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


def load_variant(store: Artifacts, arm: str, variant: Variant) -> LoadedVariant:
    text = store.read_text(variant.prompt)
    return LoadedVariant(arm, variant, text, content_hash(text))


def load_cases(store: Artifacts, ref: str, model: type[T]) -> tuple[list[T], str]:
    text = store.read_text(ref)
    return parse_jsonl(text, model, ref), content_hash(text)


GateStatus = Literal["PASS", "BLOCK"]


class GateVerdictDocument(BaseModel):
    """A gate's ``verdict.json`` beside its evidence: what it decided and why, and the gate's own figures
    (extra fields). The quality gate and the report read it; every gate writes it with write_verdict."""

    model_config = ConfigDict(extra="allow")

    gate: GateName
    status: GateStatus
    reasons: list[str]


def write_verdict(store: Artifacts, evidence_prefix: str, gate: GateName, status: GateStatus,
                  reasons: list[str], **figures: Any) -> str:
    """The one place a gate's verdict is written; returns its URI."""
    document = GateVerdictDocument(gate=gate, status=status, reasons=reasons, **figures)
    return store.put_json(f"{evidence_prefix}/verdict.json", document.model_dump())
