"""ReportToPipeline: approve or reject the CodePipeline approval action with the verdict."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from genai_cicd.deps import Deps
from genai_cicd.logic.pipeline_events import report_to_pipeline
from genai_cicd.models.tasks import ReportInput
from genai_cicd.observability import logger, tracer
from genai_cicd.parsing import parse_event


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = parse_event(event, ReportInput)
    result = report_to_pipeline(task, Deps.from_environment())
    logger.info("reported", extra={"release_id": task.release.release_id, "outcome": task.outcome,
                                   "reported": result.reported, "status": result.status})
    return result.model_dump(mode="json")
