"""StartRelease: a CodePipeline gate action entering STARTED starts exactly one release.

Triggered by an EventBridge rule on ``aws.codepipeline`` Action Execution
State Change events. Idempotent on what makes the request the same
(pipeline, execution id, stage, action, attempt), not on the EventBridge event
id: a retried stage is a new attempt and a new request.
"""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError
from aws_lambda_powertools.utilities.idempotency.serialization.pydantic import PydanticSerializer
from aws_lambda_powertools.utilities.typing import LambdaContext

from genai_cicd import settings
from genai_cicd.deps import Deps
from genai_cicd.logic.pipeline_events import ActionDetail, start_from_pipeline
from genai_cicd.models.results import StartResult
from genai_cicd.observability import logger, metrics, tracer
from genai_cicd.parsing import parse_eventbridge

_persistence: DynamoDBPersistenceLayer | None = None
_config = IdempotencyConfig(event_key_jmespath="[pipeline, execution_id, stage, action, attempt]",
                            expires_after_seconds=7 * 86400)


def _layer() -> DynamoDBPersistenceLayer:
    global _persistence
    if _persistence is None:
        _persistence = DynamoDBPersistenceLayer(table_name=settings.control_plane().table_name, key_attr="pk",
                                                sort_key_attr="sk")
    return _persistence


def _start_once(detail: ActionDetail) -> StartResult:
    # The stored response is the StartResult itself (a repeat delivery gets the first one back, validated).
    @idempotent_function(data_keyword_argument="detail", persistence_store=_layer(), config=_config,
                         output_serializer=PydanticSerializer(StartResult))
    def start(detail: ActionDetail) -> StartResult:
        return start_from_pipeline(detail, settings.start().state_machine_arn, Deps.from_environment())

    result: StartResult = start(detail=detail)
    return result


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    detail = parse_eventbridge(event, ActionDetail, source="aws.codepipeline",
                               detail_type="CodePipeline Action Execution State Change")
    if detail.state != "STARTED" or detail.action != settings.start().gate_action_name:
        logger.info("ignored", extra={"state": detail.state, "action": detail.action})
        return StartResult(started=False, reason="not the gate action entering STARTED").model_dump(mode="json")
    if detail.type.get("category") != "Approval":
        # The rule already filters on it; checked here too, so a misconfigured rule cannot start a
        # shadow release next to the one a Step Functions invoke action starts itself.
        logger.info("ignored", extra={"category": str(detail.type.get("category"))[:40]})
        return StartResult(started=False, reason="not an approval action: a Step Functions invoke action starts "
                                                 "its own execution").model_dump(mode="json")
    _config.register_lambda_context(context)
    try:
        result = _start_once(detail)
    except IdempotencyAlreadyInProgressError:
        # The same request is being handled right now; that delivery will answer (and is retried on failure).
        logger.info("duplicate in progress", extra={"pipeline": detail.pipeline})
        return StartResult(started=False,
                           reason="duplicate event: the same request is in progress").model_dump(mode="json")
    if result.started:
        metrics.add_metric(name="ReleasesStarted", unit=MetricUnit.Count, value=1)
    logger.info("start", extra={"execution_name": result.execution_name, "started": result.started,
                                "pipeline": detail.pipeline})
    return result.model_dump(mode="json")
