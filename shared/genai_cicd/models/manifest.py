"""The release manifest (docs/FORMATS.md): what changed, baseline, gates, canary plan.

The manifest is the one document a team edits to ship a prompt, a model
version, a guardrail configuration or Lambda code. It is validated strictly:
unknown fields are errors, so a typo never silently disables a gate.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from genai_cicd.errors import InvalidInput, ManifestInvalid
from genai_cicd.models.aws_ids import GUARDRAIL_IDENTIFIER, MODEL_IDENTIFIER, PipelineExecutionId, PipelineName
from genai_cicd.models.documents import load_yaml, read_text, yaml_lines
from genai_cicd.models.validation import describe_validation_error

Name = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")]
# An artifact is "s3://bucket/key" or a key in the control plane's artifact bucket.
ArtifactRef = Annotated[str, Field(min_length=1, max_length=1024, pattern=r"^[^\s]+$")]


class Strict(BaseModel):
    # allow_inf_nan=False: NaN and infinities are refused in every number of the manifest. strict: a number is
    # never read from true or "3" (``repeats: true`` was once read as 1); enums still read from their names.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, strict=True)


class ChangeKind(StrEnum):
    PROMPT = "prompt"
    MODEL = "model"
    CONFIG = "config"  # inference parameters: temperature, max_tokens
    GUARDRAIL = "guardrail"
    CODE = "code"


class GuardrailRef(Strict):
    id: str = Field(min_length=1, max_length=2048, pattern=GUARDRAIL_IDENTIFIER)
    version: str = Field(pattern=r"^(DRAFT|[1-9][0-9]{0,7})$")


class Variant(Strict):
    """One side of the comparison: everything the app needs to answer."""

    prompt: ArtifactRef
    model_id: str = Field(min_length=1, max_length=2048, pattern=MODEL_IDENTIFIER)
    guardrail: GuardrailRef | None = None
    lambda_version: str | None = Field(default=None, pattern=r"^([1-9][0-9]*|\$LATEST)$")
    temperature: float = Field(default=0.2, ge=0.0, le=1.0)
    max_tokens: int = Field(default=512, ge=1, le=8192)


class Change(Strict):
    kinds: list[Annotated[ChangeKind, Field(strict=False)]] = Field(min_length=1)
    description: str = Field(default="", max_length=2000)
    author: str = Field(default="unknown", max_length=200)


class MetricPolicy(Strict):
    """Absolute threshold AND non-inferiority against the baseline."""

    threshold: float = Field(ge=0.0, le=1.0)
    margin: float = Field(gt=0.0, lt=1.0)


class JudgeSettings(Strict):
    model_id: str = Field(min_length=1, max_length=2048, pattern=MODEL_IDENTIFIER)
    rubric: str | None = Field(default=None, max_length=4000)


class ClassifierSettings(Strict):
    model_id: str = Field(min_length=1, max_length=2048, pattern=MODEL_IDENTIFIER)
    labels: list[str] = Field(min_length=2, max_length=20)
    pass_labels: list[str] = Field(min_length=1)

    @model_validator(mode="after")
    def _subset(self) -> ClassifierSettings:
        if not {p.lower() for p in self.pass_labels} <= {label.lower() for label in self.labels}:
            raise ValueError("pass_labels must be among labels")
        return self


MetricName = Literal["rouge_l", "token_f1", "assertions", "llm_judge", "embedding_cosine", "classifier"]


class ExternalScores(Strict):
    """Scores another eval tool wrote (promptfoo, DeepEval, Inspect AI, or score lines), judged
    by the gate instead of calling the model itself (docs/FORMATS.md, "Scores from your eval tool")."""

    format: Literal["promptfoo", "deepeval", "inspect", "jsonl"] | None = None  # None: read from the content
    baseline: ArtifactRef
    candidate: ArtifactRef  # may be the same file as baseline (promptfoo: both variants in one run)
    baseline_variant: str | None = Field(default=None, min_length=1, max_length=256)
    candidate_variant: str | None = Field(default=None, min_length=1, max_length=256)
    # The tool's metric names (promptfoo named metrics, DeepEval metric names, Inspect scorers).
    metrics: dict[Annotated[str, Field(min_length=1, max_length=128)], MetricPolicy] = Field(min_length=1)


class PromptRegressionGate(Strict):
    # The golden cases. With ``scores``: the cases the score files must cover (by id); one
    # absent from them counts against the candidate.
    dataset: ArtifactRef
    repeats: int = Field(default=3, ge=1, le=20)
    alpha: float = Field(default=0.05, gt=0.0, lt=0.5)
    # Our scorers' policies; empty when ``scores`` brings another tool's metrics.
    metrics: dict[MetricName, MetricPolicy] = Field(default_factory=dict)
    scores: ExternalScores | None = None
    concurrency: int = Field(default=8, ge=1, le=64)
    max_error_rate: float = Field(default=0.0, ge=0.0, le=0.2)
    judge: JudgeSettings | None = None
    embedding_model_id: str | None = Field(default=None, min_length=1, max_length=2048, pattern=MODEL_IDENTIFIER)
    classifier: ClassifierSettings | None = None
    # Cases per Distributed Map child. None: every case in one invocation (up to a few thousand
    # case x repeat calls fit in Lambda's 15 minutes); set it for larger golden sets.
    shard_size: int | None = Field(default=None, ge=10, le=100_000)
    # How long one case may back off under throttling before it counts as an error.
    max_throttle_seconds: float = Field(default=60.0, ge=1.0, le=600.0)
    # Group-sequential: the verdict is read after these shares of the cases (in a fixed order
    # from each case's content) and the gate stops at the first clear pass or block; [1.0]
    # scores every case first. The sharded path always scores every case.
    looks: list[float] = Field(default_factory=lambda: [0.25, 0.5, 0.75, 1.0], min_length=1, max_length=10)

    @field_validator("looks")
    @classmethod
    def _looks(cls, looks: list[float]) -> list[float]:
        if any(not 0 < f <= 1 for f in looks) or looks != sorted(set(looks)) or looks[-1] != 1.0:
            raise ValueError("looks must be increasing shares of the cases in (0, 1], ending with 1.0")
        return looks

    @model_validator(mode="after")
    def _metrics_or_scores(self) -> PromptRegressionGate:
        if self.scores is None and not self.metrics:
            raise ValueError("metrics: name at least one metric (or give 'scores' from your eval tool)")
        if self.scores is not None and self.metrics:
            raise ValueError("with 'scores', put the metric policies under scores.metrics (the tool's metric names)")
        if self.scores is not None and self.shard_size is not None:
            raise ValueError("shard_size: nothing to shard when the scores come from a file")
        return self

    @model_validator(mode="after")
    def _scorer_settings(self) -> PromptRegressionGate:
        needs = {"llm_judge": self.judge, "embedding_cosine": self.embedding_model_id,
                 "classifier": self.classifier}
        missing = [m for m, setting in needs.items() if m in self.metrics and setting is None]
        if missing:
            names = {"llm_judge": "judge", "embedding_cosine": "embedding_model_id", "classifier": "classifier"}
            raise ValueError(f"metric {missing[0]} needs '{names[missing[0]]}'")
        return self


class GuardrailSuiteGate(Strict):
    suite: ArtifactRef
    min_block_rate: float = Field(default=0.95, ge=0.0, le=1.0)
    max_false_positive_rate: float = Field(default=0.05, ge=0.0, le=1.0)


class InjectionSuiteGate(Strict):
    corpus: ArtifactRef
    max_success_rate: float = Field(default=0.05, ge=0.0, le=1.0)
    margin: float = Field(default=0.02, ge=0.0, le=1.0)
    repeats: int = Field(default=1, ge=1, le=10)


class SchemaContractGate(Strict):
    dataset: ArtifactRef
    min_valid_rate: float = Field(default=1.0, ge=0.0, le=1.0)
    repeats: int = Field(default=1, ge=1, le=10)


class BedrockEvaluationGate(Strict):
    dataset: ArtifactRef
    evaluator_model_id: str | None = Field(default=None, pattern=MODEL_IDENTIFIER)
    role_arn: str = Field(pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/.+$")
    metric_names: list[str] = Field(default_factory=lambda: ["Builtin.Correctness", "Builtin.Completeness"])
    # "General": what AWS's model-as-a-judge examples use (CreateEvaluationJob, taskType).
    task_type: Literal["General", "Summarization", "QuestionAndAnswer", "Classification"] = "General"
    margin: float = Field(default=0.05, gt=0.0, lt=1.0)
    # Where the candidate's answers come from: generated now by the candidate variant, or the
    # dataset's own bring-your-own-inference ``modelResponses`` (answers produced elsewhere).
    candidate_answers: Literal["generate", "dataset"] = "generate"
    poll_seconds: int = Field(default=60, ge=1, le=3600)
    max_polls: int = Field(default=120, ge=1, le=1000)


GateName = Literal["prompt_regression", "guardrail_suite", "injection_suite", "schema_contract",
                   "bedrock_evaluation"]
# Every gate, in the order they run and are reported: the one list of gate names.
GATE_NAMES: tuple[GateName, ...] = get_args(GateName)

# Change-aware selection: which configured gates a kind of change needs.
GATES_FOR_CHANGE: dict[ChangeKind, set[str]] = {
    ChangeKind.GUARDRAIL: {"guardrail_suite", "injection_suite"},
    ChangeKind.PROMPT: {"prompt_regression", "schema_contract", "injection_suite", "bedrock_evaluation"},
    ChangeKind.MODEL: set(GATE_NAMES),
    ChangeKind.CONFIG: set(GATE_NAMES),  # sampling changes every answer, as a new model does
    ChangeKind.CODE: set(GATE_NAMES),
}


def derive_change_kinds(baseline: Variant, candidate: Variant, prompt_hashes: dict[str, str]) -> set[ChangeKind]:
    """What changed, from the variants themselves, not from what the author declared.

    ``prompt_hashes`` maps "baseline"/"candidate" to the prompt's content hash, or to
    "missing" when it could not be read: an unreadable prompt counts as changed.
    Inference parameters (temperature, max_tokens) are a ``config`` change, the model id a ``model`` one.
    """
    kinds: set[ChangeKind] = set()
    b_hash, c_hash = prompt_hashes.get("baseline", "missing"), prompt_hashes.get("candidate", "missing")
    if b_hash != c_hash or "missing" in (b_hash, c_hash):
        kinds.add(ChangeKind.PROMPT)
    if baseline.model_id != candidate.model_id:
        kinds.add(ChangeKind.MODEL)
    if (baseline.temperature, baseline.max_tokens) != (candidate.temperature, candidate.max_tokens):
        kinds.add(ChangeKind.CONFIG)
    if baseline.guardrail != candidate.guardrail:
        kinds.add(ChangeKind.GUARDRAIL)
    if baseline.lambda_version != candidate.lambda_version:
        kinds.add(ChangeKind.CODE)
    return kinds


class Gates(Strict):
    # "auto": the configured gates the change kinds need (GATES_FOR_CHANGE); "all": every
    # configured gate; a list: exactly those (each must be configured).
    run: Literal["auto", "all"] | list[GateName] = "auto"
    prompt_regression: PromptRegressionGate | None = None
    guardrail_suite: GuardrailSuiteGate | None = None
    injection_suite: InjectionSuiteGate | None = None
    schema_contract: SchemaContractGate | None = None
    bedrock_evaluation: BedrockEvaluationGate | None = None


GateConfig = TypeVar("GateConfig", bound=Strict)


def configured(config: GateConfig | None, gate: GateName) -> GateConfig:
    """The manifest's configuration of a gate a task was asked to run; a gate it does not configure is bad input."""
    if config is None:
        raise InvalidInput(f"gates.{gate}: not configured in this release's manifest")
    return config


