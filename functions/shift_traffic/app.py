"""ShiftTraffic: move to the next canary step (or, with full=true, to 100%) and read it back."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from genai_cicd.deps import Deps
from genai_cicd.logic.canary import full_rollout, next_step
from genai_cicd.observability import logger, tracer
from genai_cicd.parsing import canary_task


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    full = bool(event.pop("full", False)) if isinstance(event, dict) else False
    release, canary = canary_task(event)
    deps = Deps.from_environment()
    state = full_rollout(release, canary, deps) if full else next_step(release, canary, deps)
    logger.info("traffic shifted", extra={"release_id": release.release_id, "weight": state.weight})
    return state.model_dump(mode="json")
