"""BedrockEvaluation: start model-as-a-judge evaluation jobs, then poll them (the ASL waits between polls)."""

from typing import Any, Literal

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict

from genai_cicd.deps import Deps
from genai_cicd.gates.bedrock_eval import poll_jobs, start_jobs
from genai_cicd.logic.context import evidence_key, load_manifest
from genai_cicd.models.tasks import ReleaseContext
from genai_cicd.observability import logger, tracer
from genai_cicd.parsing import parse_event


class EvaluationTask(BaseModel):
    model_config = ConfigDict(extra="forbid")

    release: ReleaseContext
    action: Literal["start", "poll"]
    evaluation: dict[str, Any] | None = None


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = parse_event(event, EvaluationTask)
    deps = Deps.from_environment()
    manifest = load_manifest(deps, task.release)
    prefix = evidence_key(task.release, "gates", "bedrock_evaluation")
    if manifest.gates.bedrock_evaluation is None:
        raise ValueError("bedrock_evaluation is not requested by this release's manifest")
    if task.action == "start":
        state = start_jobs(manifest, deps.artifacts, deps.provider, deps.evaluation_jobs,
                           task.release.release_id, prefix)
    else:
        state = poll_jobs(manifest, deps.artifacts, deps.evaluation_jobs, task.evaluation or {}, prefix)
    logger.info("evaluation", extra={"release_id": task.release.release_id, "action": task.action,
                                     "status": state["status"], "polls": state.get("polls")})
    return state
