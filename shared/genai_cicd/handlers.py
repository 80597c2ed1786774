"""The handler of the gate functions, which differ only in the gate they run (the gates need the
statistics layer: numpy, rouge-score)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from genai_cicd.deps import Deps
from genai_cicd.logic.gates import run_gate_task
from genai_cicd.models.manifest import GateName
from genai_cicd.models.tasks import GateResult, GateTaskInput
from genai_cicd.observability import logger, tracer
from genai_cicd.parsing import parse_event


def gate_handler(gate: GateName) -> Callable[[dict[str, Any], LambdaContext], dict[str, Any]]:
    """The handler of one gate's function: the same decorators, parse, run, return."""

    @logger.inject_lambda_context(clear_state=True)
    @tracer.capture_lambda_handler(capture_response=False)
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        task = parse_event(event, GateTaskInput)
        result = run_gate_task(gate, task, Deps.from_environment())
        if isinstance(result, GateResult):
            logger.info("gate finished", extra={"release_id": task.release.release_id, "gate": gate,
                                                "status": result.status})
        else:  # a Distributed Map step: the shard plan or a shard's pointer
            logger.info("gate step", extra={"release_id": task.release.release_id, "gate": gate,
                                            "action": task.action})
        return result.model_dump(mode="json")

    return lambda_handler
