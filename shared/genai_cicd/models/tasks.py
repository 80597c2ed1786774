"""Inputs and outputs of the state-machine tasks.

State carries ids, pointers to S3 and small summaries only (Step Functions
payloads are limited to 256 KiB); the evidence itself is in S3.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field, model_validator

from genai_cicd.canary.decision import CanaryEvidence, Outcome
from genai_cicd.canary.sequential import ScoreSums
from genai_cicd.models.aws_ids import ExecutionArn, PipelineExecutionId, PipelineName
from genai_cicd.models.regression import Shard, ShardPlan
from genai_cicd.models.traffic import TrafficReceipt


class TaskModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PipelineContext(TaskModel):
    """Where the release came from when a pipeline started it."""

    pipeline: PipelineName
    execution_id: PipelineExecutionId
    stage: str = Field(min_length=1, max_length=100)
    action: str = Field(min_length=1, max_length=100)
    callback: Literal["approval", "none"] = "none"


class ReleaseInput(TaskModel):
    """What a pipeline (or the CLI, or the start function) passes to StartExecution."""

    manifest: dict[str, Any] | None = None
    manifest_uri: str | None = Field(default=None, pattern=r"^(s3://[^/]+/.+|[^\s]+)$")
    pipeline: PipelineContext | None = None
    started_by: str = Field(default="unknown", max_length=200)

    @model_validator(mode="after")
    def _one_source(self) -> ReleaseInput:
        if (self.manifest is None) == (self.manifest_uri is None):
            raise ValueError("give exactly one of 'manifest' (inline) or 'manifest_uri'")
        return self


class ValidateInput(TaskModel):
    input: dict[str, Any]
    execution_name: str
    execution_arn: ExecutionArn


class ReleaseContext(TaskModel):
    release_id: str
    execution_arn: ExecutionArn
    app: str
    environment: str
    manifest_uri: str
    manifest_hash: str
    change_kinds: list[str]  # what the gates ran for: declared and derived together
    declared_kinds: list[str] = Field(default_factory=list)  # what the manifest's author typed
    derived_kinds: list[str] = Field(default_factory=list)  # what comparing baseline and candidate found
    kinds_note: str | None = None  # set when declared and derived disagree
    candidate_hash: str | None = None  # the candidate's content (prompt hash, model, parameters, guardrail, code)
    gates: dict[str, bool]
    skipped: dict[str, str] = Field(default_factory=dict)  # gate -> why it does not run
    approval_required: bool
    approval_timeout_seconds: int
    bake_seconds: int
    bedrock_poll_seconds: int
    pipeline: PipelineContext | None = None
    started_by: str
    # What changed, for the ledger: per arm model id, guardrail, Lambda version, prompt hash.
    variants: dict[str, dict[str, Any]] = Field(default_factory=dict)
    regression_sharded: bool = False  # prompt_regression runs as a Distributed Map (shard_size set)
    shadow: bool = False  # a shadow phase runs before the first canary step (canary.shadow)


class GateResult(TaskModel):
    gate: str
    status: Literal["PASS", "BLOCK", "SKIPPED"]
    summary: str = Field(max_length=2000)
    reasons: list[str] = Field(default_factory=list, max_length=50)
    report_uri: str | None = None
    dataset_hash: str | None = None
    stats: dict[str, Any] = Field(default_factory=dict)


class GateTaskInput(TaskModel):
    release: ReleaseContext
    # prompt_regression only: run inline, or plan / score one shard / reduce for the Distributed Map.
    action: Literal["run", "plan", "shard", "reduce"] = "run"
    shard: Shard | None = None  # shard: the item of the plan's list this Map child scores
    # reduce: the plan PlanRegressionShards returned (bucket and key of the shard list); the
    # children's results stay in S3 (the Map's ResultWriter), never in the state.
    plan: ShardPlan | None = None

    @model_validator(mode="after")
    def _what_the_action_needs(self) -> GateTaskInput:
        if (self.action == "shard") != (self.shard is not None):
            raise ValueError("shard: required for action 'shard' (index, start, end), and only for it")
        if (self.action == "reduce") != (self.plan is not None):
            raise ValueError("plan: required for action 'reduce' (the shard plan: bucket, key), and only for it")
        return self


class EvaluationState(TaskModel):
    """BedrockEvaluation's state between polls (the ASL carries it in ``$.evaluation``)."""

    status: Literal["InProgress", "Done"]
    jobs: dict[str, str] = Field(min_length=1)  # job key (arm, or arm-part) -> evaluation job ARN
    polls: int = Field(default=0, ge=0)
    dataset_hash: str | None = None
    result: GateResult | None = None  # set when Done: the gate's verdict

    @model_validator(mode="after")
    def _result_when_done(self) -> EvaluationState:
        if (self.status == "Done") != (self.result is not None):
            raise ValueError("result: present exactly when status is Done")
        return self