class Approval(Strict):
    required: bool = False
    timeout_seconds: int = Field(default=86400, ge=1, le=7 * 86400)


class AppConfigTarget(Strict):
    """Where the flag lives. Empty fields default to the control plane's own."""

    application_id: str | None = None
    environment_id: str | None = None
    configuration_profile_id: str | None = None
    deployment_strategy_id: str | None = None


class AliasTarget(Strict):
    function_name: str = Field(min_length=1, max_length=170)
    alias: str = Field(min_length=1, max_length=128)


class CodeDeployTarget(Strict):
    application_name: str = Field(min_length=1, max_length=100)
    deployment_group_name: str = Field(min_length=1, max_length=100)
    function_name: str = Field(min_length=1, max_length=170)
    alias: str = Field(min_length=1, max_length=128)


class FlagTraffic(Strict):
    """The AppConfig variant flag the app reads (the control plane's own when the target leaves fields empty)."""

    mechanism: Literal["appconfig_flag"] = "appconfig_flag"
    flag: AppConfigTarget


class AliasTraffic(Strict):
    """A weighted Lambda alias between two published versions."""

    mechanism: Literal["lambda_alias"] = "lambda_alias"
    function_name: str
    alias: str
    baseline_version: str
    candidate_version: str


class CodeDeployTraffic(Strict):
    """A CodeDeploy deployment of the alias from the baseline version to the candidate's."""

    mechanism: Literal["codedeploy"] = "codedeploy"
    application_name: str
    deployment_group_name: str
    function_name: str
    alias: str
    baseline_version: str
    candidate_version: str


