"""ReconcileRelease: an execution that ended without settling its release puts traffic back on the baseline.

Triggered by the EventBridge rule on ``aws.states`` Execution Status Change
(ABORTED, TIMED_OUT, FAILED) for the release state machine. The event only
says where to look: the execution's status is read again from Step Functions
and the release's outcome from the ledger, so a stale, duplicate or
out-of-order event changes nothing.
"""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from genai_cicd.deps import Deps
from genai_cicd.logic.reconcile import ExecutionStatusDetail, reconcile_execution
from genai_cicd.observability import logger, metrics, tracer
from genai_cicd.parsing import parse_eventbridge


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    detail = parse_eventbridge(event, ExecutionStatusDetail, source="aws.states",
                               detail_type="Step Functions Execution Status Change")
    result = reconcile_execution(detail, Deps.from_environment())
    if result.action == "rolled_back":
        metrics.add_metric(name="ReleasesReconciled", unit=MetricUnit.Count, value=1)
    logger.info("reconcile", extra={"release_id": result.release_id, "action": result.action,
                                    "status": detail.status})
    return result.model_dump(mode="json")
