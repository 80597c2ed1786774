"""SendProbes: synthetic request pairs to both variants through the app's entry point (low-traffic apps)."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from genai_cicd.errors import InvalidInput
from genai_cicd.logic.deps import Deps
from genai_cicd.logic.probes import send_probes
from genai_cicd.models.tasks import CanaryTaskInput
from genai_cicd.observability import logger, metrics, tracer
from genai_cicd.parsing import parse_event


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = parse_event(event, CanaryTaskInput)
    if task.canary is None:
        raise InvalidInput("event: canary: required")
    state = send_probes(task.release, task.canary, Deps.from_environment())
    sent = state.probes.sent - task.canary.probes.sent
    metrics.add_metric(name="ProbeRequests", unit=MetricUnit.Count, value=sent)
    logger.info("probes sent", extra={"release_id": task.release.release_id, "sent": sent,
                                      "total": state.probes.sent, "stopped": state.probes.stopped})
    return state.model_dump(mode="json")
