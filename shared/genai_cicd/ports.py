"""What logic asks of the control plane's stores and of Step Functions, as typed ports.

Logic modules take these, never a boto3 client; ``aws/control_table.py`` and ``aws/executions.py``
implement them on DynamoDB and Step Functions (aws/*.py the rest), and tests/fakes.py's in-memory fakes
implement them for the logic's unit tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict

from genai_cicd.models.ledger import LedgerEntry
from genai_cicd.models.results import ApprovalAnswer
from genai_cicd.models.traffic import TrafficReceipt

ExecutionState = Literal["RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE"]


class Execution(BaseModel):
    """A release's execution, as DescribeExecution reports it (the fields logic reads)."""

    model_config = ConfigDict(frozen=True)

    arn: str
    name: str
    status: ExecutionState
    input: str | None = None  # the start input (JSON text)


class Tombstone(BaseModel):
    """A pipeline execution that ended: releases of this attempt or an earlier one must not start."""

    state: str
    attempt: int


class Approvals(Protocol):
    def park(self, release_id: str, task_token: str, expires_at: int) -> None: ...

    def token(self, release_id: str) -> str | None: ...

    def forget(self, release_id: str) -> None: ...


class RecordedExecution(BaseModel):
    """A release StartRelease started for one attempt of a pipeline execution."""

    arn: str
    attempt: int = 1
    # The approval request's token when the release started (GetPipelineState): CodePipeline issues one per
    # approval request, so it tells this attempt's approval from a retry's, which shares the execution id.
    approval_token: str | None = None


class PipelineRecords(Protocol):
    def record_execution(self, pipeline: str, execution_id: str, execution_name: str, execution_arn: str,
                         attempt: int, approval_token: str | None) -> None: ...

    def executions(self, pipeline: str, execution_id: str) -> list[RecordedExecution]: ...

    def bury(self, pipeline: str, execution_id: str, state: str, attempt: int, expires_at: int) -> None:
        """Record that the pipeline execution ended at ``attempt``; an event of an older attempt (EventBridge
        delivers late and out of order) never lowers the attempt already buried."""
        ...

    def tombstone(self, pipeline: str, execution_id: str) -> Tombstone | None: ...


class Executions(Protocol):
    def start(self, state_machine_arn: str, name: str, input_json: str) -> str | None:
        """The new execution's ARN; None when an execution of that name already exists."""
        ...

    def describe(self, execution_arn: str) -> Execution | None:
        """None when Step Functions knows no such execution."""
        ...

    def stop(self, execution_arn: str, error: str, cause: str) -> None: ...

    def succeed_task(self, task_token: str, output_json: str) -> None: ...

    def fail_task(self, task_token: str, error: str, cause: str) -> None: ...


class TargetUnavailable(Exception):
    """A function or deployment group the manifest names cannot be read (the message is AWS's error code)."""


# The tag that registers a Lambda function or CodeDeploy deployment group for an app with the control
# plane; IAM conditions on it where AWS supports it, code checks it where AWS does not (StopDeployment).
APP_TAG = "genai-cicd:app"


class Registration(BaseModel):
    """A Lambda function as the control plane checks it before moving its traffic or probing it."""

    arn: str
    tags: dict[str, str]


class AppFunctions(Protocol):
    """The released app's Lambda functions and CodeDeploy groups, as the control plane touches them."""

    def registration(self, function_name: str) -> Registration:
        """Raises TargetUnavailable when the function cannot be read."""
        ...

    def deployment_group_tags(self, group_arn: str) -> dict[str, str]: ...

    def invoke(self, function_name: str, payload_json: str) -> bool:
        """Synchronously; True unless the function errored (its answer is not returned)."""
        ...


class GuardrailVerdict(BaseModel):
    """ApplyGuardrail's answer in the suite's terms: the action and the policies that fired."""

    action: str  # GUARDRAIL_INTERVENED or NONE
    policies: set[str]  # prompt_attack, content, topic, word, pii


class Guardrails(Protocol):
    def apply(self, guardrail_id: str, version: str, source: str, text: str) -> GuardrailVerdict:
        """Raises ProviderThrottled on throttling and ProviderError on any other failure."""
        ...


class Embeddings(Protocol):
    def embed(self, model_id: str, text: str, dimensions: int) -> list[float]:
        """A normalised embedding; raises ProviderThrottled / ProviderError as Guardrails.apply does."""
        ...


class EvaluationJobs(Protocol):
    def create(self, request: dict[str, Any]) -> str:
        """CreateEvaluationJob with this request (built by gates/bedrock_eval.py); returns the job's ARN."""
        ...

    def status(self, job_arn: str) -> str: ...


# -- the control table's other items, CloudWatch, S3, SNS and CodePipeline (aws/*.py) ----------------


class ReleaseLocks(Protocol):
    """One release per app and environment (aws/lock.py)."""

    def acquire(self, app: str, environment: str, release_id: str, execution_arn: str = "",
                is_alive: Callable[[str], bool] | None = None) -> int:
        """The lock's fencing generation; raises ReleaseLocked while another live release holds it."""
        ...

    def holder(self, app: str, environment: str) -> str | None: ...

    def release(self, app: str, environment: str, release_id: str) -> bool: ...


