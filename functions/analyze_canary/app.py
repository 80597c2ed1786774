"""AnalyzeCanary: read one interval from CloudWatch, score captured answers, let the sequential judge decide."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from genai_cicd.deps import Deps
from genai_cicd.logic.canary import analyze_canary
from genai_cicd.observability import logger, metrics, tracer
from genai_cicd.parsing import canary_task


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    release, canary = canary_task(event)
    state = analyze_canary(release, canary, Deps.from_environment())
    metrics.add_metric(name=f"Canary_{state.action}", unit=MetricUnit.Count, value=1)
    logger.info("canary interval", extra={"release_id": release.release_id, "action": state.action,
                                          "weight": state.weight, "metric": state.metric, "stream": state.stream,
                                          "judge_calls": state.online.judge_calls})
    return state.model_dump(mode="json")
