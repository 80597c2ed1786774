"""ManualApproval (waitForTaskToken): park the token and announce the pending approval."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from genai_cicd.deps import Deps
from genai_cicd.logic.approval import request_approval
from genai_cicd.models.tasks import ApprovalRequest
from genai_cicd.observability import logger, tracer
from genai_cicd.parsing import parse_event


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = parse_event(event, ApprovalRequest)
    result = request_approval(task, Deps.from_environment())
    logger.info("approval requested", extra={"release_id": task.release.release_id})
    return result.model_dump(mode="json")
