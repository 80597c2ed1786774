"""The canary stream format (docs/FORMATS.md) used by ``genai-cicd canary judge``."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_INTERVALS = 100_000


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
    low_quality: float | None = Field(default=None, ge=0)
    guardrail_interventions: float | None = Field(default=None, ge=0)
    input_tokens: float | None = Field(default=None, ge=0)
    output_tokens: float | None = Field(default=None, ge=0)
    cost_usd: float | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _bad_not_above_requests(self) -> ArmCounts:
        if self.requests is not None:
            for name in ("errors", "slow_requests"):
                value = getattr(self, name)
                if value is not None and value > self.requests:
                    raise ValueError(f"{name} ({value}) exceeds requests ({self.requests})")
        if (self.quality_sum is None) != (self.quality_count is None):
            raise ValueError("quality_count and quality_sum come together")
        if self.quality_sum is not None and self.quality_count is not None and self.quality_sum > self.quality_count:
            raise ValueError(f"quality_sum ({self.quality_sum}) exceeds quality_count ({self.quality_count}): "
                             "scores are in [0, 1]")
        squares = self.quality_sum_squares
        if squares is not None:
            if self.quality_sum is None or self.quality_count is None:
                raise ValueError("quality_sum_squares needs quality_count and quality_sum")
            # x^2 <= x on [0, 1], and sum(x^2) >= sum(x)^2 / n (Cauchy-Schwarz)
            lowest = self.quality_sum ** 2 / self.quality_count if self.quality_count else 0.0
            if squares > self.quality_sum + 1e-9 or squares < lowest - 1e-9:
                raise ValueError(f"quality_sum_squares ({squares}) is impossible for scores in [0, 1] with this "
                                 "count and sum")
        return self


class Interval(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    baseline: ArmCounts
    canary: ArmCounts


class CanaryStream(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True)  # no "5" or true for a count

    canary_share: float = Field(gt=0.0, lt=1.0)
    intervals: list[Interval] = Field(min_length=1, max_length=MAX_INTERVALS)
