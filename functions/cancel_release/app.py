"""CancelRelease: a pipeline execution SUPERSEDED / STOPPED / FAILED / CANCELED stops its release, restores traffic."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from genai_cicd.deps import Deps
from genai_cicd.logic.pipeline_events import PipelineExecutionDetail, cancel_for_pipeline
from genai_cicd.models.results import CancelResult
from genai_cicd.observability import logger, tracer
from genai_cicd.parsing import parse_eventbridge

CANCELLING_STATES = {"SUPERSEDED", "STOPPED", "STOPPING", "FAILED", "CANCELED"}


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    detail = parse_eventbridge(event, PipelineExecutionDetail, source="aws.codepipeline",
                               detail_type="CodePipeline Pipeline Execution State Change")
    if detail.state not in CANCELLING_STATES:
        return CancelResult(cancelled=[], reason=f"state {detail.state} does not cancel").model_dump(mode="json")
    done = cancel_for_pipeline(detail, Deps.from_environment())
    logger.info("cancel", extra={"pipeline": detail.pipeline, "execution_id": detail.execution_id,
                                 "releases": len(done)})
    return CancelResult(cancelled=done).model_dump(mode="json")
