"""QualityGate: combine the gate results into PASS or BLOCK with reasons."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from genai_cicd.deps import Deps
from genai_cicd.logic.gates import quality_gate
from genai_cicd.models.tasks import QualityGateInput
from genai_cicd.observability import logger, metrics, tracer
from genai_cicd.parsing import parse_event


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = parse_event(event, QualityGateInput)
    verdict = quality_gate(task, Deps.from_environment())
    metrics.add_metric(name="GateBlocked" if verdict.decision == "BLOCK" else "GatePassed",
                       unit=MetricUnit.Count, value=1)
    logger.info("quality gate", extra={"release_id": task.release.release_id, "decision": verdict.decision,
                                       "blocked_by": verdict.blocked_by})
    return verdict.model_dump(mode="json")
