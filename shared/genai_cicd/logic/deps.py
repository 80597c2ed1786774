"""The adapters one logic call needs, built from settings and clients.

Handlers build it once per invocation (clients are cached); tests build it
with their own clients.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from genai_cicd import settings
from genai_cicd.aws import clients
from genai_cicd.aws.artifacts import ArtifactStore
from genai_cicd.aws.cloudwatch import CanaryMetricsReader
from genai_cicd.aws.control_table import DynamoApprovals, DynamoPipelineRecords
from genai_cicd.aws.executions import StepFunctionsExecutions
from genai_cicd.aws.ledger import Ledger
from genai_cicd.aws.lock import ReleaseLock
from genai_cicd.aws.looks import GateLooks
from genai_cicd.aws.notifier import Notifier
from genai_cicd.aws.pipeline import PipelineReporter
from genai_cicd.logic.ports import Approvals, Executions, PipelineRecords
from genai_cicd.providers.base import ModelProvider
from genai_cicd.providers.bedrock import BedrockConverseProvider
from genai_cicd.providers.openai_compat import OpenAICompatibleProvider


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Deps:
    config: settings.ControlPlaneSettings
    # The canary's windows are cut on this clock (a replay of recorded metrics sets its own).
    clock: Callable[[], datetime] = field(default=utc_now)

    @classmethod
    def from_environment(cls) -> Deps:
        return cls(settings.control_plane())

    def client(self, service: str) -> Any:
        return clients.client(service)

    @cached_property
    def artifacts(self) -> ArtifactStore:
        return ArtifactStore(self.client("s3"), self.config.artifact_bucket)

    @cached_property
    def ledger(self) -> Ledger:
        return Ledger(self.client("dynamodb"), self.config.table_name)

    @cached_property
    def looks(self) -> GateLooks:
        return GateLooks(self.client("dynamodb"), self.config.table_name)

    @cached_property
    def lock(self) -> ReleaseLock:
        return ReleaseLock(self.client("dynamodb"), self.config.table_name, self.config.lock_ttl_seconds)

    @cached_property
    def approvals(self) -> Approvals:
        return DynamoApprovals(self.client("dynamodb"), self.config.table_name)

    @cached_property
    def pipeline_records(self) -> PipelineRecords:
        return DynamoPipelineRecords(self.client("dynamodb"), self.config.table_name)

    @cached_property
    def executions(self) -> Executions:
        return StepFunctionsExecutions(self.client("stepfunctions"))

    @cached_property
    def notifier(self) -> Notifier:
        return Notifier(self.client("sns"), self.client("events"), self.config.topic_arn,
                        self.config.event_bus_name)

    @cached_property
    def metrics_reader(self) -> CanaryMetricsReader:
        return CanaryMetricsReader(self.client("cloudwatch"))

    @cached_property
    def pipeline(self) -> PipelineReporter:
        return PipelineReporter(self.client("codepipeline"))

    @cached_property
    def provider(self) -> ModelProvider:
        if self.config.model_provider == "openai-compatible":
            if not self.config.openai_base_url:
                raise settings.ConfigurationError("MODEL_PROVIDER=openai-compatible needs OPENAI_BASE_URL")
            return OpenAICompatibleProvider(self.config.openai_base_url)
        return BedrockConverseProvider(self.client("bedrock-runtime"))
