"""Record: write the release report (Markdown and self-contained HTML) next to the evidence in S3."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from genai_cicd.deps import Deps
from genai_cicd.logic.release_report import RecordInput, record_release
from genai_cicd.observability import logger, tracer
from genai_cicd.parsing import parse_event


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = parse_event(event, RecordInput)
    result = record_release(task, Deps.from_environment().artifacts)
    logger.info("recorded", extra={"release_id": task.release.release_id, "outcome": task.outcome})
    return result.model_dump(mode="json")
