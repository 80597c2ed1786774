"""LoadManifest: validate the execution input and the release manifest; store the normalised manifest."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from genai_cicd.deps import Deps
from genai_cicd.logic.validate import validate_release
from genai_cicd.models.tasks import ValidateInput
from genai_cicd.observability import logger, tracer
from genai_cicd.parsing import parse_event


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = parse_event(event, ValidateInput)
    release = validate_release(task, Deps.from_environment())
    logger.info("manifest valid", extra={"release_id": release.release_id, "app": release.app,
                                         "environment": release.environment, "gates": release.gates})
    return release.model_dump(mode="json")