class AuditLedger(Protocol):
    """The hash-chained history of a release (aws/ledger.py; the chain's rules in models/ledger.py)."""

    def entries(self, release_id: str) -> list[LedgerEntry]: ...

    def head(self, release_id: str) -> tuple[int, str]: ...

    def append(self, release_id: str, event: str, actor: str, detail: dict[str, Any],
               attempts: int = 5) -> LedgerEntry: ...


class Looks(Protocol):
    """How many times a gate has judged one candidate's content (aws/looks.py): the alpha spent."""

    def record(self, app: str, environment: str, candidate_hash: str, gate: str, release_id: str) -> int: ...


@dataclass(frozen=True)
class OtelGenAINames:
    """Where the OpenTelemetry GenAI metrics are (canary plan ``metric_names: otel_genai``): the rollup's
    dimensions besides the variant (and the token type), and the latency in seconds above which a request
    is slow (None: slow requests are not read)."""

    dimensions: tuple[tuple[str, str], ...]
    slow_seconds: float | None = None


class CanaryMetrics(Protocol):
    """Per-arm sums the app emitted, read back from CloudWatch (aws/cloudwatch.py): genai-cicd's metric
    names, or the OpenTelemetry GenAI ones when ``otel`` says where they are."""

    def interval_counts(self, *, namespace: str, app: str, environment: str, start: datetime, end: datetime,
                        period: int, arms: tuple[str, ...] = ..., fields: tuple[str, ...] = ...,
                        otel: OtelGenAINames | None = ...) -> dict[str, dict[str, float | None]]: ...

    def interval_counts_or_none(self, **query: Any) -> dict[str, dict[str, float | None]] | None: ...

    def group_counts(self, *, namespace: str, app: str, environment: str, start: datetime, end: datetime,
                     period: int, groups: int, fields: tuple[str, ...],
                     arms: tuple[str, ...] = ...) -> dict[str, dict[str, list[float]]] | None: ...

    def first_seen(self, *, namespace: str, app: str, environment: str, start: datetime, end: datetime,
                   arm: str = ..., period: int = ..., otel: OtelGenAINames | None = ...) -> datetime | None: ...

    def latency_summary(self, *, namespace: str, app: str, environment: str, start: datetime, end: datetime,
                        bound_ms: float | None, otel: OtelGenAINames | None = ...
                        ) -> dict[str, dict[str, float | None]] | None: ...


class EvaluationEvents(Protocol):
    """OpenTelemetry ``gen_ai.evaluation.result`` events of the judge's scores (evaluation_events.py)."""

    def evaluation_result(self, attributes: dict[str, Any]) -> None: ...


class Announcer(Protocol):
    """SNS and EventBridge announcements of a transition (aws/notifier.py); returns the message id."""

    def publish(self, event: str, subject: str, body: dict[str, Any], chat: dict[str, Any] | None = None) -> str:
        """``body`` for every subscriber; ``chat`` (logic/chat_card.py), when given, for HTTPS subscribers."""
        ...


class PipelineCallbacks(Protocol):
    """CodePipeline's manual-approval answers (aws/pipeline.py)."""

    def approval_token(self, pipeline: str, stage: str, action: str, execution_id: str,
                       action_execution_id: str | None = None) -> str | None:
        """The open approval request's token; with ``action_execution_id``, only if it is that request."""
        ...

    def put_approval(self, pipeline: str, stage: str, action: str, approved: bool, summary: str,
                     execution_id: str, token: str | None = None) -> ApprovalAnswer:
        """With ``token``, only that approval request (a retried stage opens a new one)."""
        ...

    def answer_if_pending(self, pipeline: str, stage: str, action: str, approved: bool, summary: str,
                          execution_id: str, token: str | None = None) -> bool: ...


class Artifacts(Protocol):
    """Evidence, datasets and reports in the artifact bucket (aws/artifacts.py). A reference is
    ``s3://bucket/key`` or a key in the control plane's bucket; a missing object is InvalidInput."""

    bucket: str

    def locate(self, ref: str) -> tuple[str, str]: ...

    def uri(self, key: str) -> str: ...

    def exists(self, ref: str) -> bool: ...

    def read_bytes(self, ref: str) -> bytes: ...

    def read_text(self, ref: str) -> str: ...

    def read_json(self, ref: str) -> Any: ...

    def read_json_counted(self, ref: str) -> Any:
        """read_json, with any S3 error as ArtifactUnreadable (for readers that count failures)."""
        ...

    def list_keys(self, ref: str) -> list[str]: ...

    def keys_after(self, prefix: str, start_after: str | None) -> list[str]: ...

    def put_text(self, key: str, text: str, content_type: str = ...) -> str: ...

    def put_expiring_text(self, key: str, text: str, content_type: str, days: int) -> str: ...

    def put_json(self, key: str, document: Any) -> str: ...

    def put_jsonl(self, key: str, rows: list[dict[str, Any]]) -> str: ...


class TrafficShifter(Protocol):
    """The candidate's share of requests, by the manifest's mechanism (aws/traffic.py: AppConfig flag,
    Lambda alias, CodeDeploy); each move is read back."""

    def set_weight(self, weight: float) -> TrafficReceipt: ...

    def current_weight(self) -> float: ...

    def rollback(self) -> TrafficReceipt: ...