class EvaluationTask(TaskModel):
    """BedrockEvaluation's input: start the jobs, or poll them with the state the last step returned."""

    release: ReleaseContext
    action: Literal["start", "poll"]
    evaluation: EvaluationState | None = None

    @model_validator(mode="after")
    def _state_to_poll(self) -> EvaluationTask:
        if (self.action == "poll") != (self.evaluation is not None):
            raise ValueError("evaluation: action 'poll' needs the state the start (or last poll) returned, "
                             "and 'start' takes none")
        return self


class QualityGateInput(TaskModel):
    release: ReleaseContext
    gates: list[dict[str, Any]]


class QualityVerdict(TaskModel):
    decision: Literal["PASS", "BLOCK"]
    blocked_by: list[str]
    reasons: list[str]
    report_uri: str
    # For the ledger: per gate its status, dataset hash and headline numbers (bounds, rates).
    evidence: dict[str, dict[str, Any]] = Field(default_factory=dict)


class OnlineScoring(TaskModel):
    """Online scoring of captured answers so far (no content: keys, counts and the budget)."""

    cursors: dict[str, str] = Field(default_factory=dict)  # stream -> last sample key read
    judge_calls: int = 0
    judge_tokens: int = 0
    scored: int = 0
    imputed: int = 0  # the scorer failed: counted as the worst score for the arm (0 canary, 1 baseline)
    unscored: int = 0  # captured but never scored (budget spent, unreadable record)
    budget_spent: bool = False


class ProbeState(TaskModel):
    """Probe traffic of this canary: on or off and why, what it used, and its own evidence."""

    active: bool = False
    reason: str = Field(default="", max_length=500)
    sent: int = 0  # probe requests (one per variant of a pair)
    crashed: dict[str, int] = Field(default_factory=dict)  # arm -> invocations that failed outright
    crashed_seen: dict[str, int] = Field(default_factory=dict)  # of those, already counted by the judge
    cost_usd: float = 0.0
    credit: float = 0.0  # fractional pairs carried to the next interval
    stopped: str | None = Field(default=None, max_length=300)  # why sending stopped (a cap reached)
    judge: CanaryEvidence = Field(default_factory=CanaryEvidence)


class ShadowState(TaskModel):
    """The shadow phase so far: counts, the running sums of the paired differences, and what decided.

    The pairs themselves (scores, never text) are in S3 at ``pairs_key``; the state keeps only sums."""

    started_at: str
    share: float = Field(ge=0.0, le=1.0)  # what the flag asks the app to shadow
    action: Literal["continue", "canary", "block"] = "continue"
    outcome: Literal["shadowing", "worse", "non_inferior", "not_shown_safe"] = "shadowing"
    intervals: int = 0
    pairs: int = 0  # judged pairs
    duplicates: int = 0  # pair records for a request already judged (at-least-once delivery)
    imputed: int = 0  # judge failed: scored as the worst difference (-1)
    unscored: int = 0  # unreadable, or left once the judge budget was spent
    judge_calls: int = 0
    judge_tokens: int = 0
    cost_usd: float = 0.0  # the candidate's shadow answers, as the app priced them
    sums: ScoreSums = Field(default_factory=ScoreSums)  # (difference + 1) / 2 of each pair, in [0, 1]
    cursor: str | None = None
    pairs_key: str | None = None
    estimate: float | None = None  # mean candidate - baseline
    lower: float | None = None
    upper: float | None = None
    last_reasons: list[str] = Field(default_factory=list)
    plan: str | None = Field(default=None, max_length=1000)


