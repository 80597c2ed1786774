"""Notify: SNS + EventBridge announcement and a hash-chained ledger entry for one transition."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from genai_cicd.deps import Deps
from genai_cicd.logic.notify import notify
from genai_cicd.models.tasks import NotifyInput
from genai_cicd.observability import logger, tracer
from genai_cicd.parsing import parse_event


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = parse_event(event, NotifyInput)
    result = notify(task, Deps.from_environment())
    logger.info("notified", extra={"event": task.event, "ledger_seq": result.ledger_seq})
    return result.model_dump(mode="json")
