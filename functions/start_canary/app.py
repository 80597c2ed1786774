"""StartCanary: move the first canary step of traffic to the candidate and read it back."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from genai_cicd.deps import Deps
from genai_cicd.logic.canary import start_canary
from genai_cicd.models.tasks import CanaryTaskInput
from genai_cicd.observability import logger, tracer
from genai_cicd.parsing import parse_event


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = parse_event(event, CanaryTaskInput)
    state = start_canary(task.release, Deps.from_environment())
    logger.info("canary started", extra={"release_id": task.release.release_id, "weight": state.weight})
    return state.model_dump(mode="json")
