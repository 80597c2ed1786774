"""Environment configuration, parsed once per cold start and failing fast.

Every value comes from template.yaml (Globals or the function's own
Environment); nothing is defaulted silently in code.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

M = TypeVar("M", bound=BaseModel)


class ConfigurationError(RuntimeError):
    """An environment variable is missing or invalid."""


class ControlPlaneSettings(BaseModel):
    """Shared by every control-plane function (template Globals)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    table_name: str = Field(alias="TABLE_NAME", min_length=3)
    topic_arn: str = Field(alias="TOPIC_ARN", pattern=r"^arn:aws[a-z-]*:sns:")
    artifact_bucket: str = Field(alias="ARTIFACT_BUCKET", min_length=3)
    event_bus_name: str = Field(alias="EVENT_BUS_NAME", min_length=1)
    defaults_parameter: str = Field(alias="DEFAULTS_PARAMETER", min_length=1)
    appconfig_application_id: str = Field(alias="APPCONFIG_APPLICATION_ID", min_length=1)
    appconfig_environment_id: str = Field(alias="APPCONFIG_ENVIRONMENT_ID", min_length=1)
    appconfig_profile_id: str = Field(alias="APPCONFIG_PROFILE_ID", min_length=1)
    appconfig_strategy_id: str = Field(alias="APPCONFIG_STRATEGY_ID", min_length=1)
    lock_ttl_seconds: int = Field(alias="LOCK_TTL_SECONDS", ge=60, le=7 * 86400)
    model_provider: str = Field(alias="MODEL_PROVIDER", pattern=r"^(bedrock|openai-compatible)$")
    openai_base_url: str | None = Field(default=None, alias="OPENAI_BASE_URL")


class StartSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    state_machine_arn: str = Field(alias="STATE_MACHINE_ARN", pattern=r"^arn:aws[a-z-]*:states:")
    gate_action_name: str = Field(alias="GATE_ACTION_NAME", min_length=1)


def _parse(model: type[M]) -> M:
    try:
        return model.model_validate(dict(os.environ))
    except ValidationError as exc:
        problems = "; ".join(
            f"{err['loc'][0]}: {err['msg']}" for err in exc.errors(include_url=False)
        )
        raise ConfigurationError(f"invalid environment for {model.__name__}: {problems}") from None


@lru_cache(maxsize=1)
def control_plane() -> ControlPlaneSettings:
    return _parse(ControlPlaneSettings)


@lru_cache(maxsize=1)
def start() -> StartSettings:
    return _parse(StartSettings)


def reset_cache() -> None:
    """Tests and the embedded runner change the environment between stacks."""
    control_plane.cache_clear()
    start.cache_clear()
