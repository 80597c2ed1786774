"""AnalyzeCanary: read one interval from CloudWatch and let the sequential judge decide."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from genai_cicd.errors import InvalidInput
from genai_cicd.logic.canary import analyze_canary
from genai_cicd.logic.deps import Deps
from genai_cicd.models.tasks import CanaryTaskInput
from genai_cicd.observability import logger, metrics, tracer
from genai_cicd.parsing import parse_event


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = parse_event(event, CanaryTaskInput)
    if task.canary is None:
        raise InvalidInput("event: canary: required")
    state = analyze_canary(task.release, task.canary, Deps.from_environment())
    metrics.add_metric(name=f"Canary_{state.action}", unit=MetricUnit.Count, value=1)
    logger.info("canary interval", extra={"release_id": task.release.release_id, "action": state.action,
                                          "weight": state.weight, "metric": state.metric})
    return state.model_dump(mode="json")
