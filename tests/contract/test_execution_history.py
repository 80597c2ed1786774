"""GetExecutionHistory paged as the Step Functions API Reference documents it (the embedded backend serves the
paging moto lacks): maxResults (default 100, at most 1000), reverseOrder, nextToken with the same arguments,
includeExecutionData."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from genai_cicd_local.embedded.aws_session import EmbeddedAWS
from tests.stack import aws  # noqa: F401


@pytest.fixture(scope="module")
def history(aws: EmbeddedAWS) -> tuple[str, list[dict]]:  # type: ignore[type-arg]  # noqa: F811
    sfn = aws.client("stepfunctions")
    arn = sfn.start_execution(stateMachineArn=aws.state_machine_arn, name="history-contract",
                              input=json.dumps({"manifest": {"app": "nope"}, "started_by": "contract"}))["executionArn"]
    aws.wait(arn, timeout=60)
    full = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    assert len(full) > 5 and [e["id"] for e in full] == list(range(1, len(full) + 1))
    return arn, full


def pages(aws: EmbeddedAWS, **request: object) -> list[list[dict]]:  # type: ignore[type-arg]  # noqa: F811
    sfn, out = aws.client("stepfunctions"), []
    while True:
        page = sfn.get_execution_history(**request)
        out.append(page["events"])
        if "nextToken" not in page:
            return out
        request["nextToken"] = page["nextToken"]


def test_pages_forward_and_backward_add_up_to_the_whole_history(aws: EmbeddedAWS, history) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    arn, full = history
    forward = pages(aws, executionArn=arn, maxResults=2)
    assert all(len(p) == 2 for p in forward[:-1]) and [e for p in forward for e in p] == full
    backward = pages(aws, executionArn=arn, maxResults=3, reverseOrder=True)
    assert [e for p in backward for e in p] == full[::-1]
    assert len(aws.client("stepfunctions").get_execution_history(executionArn=arn)["events"]) == min(100, len(full))


def test_a_token_comes_back_with_the_same_arguments_or_is_refused(aws: EmbeddedAWS, history) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    arn, _ = history
    sfn = aws.client("stepfunctions")
    token = sfn.get_execution_history(executionArn=arn, maxResults=2)["nextToken"]
    with pytest.raises(ClientError, match="InvalidToken"):
        sfn.get_execution_history(executionArn=arn, maxResults=3, nextToken=token)
    with pytest.raises(ClientError, match="InvalidToken"):
        sfn.get_execution_history(executionArn=arn, maxResults=2, nextToken="not a token")


def test_without_execution_data_no_input_or_output_is_returned(aws: EmbeddedAWS, history) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    arn, full = history
    lean = aws.client("stepfunctions").get_execution_history(executionArn=arn, maxResults=1000,
                                                             includeExecutionData=False)["events"]
    assert [e["type"] for e in lean] == [e["type"] for e in full]
    assert not any(key in details for e in lean for details in e.values() if isinstance(details, dict)
                   for key in ("input", "output"))
    assert any("input" in d for e in full for d in e.values() if isinstance(d, dict))


def test_an_unknown_execution_is_answered_as_moto_answers_it(aws: EmbeddedAWS) -> None:  # noqa: F811
    arn = aws.state_machine_arn.replace(":stateMachine:", ":execution:") + ":no-such-execution"
    with pytest.raises(ClientError, match="ExecutionDoesNotExist"):
        aws.client("stepfunctions").get_execution_history(executionArn=arn)
