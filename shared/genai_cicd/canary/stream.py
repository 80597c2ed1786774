"""The canary stream format (docs/FORMATS.md) used by ``genai-cicd canary judge``."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_INTERVALS = 100_000
GroupField = Literal["requests", "errors", "slow_requests", "low_quality", "guardrail_interventions"]


class ArmCounts(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True)  # no "5" or true for a count

    requests: float | None = Field(default=None, ge=0)
    errors: float | None = Field(default=None, ge=0)
    slow_requests: float | None = Field(default=None, ge=0)
    latency_p50_ms: float | None = Field(default=None, ge=0)
    latency_p99_ms: float | None = Field(default=None, ge=0)
    quality_count: float | None = Field(default=None, ge=0)
    quality_sum: float | None = Field(default=None, ge=0)  # sum of scores in [0, 1]
    quality_sum_squares: float | None = Field(default=None, ge=0)  # optional: a variance-adaptive bound
    quality_unscored: float | None = Field(default=None, ge=0)  # captured answers left unscored
    # Canary arm only: answers to one prompt from both variants (probe pairs), as (canary - baseline + 1) / 2
    # per pair; when present the quality check uses them (docs/STATISTICS.md, "Probe traffic").
    quality_pairs: float | None = Field(default=None, ge=0)
    quality_pairs_sum: float | None = Field(default=None, ge=0)
    quality_pairs_sum_squares: float | None = Field(default=None, ge=0)
    low_quality: float | None = Field(default=None, ge=0)
    guardrail_interventions: float | None = Field(default=None, ge=0)
    input_tokens: float | None = Field(default=None, ge=0)
    output_tokens: float | None = Field(default=None, ge=0)
    cost_usd: float | None = Field(default=None, ge=0)
    # Per session group (the app's sticky key hashed into G groups, plan session_groups): "requests" and
    # any count metric, each a list of G sums (docs/STATISTICS.md, "Session groups").
    groups: dict[GroupField, Annotated[list[Annotated[float, Field(ge=0)]], Field(min_length=2, max_length=32)]
                 ] | None = None

    @model_validator(mode="after")
    def _bad_not_above_requests(self) -> ArmCounts:
        if self.requests is not None:
            for name in ("errors", "slow_requests"):
                value = getattr(self, name)
                if value is not None and value > self.requests:
                    raise ValueError(f"{name} ({value}) exceeds requests ({self.requests})")
        if self.groups is not None:
            _groups(self.groups)
        _unit_sums("quality_count", self.quality_count, "quality_sum", self.quality_sum, self.quality_sum_squares)
        _unit_sums("quality_pairs", self.quality_pairs, "quality_pairs_sum", self.quality_pairs_sum,
                   self.quality_pairs_sum_squares)
        return self


def _groups(groups: dict[GroupField, list[float]]) -> None:
    """Per-group sums: requests among them, one length, no group with more bad events than requests."""
    requests = groups.get("requests")
    if requests is None:
        raise ValueError("groups needs 'requests' beside the metrics it splits")
    for name, values in groups.items():
        if len(values) != len(requests):
            raise ValueError(f"groups.{name} has {len(values)} groups, groups.requests {len(requests)}")
        if name != "requests" and any(v > r for v, r in zip(values, requests, strict=True)):
            raise ValueError(f"groups.{name}: a group has more bad events than requests")


def _unit_sums(count_name: str, count: float | None, sum_name: str, total: float | None,
               squares: float | None) -> None:
    """Count, sum and sum of squares of values in [0, 1]: possible together, or refused naming the field."""
    if (total is None) != (count is None):
        raise ValueError(f"{count_name} and {sum_name} come together")
    if total is not None and count is not None and total > count:
        raise ValueError(f"{sum_name} ({total}) exceeds {count_name} ({count}): scores are in [0, 1]")
    if squares is not None:
        if total is None or count is None:
            raise ValueError(f"{sum_name}_squares needs {count_name} and {sum_name}")
        # x^2 <= x on [0, 1], and sum(x^2) >= sum(x)^2 / n (Cauchy-Schwarz)
        lowest = total ** 2 / count if count else 0.0
        if squares > total + 1e-9 or squares < lowest - 1e-9:
            raise ValueError(f"{sum_name}_squares ({squares}) is impossible for scores in [0, 1] with this "
                             "count and sum")


class Interval(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    baseline: ArmCounts
    canary: ArmCounts


class CanaryStream(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True)  # no "5" or true for a count

    canary_share: float = Field(gt=0.0, lt=1.0)
    intervals: list[Interval] = Field(min_length=1, max_length=MAX_INTERVALS)