class ShadowTaskInput(TaskModel):
    release: ReleaseContext
    action: Literal["start", "analyze"]
    shadow: ShadowState | None = None

    @model_validator(mode="after")
    def _state_to_analyze(self) -> ShadowTaskInput:
        if (self.action == "analyze") != (self.shadow is not None):
            raise ValueError("shadow: action 'analyze' needs the state the start (or last look) returned, "
                             "and 'start' takes none")
        return self


class CanaryState(TaskModel):
    started_at: str | None = None
    step_index: int
    weight: float
    action: Literal["continue", "next_step", "promote", "rollback"] = "continue"
    outcome: Outcome = "baking"
    window_start: str
    # When traffic moved to this step's weight: a step advances only once its judged periods reach
    # bake_seconds past it (the bake is the minimum time a step serves).
    step_started_at: str | None = None
    # Seconds the Wait before the next look sleeps: until the next unjudged period has ended and settled.
    wait_seconds: int = Field(default=60, ge=1, le=86400)
    judge: CanaryEvidence = Field(default_factory=CanaryEvidence)
    last_reasons: list[str] = Field(default_factory=list)
    metric: str | None = None
    timeline_uri: str | None = None
    # The planner's estimate at the traffic seen before the start (for the people watching).
    plan: str | None = Field(default=None, max_length=1000)
    stream: Literal["user", "probe"] = "user"  # the stream whose verdict decided
    online: OnlineScoring = Field(default_factory=OnlineScoring)
    probes: ProbeState = Field(default_factory=ProbeState)


class CanaryTaskInput(TaskModel):
    release: ReleaseContext
    canary: CanaryState | None = None


class RollbackInput(TaskModel):
    release: ReleaseContext
    reason: str = Field(default="rollback", max_length=2000)


class RollbackResult(TaskModel):
    """Rollback: the weight read back after the move (only a 0 is a rollback) and the adapter's receipt."""

    weight: float = Field(ge=0.0, le=0.0)
    receipt: TrafficReceipt

    @computed_field  # type: ignore[prop-decorator]
    @property
    def verified(self) -> bool:
        """Read back, never asserted: a RollbackResult exists only for a read-back of 0."""
        return self.weight == 0.0


class NotifyInput(TaskModel):
    release: ReleaseContext | None = None
    # Before the release context exists (bad input, load failure): the execution name, for the ledger.
    release_id: str | None = Field(default=None, min_length=1, max_length=80)
    event: Literal["started", "invalid", "locked", "gates_passed", "blocked", "awaiting_approval", "approved",
                   "rejected", "shadow_started", "shadow_passed", "canary_step", "promoted", "rolled_back", "failed",
                   "failed_rollback", "cancelled", "reconciled"]
    detail: dict[str, Any] = Field(default_factory=dict)
    # The settle sequence's link to the release report (null when it could not be written), added to detail.
    release_report: str | None = None


class NotifyResult(TaskModel):
    message_id: str
    ledger_seq: int | None


class LockInput(TaskModel):
    release: ReleaseContext
    action: Literal["acquire", "release"]


class LockResult(TaskModel):
    """AcquireLock: held, with the lock's expiry (epoch seconds); FreeLock: not held, and whether it was ours."""

    held: bool
    expires: int | None = None
    released: bool | None = None


class ReportInput(TaskModel):
    release: ReleaseContext
    outcome: Literal["promoted", "blocked", "rolled_back", "failed", "rejected"]
    summary: str = Field(default="", max_length=2000)


class ApprovalRequest(TaskModel):
    release: ReleaseContext
    task_token: str = Field(min_length=1, max_length=1024)
