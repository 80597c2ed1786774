"""boto3 clients, created on first use (never at import) with standard retries."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, user_agent_extra="genai-cicd/0.1")


@cache
def client(service: str) -> Any:
    return boto3.client(service, config=_CONFIG)  # type: ignore[call-overload]


def reset() -> None:
    """The embedded AWS starts a fresh mock per run: drop clients bound to the old one."""
    client.cache_clear()
