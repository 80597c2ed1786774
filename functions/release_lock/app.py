"""AcquireLock / ReleaseLock: one release at a time per app and environment."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from genai_cicd.deps import Deps
from genai_cicd.logic.reconcile import execution_running
from genai_cicd.models.tasks import LockInput, LockResult
from genai_cicd.observability import logger, tracer
from genai_cicd.parsing import parse_event


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = parse_event(event, LockInput)
    deps = Deps.from_environment()
    lock = deps.lock
    release = task.release
    if task.action == "acquire":
        expires = lock.acquire(release.app, release.environment, release.release_id, release.execution_arn,
                               is_alive=lambda arn: execution_running(deps, arn))
        logger.info("lock acquired", extra={"release_id": release.release_id, "expires": expires})
        return LockResult(held=True, expires=expires).model_dump(mode="json", exclude_none=True)
    released = lock.release(release.app, release.environment, release.release_id)
    logger.info("lock released", extra={"release_id": release.release_id, "released": released})
    return LockResult(held=False, released=released).model_dump(mode="json", exclude_none=True)
