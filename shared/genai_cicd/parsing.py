"""Validate a task's input with Powertools Parser; a bad event is a named domain error."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from aws_lambda_powertools.utilities.parser import parse
from pydantic import BaseModel, ValidationError

from genai_cicd.errors import InvalidInput
from genai_cicd.models.tasks import CanaryState, CanaryTaskInput, ReleaseContext
from genai_cicd.models.validation import describe_validation_error

M = TypeVar("M", bound=BaseModel)
# Step Functions and EventBridge carry at most 256 KiB; anything larger was not sent by them.
MAX_EVENT_BYTES = 256 * 1024


def check_size(event: Any, source: str) -> None:
    size = len(json.dumps(event, default=str).encode())
    if size > MAX_EVENT_BYTES:
        raise InvalidInput(f"{source}: (root): {size} bytes, over the {MAX_EVENT_BYTES}-byte limit")


def parse_event(event: Any, model: type[M], source: str = "event") -> M:
    check_size(event, source)
    try:
        return parse(event=event, model=model)
    except ValidationError as exc:
        raise InvalidInput(describe_validation_error(exc, source)) from None


def parse_eventbridge(event: Any, model: type[M], source: str | None = None, detail_type: str | None = None) -> M:
    """The ``detail`` of an EventBridge event, through Powertools' EventBridge envelope.

    With ``source`` and ``detail_type`` the handler checks what its rule should have filtered:
    a rule edited by hand, or a direct invoke, cannot feed it another service's event.
    """
    check_size(event, "EventBridge event")
    if source is not None and isinstance(event, dict) and event.get("source") != source:
        raise InvalidInput(f"EventBridge event: source: {str(event.get('source'))[:80]!r}, expected {source!r}")
    if detail_type is not None and isinstance(event, dict) and event.get("detail-type") != detail_type:
        raise InvalidInput(f"EventBridge event: detail-type: {str(event.get('detail-type'))[:80]!r}, "
                           f"expected {detail_type!r}")
    try:
        # Powertools loads its envelopes lazily; only the EventBridge-triggered functions need one.
        from aws_lambda_powertools.utilities.parser.envelopes import EventBridgeEnvelope

        parsed: M = parse(event=event, model=model, envelope=EventBridgeEnvelope)  # type: ignore[assignment]
    except ValidationError as exc:
        raise InvalidInput(describe_validation_error(exc, "EventBridge event")) from None
    return parsed


def canary_task(event: dict[str, Any]) -> tuple[ReleaseContext, CanaryState]:
    """The input of a task inside the canary loop: the release and the canary state it carries."""
    task = parse_event(event, CanaryTaskInput)
    if task.canary is None:
        raise InvalidInput("event: canary: required")
    return task.release, task.canary
