"""The prompt regression's documents between its steps: the shard plan, a shard, a child's pointer and a scored part.

Inline, the gate passes scored parts from one look to the next in memory; sharded, each
Distributed Map child writes its part to S3 and the reduce step reads every part back. The
reduce step validates each part it reads with ``ScoredPart``: a part that is not one (a
truncated write, another version's layout) counts as a missing shard, never as evidence.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Document(BaseModel):
    # Numbers in evidence are finite: a NaN read back from S3 is a broken part, not a score.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class Shard(Document):
    """One item of the plan's shard list (the Map's ItemReader reads it; a child gets one): cases [start, end)."""

    index: int = Field(ge=0)
    start: int = Field(ge=0)
    end: int = Field(ge=1)

    @model_validator(mode="after")
    def _not_empty(self) -> Shard:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class ShardPlan(Document):
    """PlanRegressionShards' output: where the shard list is (the Map's ItemReader Bucket and Key)."""

    bucket: str = Field(min_length=3, max_length=63)
    key: str = Field(min_length=1, max_length=1024)
    shards: int = Field(ge=1)
    cases: int = Field(ge=1)


class ShardPointer(Document):
    """ScoreShard's output: where the child wrote its part (the Map's ResultWriter keeps these in S3)."""

    index: int = Field(ge=0)
    uri: str = Field(min_length=1)
    rows: int = Field(ge=0)


class ScoredRow(Document):
    """One model call and its scores. ``scores`` is None when the call failed (``error`` says why)."""

    arm: Literal["baseline", "candidate"]
    case_id: str
    repeat: int = Field(ge=0)
    key: str  # the case's place in the scoring order (its content's hash)
    scores: dict[str, float] | None
    rejected: list[str] = Field(default_factory=list)  # metrics whose model verdict was refused
    error: str | None = None
    output: str | None = None
    output_tokens: int | None = None
    latency_ms: float | None = None


class RunnerFigures(Document):
    calls: int = Field(ge=0)
    throttle_events: int = Field(ge=0)
    min_concurrency: int = Field(ge=0)
    seconds: float = Field(ge=0)


class ScoredPart(Document):
    """The cases one look (inline) or one shard scored, both arms, every repeat."""

    dataset_hash: str
    cases_total: int = Field(ge=0)  # cases in the whole dataset
    cases: int = Field(ge=0)  # cases in this part
    rows: list[ScoredRow]
    prompt_hashes: dict[str, str]
    rejected_model_verdicts: dict[str, int] = Field(default_factory=dict)
    runner: RunnerFigures
