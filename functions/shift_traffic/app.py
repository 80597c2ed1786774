"""ShiftTraffic: move to the next canary step (or, with full=true, to 100%) and read it back."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from genai_cicd.errors import InvalidInput
from genai_cicd.logic.canary import full_rollout, next_step
from genai_cicd.logic.deps import Deps
from genai_cicd.models.tasks import CanaryTaskInput
from genai_cicd.observability import logger, tracer
from genai_cicd.parsing import parse_event


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    full = bool(event.pop("full", False)) if isinstance(event, dict) else False
    task = parse_event(event, CanaryTaskInput)
    if task.canary is None:
        raise InvalidInput("event: canary: required")
    deps = Deps.from_environment()
    state = full_rollout(task.release, task.canary, deps) if full else next_step(task.release, task.canary, deps)
    logger.info("traffic shifted", extra={"release_id": task.release.release_id, "weight": state.weight})
    return state.model_dump(mode="json")
