"""ShadowEvaluation: start shadow answers (flag at weight 0 with a shadow share), then judge the pairs each look."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from genai_cicd.deps import Deps
from genai_cicd.logic.shadow import analyze_shadow, start_shadow
from genai_cicd.models.tasks import ShadowTaskInput
from genai_cicd.observability import logger, metrics, tracer
from genai_cicd.parsing import parse_event


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = parse_event(event, ShadowTaskInput)
    deps = Deps.from_environment()
    state = (start_shadow(task.release, deps) if task.shadow is None
             else analyze_shadow(task.release, task.shadow, deps))
    metrics.add_metric(name=f"Shadow_{state.action}", unit=MetricUnit.Count, value=1)
    logger.info("shadow", extra={"release_id": task.release.release_id, "action": state.action,
                                 "outcome": state.outcome, "pairs": state.pairs, "judge_calls": state.judge_calls})
    return state.model_dump(mode="json")