# What moves a release's traffic, with everything its mechanism needs (ReleaseManifest.traffic()).
TrafficTarget = Annotated[FlagTraffic | AliasTraffic | CodeDeployTraffic, Field(discriminator="mechanism")]


class CanaryMetric(StrEnum):
    ERRORS = "errors"
    SLOW_REQUESTS = "slow_requests"
    LOW_QUALITY = "low_quality"
    GUARDRAIL_INTERVENTIONS = "guardrail_interventions"


class CriticalMetric(StrEnum):
    """A judged metric that rolls back as soon as it is shown harmful: a count metric, or quality."""

    ERRORS = "errors"
    SLOW_REQUESTS = "slow_requests"
    LOW_QUALITY = "low_quality"
    GUARDRAIL_INTERVENTIONS = "guardrail_interventions"
    QUALITY = "quality"


ONLINE_RUBRIC = ("PASS if the answer directly and correctly addresses the customer's QUESTION; FAIL if it "
                 "answers a different question, is off topic, or gives no useful answer.")


class OnlineQuality(Strict):
    """Live answers captured by the app (genai_cicd_app) and scored each interval, blind to the variant."""

    # Share of canary requests captured; the baseline is captured so both arms give about as many.
    sample_share: float = Field(default=0.05, gt=0.0, le=1.0)
    retention_days: Literal[1, 3, 7, 14, 30] = 7  # S3 lifecycle rules of the artifact bucket, by object tag
    # "content": the request and answer are stored (KMS) and judged here; "hashes": the app stores
    # only their SHA-256 and the scores it computed at capture time (nothing leaves its account).
    store: Literal["content", "hashes"] = "content"
    judge: JudgeSettings | None = None  # the LLM judge for "content"; refusal and guardrail checks always
    response_schema: dict[str, Any] | None = None  # JSON Schema of structured answers: invalid scores 0
    max_judge_calls: int = Field(default=500, ge=0, le=100_000)
    max_judge_tokens: int = Field(default=1_000_000, ge=0, le=1_000_000_000)
    max_samples_per_interval: int = Field(default=200, ge=1, le=2000)

    @model_validator(mode="after")
    def _judge_for_content(self) -> OnlineQuality:
        if self.store == "content" and self.judge is None:
            raise ValueError("store 'content' needs a judge (model_id, optional rubric)")
        if self.response_schema is not None:
            self._check_schema(self.response_schema)
        return self

    @staticmethod
    def _check_schema(schema: dict[str, Any]) -> None:
        import jsonschema  # imported here: most functions never check a schema, and it costs their cold start

        validator = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
        try:
            validator.check_schema(schema)
        except jsonschema.SchemaError as exc:
            raise ValueError(f"response_schema is not a valid JSON Schema: {exc.message}") from None


