"""SendProbes: synthetic request pairs to both variants through the app's entry point (low-traffic apps)."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from genai_cicd.deps import Deps
from genai_cicd.logic.probes import send_probes
from genai_cicd.observability import logger, metrics, tracer
from genai_cicd.parsing import canary_task


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    release, canary = canary_task(event)
    state = send_probes(release, canary, Deps.from_environment())
    sent = state.probes.sent - canary.probes.sent
    metrics.add_metric(name="ProbeRequests", unit=MetricUnit.Count, value=sent)
    logger.info("probes sent", extra={"release_id": release.release_id, "sent": sent, "total": state.probes.sent,
                                      "stopped": state.probes.stopped})
    return state.model_dump(mode="json")
