"""The adapters one logic call needs, built from settings and clients.

The composition root: handlers build it once per invocation (clients are cached); tests build it
with their own clients.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

from genai_cicd import clock as clock_seam
from genai_cicd import settings
from genai_cicd.aws import clients
from genai_cicd.aws.app_functions import LambdaAppFunctions
from genai_cicd.aws.artifacts import ArtifactStore
from genai_cicd.aws.bedrock import BedrockEmbeddings, BedrockEvaluationJobs, BedrockGuardrails
from genai_cicd.aws.cloudwatch import CanaryMetricsReader
from genai_cicd.aws.control_table import DynamoApprovals, DynamoPipelineRecords
from genai_cicd.aws.executions import StepFunctionsExecutions
from genai_cicd.aws.ledger import Ledger
from genai_cicd.aws.lock import ReleaseLock
from genai_cicd.aws.looks import GateLooks
from genai_cicd.aws.notifier import Notifier
from genai_cicd.aws.pipeline import PipelineReporter
from genai_cicd.aws.traffic import AppConfigFlag, CodeDeployLambda, LambdaAlias
from genai_cicd.errors import InvalidInput
from genai_cicd.evaluation_events import LoggedEvaluationEvents
from genai_cicd.models.manifest import AliasTraffic, CodeDeployTraffic, ReleaseManifest
from genai_cicd.ports import (
    Announcer,
    AppFunctions,
    Approvals,
    Artifacts,
    AuditLedger,
    CanaryMetrics,
    Embeddings,
    EvaluationEvents,
    EvaluationJobs,
    Executions,
    Guardrails,
    Looks,
    PipelineCallbacks,
    PipelineRecords,
    ReleaseLocks,
    TrafficShifter,
)
from genai_cicd.providers.base import ModelProvider
from genai_cicd.providers.bedrock import BedrockConverseProvider
from genai_cicd.providers.openai_compat import OpenAICompatibleProvider


def utc_now() -> datetime:
    return clock_seam.utc_now()


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
    def artifacts(self) -> Artifacts:
        return ArtifactStore(self.client("s3"), self.config.artifact_bucket)

    @cached_property
    def ledger(self) -> AuditLedger:
        return Ledger(self.client("dynamodb"), self.config.table_name)

    @cached_property
    def looks(self) -> Looks:
        return GateLooks(self.client("dynamodb"), self.config.table_name)

    @cached_property
    def lock(self) -> ReleaseLocks:
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
    def app_functions(self) -> AppFunctions:
        return LambdaAppFunctions(self.client("lambda"), self.client("codedeploy"))

    def traffic(self, release_id: str, manifest: ReleaseManifest) -> TrafficShifter:
        """The adapter of the manifest's traffic mechanism (validated by the manifest model)."""
        try:
            target = manifest.traffic()
        except ValueError as exc:
            raise InvalidInput(f"canary.mechanism: {exc}") from None
        if isinstance(target, CodeDeployTraffic):
            return CodeDeployLambda(self.client("codedeploy"), self.client("lambda"),
                                    application=target.application_name, deployment_group=target.deployment_group_name,
                                    function_name=target.function_name, alias=target.alias,
                                    baseline_version=target.baseline_version,
                                    candidate_version=target.candidate_version, release_id=release_id,
                                    app=manifest.app)
        if isinstance(target, AliasTraffic):
            return LambdaAlias(self.client("lambda"), function_name=target.function_name, alias=target.alias,
                               baseline_version=target.baseline_version, candidate_version=target.candidate_version)
        flag, cfg = target.flag, self.config
        return AppConfigFlag(
            self.client("appconfig"),
            application_id=flag.application_id or cfg.appconfig_application_id,
            environment_id=flag.environment_id or cfg.appconfig_environment_id,
            profile_id=flag.configuration_profile_id or cfg.appconfig_profile_id,
            strategy_id=flag.deployment_strategy_id or cfg.appconfig_strategy_id,
            baseline=manifest.baseline.model_dump(mode="json"), candidate=manifest.candidate.model_dump(mode="json"),
            release_id=release_id, capture=manifest.flag_capture(),
            shadow_capture=manifest.canary.shadow.capture() if manifest.canary.shadow else None,
            session_groups=manifest.canary.session_groups,
        )

    @cached_property
    def guardrails(self) -> Guardrails:
        return BedrockGuardrails(self.client("bedrock-runtime"))

    @cached_property
    def embeddings(self) -> Embeddings:
        return BedrockEmbeddings(self.client("bedrock-runtime"))

    @cached_property
    def evaluation_jobs(self) -> EvaluationJobs:
        return BedrockEvaluationJobs(self.client("bedrock"))

    @cached_property
    def notifier(self) -> Announcer:
        return Notifier(self.client("sns"), self.client("events"), self.config.topic_arn,
                        self.config.event_bus_name)

    @cached_property
    def evaluation_events(self) -> EvaluationEvents:
        from genai_cicd.observability import logger

        return LoggedEvaluationEvents(logger)

    @cached_property
    def metrics_reader(self) -> CanaryMetrics:
        return CanaryMetricsReader(self.client("cloudwatch"))

    @cached_property
    def pipeline(self) -> PipelineCallbacks:
        return PipelineReporter(self.client("codepipeline"))

    @cached_property
    def provider(self) -> ModelProvider:
        if self.config.model_provider == "openai-compatible":
            if not self.config.openai_base_url:
                raise settings.ConfigurationError("MODEL_PROVIDER=openai-compatible needs OPENAI_BASE_URL")
            return OpenAICompatibleProvider(self.config.openai_base_url)
        return BedrockConverseProvider(self.client("bedrock-runtime"))