class ProbePlan(Strict):
    """Synthetic requests to both variants when the traffic alone cannot reach a verdict in time."""

    function_name: str = Field(min_length=1, max_length=170)  # the app's entry point (tagged genai-cicd:app)
    probe_set: ArtifactRef | None = None  # golden-case JSONL; default: gates.prompt_regression.dataset
    payload_field: str = Field(default="question", min_length=1, max_length=100)  # where the prompt goes
    when: Literal["auto", "always"] = "auto"  # auto: when the planner says the traffic is too low
    requests_per_second: float = Field(default=0.5, gt=0.0, le=100.0)  # pairs (one per variant) per second
    max_requests: int = Field(default=2000, ge=2, le=1_000_000)
    max_cost_usd: float = Field(default=5.0, gt=0.0, le=100_000.0)


class ShadowPlan(Strict):
    """Shadow evaluation before the first canary step (docs/STATISTICS.md, "Shadow evaluation"): the app also
    answers a sampled share of live requests with the candidate, off the user's path, and the pairs are
    judged blind to side, in both presentation orders. Independent of online_quality (the canary's
    unpaired quality check), which may be set or not."""

    # Blocked when the mean quality difference (candidate - baseline) is shown below -margin; the canary
    # starts when it is shown above it.
    margin: float = Field(default=0.05, gt=0.0, lt=1.0)
    # Share of live requests (all on the baseline) the app also answers with the candidate.
    sample_share: float = Field(default=0.05, gt=0.0, le=1.0)
    # The share is set so that the baseline traffic of the last 15 minutes sends at most this many a second,
    # and lowered at a look whose pairs arrived more than 1.2 times faster (the app does not count them).
    max_requests_per_second: float = Field(default=1.0, gt=0.0, le=1000.0)
    max_pairs: int = Field(default=400, ge=10, le=100_000)  # pairs judged; then "not shown safe"
    # The candidate's shadow answers, as the app prices them.
    max_cost_usd: float = Field(default=5.0, gt=0.0, le=100_000.0)
    max_intervals: int = Field(default=30, ge=1, le=1000)  # looks (one per bake) before "not shown safe"
    min_pairs: int = Field(default=30, ge=1, le=100_000)  # never shown non-inferior on fewer
    # As online_quality: "content" stores both answers (KMS) and the judge here scores them; "hashes"
    # stores digests and the scores the app computed.
    store: Literal["content", "hashes"] = "content"
    retention_days: Literal[1, 3, 7, 14, 30] = 7
    judge: JudgeSettings | None = None
    response_schema: dict[str, Any] | None = None  # JSON Schema of structured answers: invalid scores 0
    max_judge_calls: int = Field(default=1000, ge=0, le=200_000)  # two a pair (both orders)
    max_pairs_per_look: int = Field(default=200, ge=1, le=2000)

    @model_validator(mode="after")
    def _consistent(self) -> ShadowPlan:
        if self.min_pairs > self.max_pairs:
            raise ValueError("min_pairs must not exceed max_pairs")
        if self.store == "content" and self.judge is None:
            raise ValueError("store 'content' needs a judge (model_id, optional rubric)")
        if self.response_schema is not None:
            OnlineQuality._check_schema(self.response_schema)
        return self

    def capture(self) -> dict[str, Any]:
        """The flag's capture block while shadowing (genai_cicd_app reads store and retention from it)."""
        return {"share": 0.0, "store": self.store, "retention_days": self.retention_days}


