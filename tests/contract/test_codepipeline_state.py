"""GetPipelineState and PutApprovalResult as the CodePipeline API Reference documents them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from genai_cicd.aws.pipeline import PipelineReporter
from genai_cicd_local.embedded.aws_session import EmbeddedAWS
from tests.stack import aws  # noqa: F401
from tests.utils import eid

DOC: dict[str, Any] = json.loads((Path(__file__).parent / "aws_apis" / "responses.json").read_text())


def test_pipeline_state_and_approval_answers_have_the_documented_members(aws: EmbeddedAWS) -> None:  # noqa: F811
    doc = DOC["codepipeline.GetPipelineState"]
    aws.backend.open_approval("contract-pipeline", "GenAIGates", "GenAIGate", eid("contract"))
    cp = aws.client("codepipeline")
    state = cp.get_pipeline_state(name="contract-pipeline")
    assert set(state) - {"ResponseMetadata"} <= set(doc["members"])
    for stage in state["stageStates"]:
        assert set(stage) <= set(doc["stageStates"])
        assert set(stage["latestExecution"]) <= set(doc["stageStates.latestExecution"])
        assert {"pipelineExecutionId", "status"} <= set(stage["latestExecution"])  # required there
        for action in stage["actionStates"]:
            assert set(action) <= set(doc["actionStates"])
            assert set(action["latestExecution"]) <= set(doc["actionStates.latestExecution"])
    answer = PipelineReporter(cp).put_approval("contract-pipeline", "GenAIGates", "GenAIGate", True, "ok",
                                               execution_id=eid("contract"))
    assert answer.status == "Approved"
    raw = cp.get_pipeline_state(name="contract-pipeline")  # the approval is no longer open
    assert raw["stageStates"][0]["actionStates"][0]["latestExecution"]["status"] != "InProgress"


def test_put_approval_result_answers_with_the_documented_members(aws: EmbeddedAWS) -> None:  # noqa: F811
    token = aws.backend.open_approval("contract-pipeline-2", "GenAIGates", "GenAIGate", eid("contract-2"))
    answer = aws.client("codepipeline").put_approval_result(
        pipelineName="contract-pipeline-2", stageName="GenAIGates", actionName="GenAIGate", token=token,
        result={"summary": "ok", "status": "Rejected"})
    assert set(answer) - {"ResponseMetadata"} <= set(DOC["codepipeline.PutApprovalResult"])


def test_the_approval_token_is_given_only_to_the_action_execution_that_opened_the_request(
        aws: EmbeddedAWS) -> None:  # noqa: F811
    """A retried stage opens a new request under the same pipeline execution id: only the STARTED event that
    names its action execution id (ActionExecution.actionExecutionId in GetPipelineState) gets its token."""
    key = ("contract-pipeline-3", "GenAIGates", "GenAIGate")
    first = aws.backend.open_approval(*key, eid("contract-3"))
    first_id = aws.backend.approval_action_execution_id(*key)
    reporter = PipelineReporter(aws.client("codepipeline"))
    assert reporter.approval_token(*key, eid("contract-3"), first_id) == first
    aws.backend.approvals[key]["status"] = "Abandoned"
    second = aws.backend.open_approval(*key, eid("contract-3"))  # attempt 2
    assert reporter.approval_token(*key, eid("contract-3"), first_id) is None
    assert reporter.approval_token(*key, eid("contract-3"), aws.backend.approval_action_execution_id(*key)) == second
