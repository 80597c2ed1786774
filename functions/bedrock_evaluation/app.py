"""BedrockEvaluation: start model-as-a-judge evaluation jobs, then poll them (the ASL waits between polls)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from genai_cicd.deps import Deps
from genai_cicd.gates.bedrock_eval import poll_jobs, start_jobs
from genai_cicd.logic.context import evidence_key, load_manifest
from genai_cicd.models.manifest import configured
from genai_cicd.models.tasks import EvaluationTask
from genai_cicd.observability import logger, tracer
from genai_cicd.parsing import parse_event


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = parse_event(event, EvaluationTask)
    deps = Deps.from_environment()
    manifest = load_manifest(deps, task.release)
    gate = configured(manifest.gates.bedrock_evaluation, "bedrock_evaluation")
    prefix = evidence_key(task.release, "gates", "bedrock_evaluation")
    if task.evaluation is None:
        state = start_jobs(gate, manifest, deps.artifacts, deps.provider, deps.evaluation_jobs,
                           task.release.release_id, prefix)
    else:
        state = poll_jobs(gate, deps.artifacts, deps.evaluation_jobs, task.evaluation, prefix)
    logger.info("evaluation", extra={"release_id": task.release.release_id, "action": task.action,
                                     "status": state.status, "polls": state.polls})
    return state.model_dump(mode="json")