# CloudWatch dimension names and values: 1-255 characters, names not starting with a colon (Dimension,
# CloudWatch API Reference).
DimensionName = Annotated[str, Field(min_length=1, max_length=255, pattern=r"^[^:\s][^\s]*$")]
DimensionValue = Annotated[str, Field(min_length=1, max_length=1024)]


class OtelMetricNames(Strict):
    """Where the canary finds the OpenTelemetry GenAI metrics (``metric_names: otel_genai``): the dimensions,
    besides ``feature_flag.result.variant`` (and ``gen_ai.token.type`` for token usage), of the rollup the
    app's exporter publishes (docs/FORMATS.md, "OpenTelemetry names"). Default: app and environment, with
    the manifest's values (what genai_cicd_app publishes with OTEL_GENAI_METRICS=1)."""

    dimensions: dict[DimensionName, DimensionValue] | None = Field(default=None, min_length=1, max_length=28)

    @field_validator("dimensions")
    @classmethod
    def _not_the_variant(cls, dims: dict[str, str] | None) -> dict[str, str] | None:
        taken = {"feature_flag.result.variant", "gen_ai.token.type"} & set(dims or {})
        if taken:
            raise ValueError(f"{sorted(taken)[0]} is set by the judge per arm (or token type); leave it out")
        return dims


# What the OpenTelemetry GenAI conventions define a metric for (docs/FORMATS.md, "OpenTelemetry names").
OTEL_JUDGED = {"errors", "slow_requests"}


# Sub-minute periods are judged a minute at a time: each look is a Step Functions Wait, a Lambda call and
# CloudWatch reads, and the execution's history holds 25,000 events (models/limits.py).
LOOK_FLOOR_SECONDS = 60


