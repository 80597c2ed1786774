"""Golden datasets and test suites (JSONL, docs/FORMATS.md).

A golden line is a superset of a Bedrock evaluation dataset line
(``prompt``, ``referenceResponse``, ``category``), so one file feeds the
pre-deploy gates and a Bedrock evaluation job. Each error names file, line
and field.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator

from genai_cicd.errors import DatasetInvalid, InvalidInput
from genai_cicd.models.documents import load_json
from genai_cicd.models.patterns import compile_pattern
from genai_cicd.models.validation import describe_validation_error

MAX_LINES = 100_000
# One case is a question, a reference and a few assertions: 256 KiB is far beyond any real one.
MAX_LINE_CHARS = 256 * 1024
MAX_DATASET_BYTES = 128 * 1024 * 1024  # a file is read whole before its lines are checked


def _text(value: Any) -> Any:
    """Accept a plain string or Bedrock's nested ``{"text": ...}`` form."""
    if isinstance(value, dict) and set(value) == {"text"}:
        return value["text"]
    return value


Text = Annotated[str, BeforeValidator(_text), Field(min_length=1, max_length=100_000)]


class Line(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, strict=True)  # no "yes" for true


class Assertion(Line):
    type: Literal["contains", "not_contains", "regex"]
    value: str = Field(min_length=1, max_length=1000)
    case_sensitive: bool = False

    @model_validator(mode="after")
    def _pattern(self) -> Assertion:
        if self.type == "regex":
            compile_pattern(self.value, self.case_sensitive)  # PatternInvalid is a ValueError: named by field
        return self


class ModelResponse(Line):
    """One bring-your-own-inference answer, as Bedrock evaluation datasets carry it."""

    response: str = Field(max_length=100_000)
    model_identifier: str = Field(alias="modelIdentifier", min_length=1, max_length=256)


class GoldenCase(Line):
    id: str | None = Field(default=None, min_length=1, max_length=128)
    prompt: Text
    reference_response: Text | None = Field(default=None, alias="referenceResponse")
    category: str | None = Field(default=None, max_length=128)
    assertions: list[Assertion] = Field(default_factory=list)
    json_schema: dict[str, Any] | None = Field(default=None, alias="schema")
    tags: list[str] = Field(default_factory=list)
    # Bedrock's bring-your-own-inference field: answers produced outside this run (one per source).
    model_responses: list[ModelResponse] | None = Field(default=None, alias="modelResponses", min_length=1,
                                                        max_length=1)

    @field_validator("json_schema")
    @classmethod
    def _schema(cls, schema: dict[str, Any] | None) -> dict[str, Any] | None:
        if schema is not None:
            import jsonschema  # imported here: most functions never check a schema, and it costs their cold start

            validator = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
            try:
                validator.check_schema(schema)
            except jsonschema.SchemaError as exc:
                raise ValueError(f"not a valid JSON Schema: {exc.message}") from None
        return schema


class GuardrailCase(Line):
    id: str = Field(min_length=1, max_length=128)
    text: str = Field(min_length=1, max_length=25_000)
    source: Literal["INPUT", "OUTPUT"] = "INPUT"
    expected: Literal["GUARDRAIL_INTERVENED", "NONE"]
    policy: Literal["content", "topic", "word", "pii", "prompt_attack"] | None = None


class InjectionCase(Line):
    id: str = Field(min_length=1, max_length=128)
    category: Literal[
        "direct", "indirect", "system_prompt_extraction", "role_play", "encoding", "format_hijack"
    ]
    attack: str = Field(min_length=1, max_length=20_000)
    document: str | None = Field(default=None, max_length=20_000)
    # How success is recognised in the model's answer.
    success: Literal["canary_leak", "marker"]
    marker: str | None = Field(default=None, min_length=3, max_length=200)

    @model_validator(mode="after")
    def _marker(self) -> InjectionCase:
        if self.success == "marker" and not self.marker:
            raise ValueError("success 'marker' needs a 'marker' string to look for")
        return self


T = TypeVar("T", bound=BaseModel)


def parse_jsonl(text: str, model: type[T], source: str) -> list[T]:
    """Parse JSONL strictly. Blank lines are skipped; anything else must validate."""
    items: list[T] = []
    errors: list[str] = []
    seen_ids: dict[str, int] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        if number > MAX_LINES:
            raise DatasetInvalid(f"{source}:{number}: more than {MAX_LINES} lines")
        if len(raw) > MAX_LINE_CHARS:
            errors.append(f"{source}:{number}: (root): line of {len(raw)} characters, over {MAX_LINE_CHARS}")
            continue
        try:
            data = load_json(raw, f"{source}:{number}")
        except InvalidInput as exc:
            errors.append(str(exc).replace(f"{source}:{number}:1:", f"{source}:{number}:"))
            continue
        try:
            item = model.model_validate(data)
        except ValidationError as exc:
            errors.append(describe_validation_error(exc, source, number))
        else:
            items.append(item)
            case_id = getattr(item, "id", None)
            if case_id is not None:
                if case_id in seen_ids:
                    errors.append(f"{source}:{number}: id: duplicate case id {case_id!r} (first on line "
                                  f"{seen_ids[case_id]})")
                seen_ids.setdefault(case_id, number)
        if len(errors) >= 20:
            break
    if errors:
        raise DatasetInvalid("\n".join(errors))
    if not items:
        raise DatasetInvalid(f"{source}: no cases")
    return items


def case_ids(cases: Iterable[GoldenCase | GuardrailCase | InjectionCase]) -> list[str]:
    """Stable ids: the given id, else the 1-based position. Duplicates are errors."""
    ids = [getattr(c, "id", None) or f"case-{i:05d}" for i, c in enumerate(cases, start=1)]
    seen: set[str] = set()
    for cid in ids:
        if cid in seen:
            raise DatasetInvalid(f"duplicate case id {cid!r}")
        seen.add(cid)
    return ids


def content_hash(text: str | bytes) -> str:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return "sha256:" + hashlib.sha256(data).hexdigest()
