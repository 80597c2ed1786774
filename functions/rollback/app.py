"""Rollback: put all traffic back on the baseline and verify it by reading the state back."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from genai_cicd.deps import Deps
from genai_cicd.logic.canary import rollback
from genai_cicd.models.tasks import RollbackInput
from genai_cicd.observability import logger, metrics, tracer
from genai_cicd.parsing import parse_event


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = parse_event(event, RollbackInput)
    result = rollback(task.release, Deps.from_environment())
    metrics.add_metric(name="Rollbacks", unit=MetricUnit.Count, value=1)
    logger.info("rolled back", extra={"release_id": task.release.release_id, "verified": result.verified})
    return result.model_dump(mode="json")