class CanaryPlan(Strict):
    mechanism: Literal["appconfig_flag", "lambda_alias", "codedeploy"] = "appconfig_flag"
    appconfig: AppConfigTarget = AppConfigTarget()
    alias: AliasTarget | None = None
    codedeploy: CodeDeployTarget | None = None
    steps: list[Annotated[float, Field(gt=0.0, lt=100.0)]] = Field(default_factory=lambda: [5.0, 25.0])
    # The minimum time a step serves before it may advance or promote (a step shown safe sooner keeps
    # serving and looking). The judge looks every metric period (at least every LOOK_FLOOR_SECONDS), not
    # once per bake: a catastrophe is rolled back at the first look (docs/STATISTICS.md, "Looks").
    bake_seconds: int = Field(default=300, ge=1, le=86400)
    metric_period_seconds: Literal[1, 5, 10, 30, 60, 300] = 60
    # CloudWatch makes a datapoint queryable only after CloudWatch Logs has extracted it from the function's
    # log (EMF): the judge reads periods that ended at least this long ago, so a late datapoint is never
    # read as missing. Every decision waits this much longer (docs/STATISTICS.md, "Late and duplicated
    # metrics"); `genai-cicd canary plan` shows it.
    metric_settle_seconds: int = Field(default=120, ge=0, le=3600)
    max_intervals_per_step: int = Field(default=60, ge=1, le=500)  # looks (one per look_seconds)
    # The app also reports its counts per session group (a hash of its sticky key into this many groups,
    # genai_cicd_app), so the judge learns how much a session's requests fail together (docs/STATISTICS.md,
    # "Session groups"). Needs the appconfig_flag mechanism and a sticky key in the app. Extra custom metrics
    # while a canary runs: (1 + count metrics) x groups x 2 arms.
    session_groups: int | None = Field(default=None, ge=2, le=32)
    min_canary_requests_per_step: int = Field(default=200, ge=1)
    alpha: float = Field(default=0.05, gt=0.0, lt=0.5)
    metrics_namespace: str = Field(default="GenAIApp", min_length=1, max_length=255)
    metrics: list[Annotated[CanaryMetric, Field(strict=False)]] = Field(
        default_factory=lambda: [CanaryMetric.ERRORS, CanaryMetric.SLOW_REQUESTS, CanaryMetric.LOW_QUALITY]
    )
    # Critical metrics roll back as soon as they are shown harmful; the others once the step
    # served its minimum sample (min_canary_requests_per_step).
    critical_metrics: list[Annotated[CriticalMetric, Field(strict=False)]] = Field(
        default_factory=lambda: [CriticalMetric.ERRORS])
    # A step advances (or the last one promotes) only when every judged metric is shown safe:
    # its anytime-valid upper bound of canary rate / baseline rate below detect_ratio.
    detect_ratio: float = Field(default=2.0, gt=1.0, le=100.0)
    # Roll back when a metric is shown worse than 1 + rollback_tolerance times the baseline.
    rollback_tolerance: float = Field(default=0.2, ge=0.0, le=10.0)
    # A critical metric many times the baseline's rate rolls back from the first look, before the
    # dispersion of the counts can be estimated: assume one interval's bad-event count varies at most
    # this many times as much as independent requests make it (incidents of about this many requests;
    # docs/STATISTICS.md, "Catastrophes"; the default 6, below the benchmark's bursts of D about 7, is a
    # measured choice: docs/BENCHMARKS.md §1).
    catastrophe_dispersion: float = Field(default=6.0, ge=1.0, le=1000.0)
    # A count metric whose canary rate is shown below this is safe whatever the baseline's
    # (with no bad events in either arm a ratio can never be shown; docs/STATISTICS.md).
    negligible_rate: float = Field(default=0.002, gt=0.0, lt=1.0)
    # Expected bad-event rate of the baseline, for `genai-cicd canary plan` when none is measured.
    baseline_bad_rate: float = Field(default=0.01, gt=0.0, lt=1.0)
    # Cost (CostUSD) and tokens (InputTokens + OutputTokens) per request: shown safe when the
    # upper bound of canary / baseline is below 1 + the increase; rolled back when the lower
    # bound is above it. Not judged when unset.
    max_cost_increase: float | None = Field(default=None, gt=0.0, le=10.0)
    max_token_increase: float | None = Field(default=None, gt=0.0, le=10.0)
    # The whole canary (all steps) must promote within this time, or it rolls back.
    max_duration_seconds: int | None = Field(default=None, ge=1, le=7 * 86400)
    # For the report: the share of requests within this latency (CloudWatch PR(:bound)). With
    # metric_names otel_genai also the bound of slow_requests (CloudWatch TC(bound:) of the duration).
    slow_request_ms: float | None = Field(default=None, gt=0)
    # Quality of live answers (mean score in [0, 1], canary - baseline): rolled back when shown
    # below -quality_margin, shown safe when above it. Judged when set; needs online_quality
    # in a release manifest (the scores' source).
    quality_margin: float | None = Field(default=None, gt=0.0, lt=1.0)
    online_quality: OnlineQuality | None = None
    probes: ProbePlan | None = None
    shadow: ShadowPlan | None = None
    # Which metric names the judge reads: genai_cicd's own (Requests, Errors, SlowRequests, ... with
    # dimensions app, environment, variant) or the OpenTelemetry GenAI semantic conventions'
    # (gen_ai.client.operation.duration and gen_ai.client.token.usage by feature_flag.result.variant).
    metric_names: Literal["genai_cicd", "otel_genai"] = "genai_cicd"
    otel: OtelMetricNames = OtelMetricNames()

    @field_validator("steps")
    @classmethod
    def _increasing(cls, steps: list[float]) -> list[float]:
        if not steps or any(b <= a for a, b in zip(steps, steps[1:], strict=False)):
            raise ValueError("steps must be a non-empty, strictly increasing list of percentages below 100")
        return steps

    @model_validator(mode="after")
    def _target(self) -> CanaryPlan:
        if self.mechanism == "lambda_alias" and self.alias is None:
            raise ValueError("mechanism lambda_alias needs an 'alias' block (function_name, alias)")
        if self.mechanism == "codedeploy" and self.codedeploy is None:
            raise ValueError("mechanism codedeploy needs a 'codedeploy' block (application_name, "
                             "deployment_group_name, function_name, alias)")
        judged = {m.value for m in self.metrics} | ({CriticalMetric.QUALITY.value} if self.quality_margin else set())
        if not {m.value for m in self.critical_metrics} <= judged:
            raise ValueError("critical_metrics must be a subset of metrics (and 'quality' when quality_margin "
                             "is set)")
        if self.online_quality is not None and self.quality_margin is None:
            raise ValueError("online_quality needs quality_margin: the drop in mean quality to roll back on")
        if self.shadow is not None:
            self._shadowable()
        if self.session_groups is not None and self.mechanism != "appconfig_flag":
            raise ValueError("session_groups needs mechanism appconfig_flag: the app learns from the variant flag "
                             "that it should report its counts per session group")
        if self.session_groups is not None and self.metric_names != "genai_cicd":
            raise ValueError("session_groups reads genai_cicd's metric names (Requests, Errors, ... by "
                             "session_group); leave it unset with metric_names otel_genai")
        if self.metric_names == "otel_genai":
            self._otel_judgeable()
        if 1.0 + self.rollback_tolerance >= self.detect_ratio:
            raise ValueError("rollback_tolerance must leave room below detect_ratio: 1 + rollback_tolerance "
                             "< detect_ratio")
        if self.max_intervals_per_step * self.look_seconds < self.bake_seconds:
            raise ValueError(f"max_intervals_per_step: {self.max_intervals_per_step} looks of {self.look_seconds} s "
                             f"end before bake_seconds ({self.bake_seconds} s), so no step could ever advance")
        return self

    @property
    def look_seconds(self) -> int:
        """Time between two looks of the judge: one metric period, at least LOOK_FLOOR_SECONDS (a look reads
        every whole period settled since the last, so sub-minute periods are judged a minute at a time)."""
        return max(self.metric_period_seconds, LOOK_FLOOR_SECONDS)

    def _shadowable(self) -> None:
        if self.mechanism != "appconfig_flag":
            raise ValueError("shadow needs mechanism appconfig_flag: the app learns from the variant flag which "
                             "requests to answer twice")

    def _otel_judgeable(self) -> None:
        other = [m.value for m in self.metrics if m.value not in OTEL_JUDGED]
        if other:
            raise ValueError(f"metric_names otel_genai: {other[0]} has no OpenTelemetry GenAI metric; judge "
                             "errors and slow_requests (and quality through online_quality), or use genai_cicd names")
        if CanaryMetric.SLOW_REQUESTS in self.metrics and self.slow_request_ms is None:
            raise ValueError("metric_names otel_genai judges slow_requests from gen_ai.client.operation.duration: "
                             "set slow_request_ms, the latency above which a request is slow")
        if self.max_cost_increase is not None:
            raise ValueError("metric_names otel_genai: the OpenTelemetry GenAI conventions define no cost metric; "
                             "leave max_cost_increase unset (max_token_increase reads gen_ai.client.token.usage)")


