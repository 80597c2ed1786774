"""Validate a task's input with Powertools Parser; a bad event is a named domain error."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from aws_lambda_powertools.utilities.parser import envelopes, parse
from pydantic import BaseModel, ValidationError

from genai_cicd.errors import InvalidInput
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


def parse_eventbridge(event: Any, model: type[M]) -> M:
    """The ``detail`` of an EventBridge event, through Powertools' EventBridge envelope."""
    check_size(event, "EventBridge event")
    try:
        parsed: M = parse(event=event, model=model, envelope=envelopes.EventBridgeEnvelope)  # type: ignore[assignment]
    except ValidationError as exc:
        raise InvalidInput(describe_validation_error(exc, "EventBridge event")) from None
    return parsed
