"""What logic asks of the control plane's stores and of Step Functions, as typed ports.

Logic modules take these, never a boto3 client; ``aws/control_table.py`` and ``aws/executions.py``
implement them on DynamoDB and Step Functions, and tests/unit/test_ports.py's in-memory fakes
implement them for the logic's unit tests.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict

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


class PipelineRecords(Protocol):
    def record_execution(self, pipeline: str, execution_id: str, execution_name: str, execution_arn: str) -> None: ...

    def executions(self, pipeline: str, execution_id: str) -> list[str]: ...

    def bury(self, pipeline: str, execution_id: str, state: str, attempt: int, expires_at: int) -> None: ...

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