class BuildInfo(Strict):
    """Written by the build (``genai-cicd bundle``), not by hand: where this release came from."""

    commit: str | None = Field(default=None, max_length=200)
    pipeline: PipelineName | None = None
    pipeline_execution_id: PipelineExecutionId | None = None
    artifacts: dict[str, str] = Field(default_factory=dict)  # s3 uri -> sha256 of the content


class ReleaseManifest(Strict):
    """Input document. ``schema_version`` lets the format evolve."""

    schema_version: Literal[1] = 1
    app: Name
    environment: Name
    change: Change
    baseline: Variant
    candidate: Variant
    gates: Gates = Gates()
    approval: Approval = Approval()
    canary: CanaryPlan = CanaryPlan()
    build: BuildInfo | None = None

    def artifact_refs(self) -> list[tuple[str, str]]:
        """(field, reference) of every file the release reads: prompts, datasets and suites."""
        refs = [("baseline.prompt", self.baseline.prompt), ("candidate.prompt", self.candidate.prompt)]
        for name in GATE_NAMES:
            gate = getattr(self.gates, name)
            for field in ("dataset", "suite", "corpus"):
                if gate is not None and getattr(gate, field, None):
                    refs.append((f"gates.{name}.{field}", getattr(gate, field)))
        scores = self.gates.prompt_regression.scores if self.gates.prompt_regression else None
        if scores is not None:
            refs += [("gates.prompt_regression.scores.baseline", scores.baseline),
                     ("gates.prompt_regression.scores.candidate", scores.candidate)]
        if self.canary.probes is not None and self.canary.probes.probe_set:
            refs.append(("canary.probes.probe_set", self.canary.probes.probe_set))
        return refs

    def flag_capture(self) -> dict[str, Any] | None:
        """What genai_cicd_app reads from the variant flag to capture answers (docs/FORMATS.md)."""
        online = self.canary.online_quality
        if online is None:
            return None
        return {"share": online.sample_share, "store": online.store, "retention_days": online.retention_days}

    def probe_set(self) -> str | None:
        """The golden-case file probes are drawn from: the probe_set, else the regression dataset."""
        if self.canary.probes is None:
            return None
        if self.canary.probes.probe_set:
            return self.canary.probes.probe_set
        return self.gates.prompt_regression.dataset if self.gates.prompt_regression else None

    @model_validator(mode="after")
    def _probes_have_prompts(self) -> ReleaseManifest:
        if self.canary.probes is not None and self.probe_set() is None:
            raise ValueError("canary.probes needs a probe_set or gates.prompt_regression.dataset to draw from")
        return self

    def selected_gates(self, kinds: Iterable[ChangeKind] | None = None) -> dict[str, str | None]:
        """Gate name -> None when it runs, else why it does not.

        ``kinds`` are the change kinds that decide ``gates.run: auto``: LoadManifest passes the
        declared kinds together with those derived from the variants (``derive_change_kinds``),
        so a declaration can add gates but never remove one.
        """
        names = list(GATE_NAMES)
        effective = sorted(set(self.change.kinds if kinds is None else kinds))
        needed = set().union(*(GATES_FOR_CHANGE[k] for k in effective))
        out: dict[str, str | None] = {}
        for name in names:
            if getattr(self.gates, name) is None:
                out[name] = "not configured in the manifest"
            elif isinstance(self.gates.run, list):
                out[name] = None if name in self.gates.run else "not in gates.run"
            elif self.gates.run == "auto" and name not in needed:
                described = ", ".join(k.value for k in effective) or "no detected"
                out[name] = f"not needed for a {described} change (gates.run: auto)"
            else:
                out[name] = None
        return out

    def traffic(self) -> FlagTraffic | AliasTraffic | CodeDeployTraffic:
        """The traffic target of ``canary.mechanism`` with what it needs, one type per mechanism.

        The manifest keeps its flat form (``mechanism`` beside optional ``alias``/``codedeploy``
        blocks); this is where that becomes a tagged union, so no consumer narrows optional fields.
        Raises ValueError for a combination the validators refuse (never on a validated manifest).
        """
        plan = self.canary
        if plan.mechanism == "appconfig_flag":
            return FlagTraffic(flag=plan.appconfig)
        base, cand = self.baseline.lambda_version, self.candidate.lambda_version
        if not (base and cand):
            raise ValueError(f"mechanism {plan.mechanism} needs baseline and candidate lambda_version")
        if plan.mechanism == "lambda_alias" and plan.alias is not None:
            return AliasTraffic(function_name=plan.alias.function_name, alias=plan.alias.alias,
                                baseline_version=base, candidate_version=cand)
        if plan.mechanism == "codedeploy" and plan.codedeploy is not None:
            cd = plan.codedeploy
            return CodeDeployTraffic(application_name=cd.application_name,
                                     deployment_group_name=cd.deployment_group_name, function_name=cd.function_name,
                                     alias=cd.alias, baseline_version=base, candidate_version=cand)
        raise ValueError(f"mechanism {plan.mechanism} needs its '{plan.mechanism.replace('lambda_', '')}' block")

    @model_validator(mode="after")
    def _something_changed(self) -> ReleaseManifest:
        if self.baseline == self.candidate:
            raise ValueError("candidate is identical to baseline: nothing to release")
        if isinstance(self.gates.run, list):
            missing = [g for g in self.gates.run if getattr(self.gates, g) is None]
            if missing:
                raise ValueError(f"gates.run names gates with no configuration: {', '.join(missing)}")
        self.traffic()  # every mechanism has its target and both versions
        return self


MAX_MANIFEST_BYTES = 256 * 1024


def parse_manifest(data: object, source: str = "manifest", text: str | None = None) -> ReleaseManifest:
    """Validate a decoded manifest; raise ManifestInvalid naming each bad field (and its line, given the
    ``text`` it was decoded from)."""
    try:
        return ReleaseManifest.model_validate(data)
    except ValidationError as exc:
        lines = yaml_lines(text) if text is not None else None
        raise ManifestInvalid(describe_validation_error(exc, source, lines=lines, fields=manifest_fields())) from None


@lru_cache(maxsize=1)
def manifest_fields() -> frozenset[str]:
    """Every field name of the manifest's models: what a misspelt key is compared with."""
    names: set[str] = set()
    todo: list[Any] = [ReleaseManifest]
    seen: set[Any] = set()
    while todo:
        kind = todo.pop()
        if kind in seen:
            continue
        seen.add(kind)
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            for name, field in kind.model_fields.items():
                names.add(field.alias or name)
                todo.append(field.annotation)
        else:
            todo.extend(get_args(kind))
    return frozenset(names)


def decode_manifest_text(text: str, source: str = "manifest") -> dict[str, object]:
    """YAML or JSON text (JSON is YAML) to a mapping, with the line of a syntax error."""
    size = len(text.encode("utf-8"))
    if size > MAX_MANIFEST_BYTES:
        # It travels in a Step Functions payload (256 KiB); datasets are referenced, never inlined.
        raise ManifestInvalid(f"{source}: (root): {size} bytes, over the {MAX_MANIFEST_BYTES}-byte limit")
    try:
        data = load_yaml(text, source)
    except InvalidInput as exc:
        raise ManifestInvalid(str(exc)) from None
    if not isinstance(data, dict):
        raise ManifestInvalid(f"{source}: (root): expected a mapping, got {type(data).__name__}")
    return data


def load_manifest_text(text: str, source: str = "manifest") -> ReleaseManifest:
    return parse_manifest(decode_manifest_text(text, source), source, text)


def load_manifest_file(path: Path) -> ReleaseManifest:
    try:
        text = read_text(path, max_bytes=MAX_MANIFEST_BYTES, what="manifest")
    except InvalidInput as exc:
        raise ManifestInvalid(str(exc)) from None
    return load_manifest_text(text, str(path))
