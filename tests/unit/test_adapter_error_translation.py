"""The adapters turn the AWS errors logic decides on into domain answers, so logic needs no botocore:
a failed read is counted (never skipped or passed), a clean-up never fails, information-only reads say None.
Each test plants the AWS failure in a client fake and checks what logic receives."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from genai_cicd.aws.artifacts import ArtifactStore
from genai_cicd.aws.cloudwatch import CanaryMetricsReader
from genai_cicd.aws.pipeline import PipelineReporter
from genai_cicd.errors import ArtifactUnreadable, InvalidInput


def error(code: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "planted"}}, operation)


class S3:
    def __init__(self, code: str) -> None:
        self.code = code

    def get_object(self, **_: Any) -> dict[str, Any]:
        raise error(self.code, "GetObject")


@pytest.mark.parametrize("code", ["AccessDenied", "SlowDown", "InternalError"])
def test_an_unreadable_captured_answer_is_an_artifact_unreadable_never_a_value(code: str) -> None:
    with pytest.raises(ArtifactUnreadable, match=code):
        ArtifactStore(S3(code), "b").read_json_counted("releases/r/samples/user/1.json")
    # the plain reader still surfaces the AWS error for the state machine to retry
    with pytest.raises(ClientError):
        ArtifactStore(S3(code), "b").read_json("releases/r/samples/user/1.json")


def test_a_missing_object_stays_invalid_input_for_both_readers() -> None:
    for read in ("read_json", "read_json_counted"):
        with pytest.raises(InvalidInput, match="not found"):
            getattr(ArtifactStore(S3("NoSuchKey"), "b"), read)("k")


class CodePipeline:
    def __init__(self, put_error: str | None, pending: bool = True) -> None:
        self.put_error, self.pending, self.answers = put_error, pending, []

    def get_pipeline_state(self, name: str) -> dict[str, Any]:
        status = "InProgress" if self.pending else "Succeeded"
        return {"stageStates": [{"stageName": "S", "latestExecution": {"pipelineExecutionId": "e1"},
                                 "actionStates": [{"actionName": "A",
                                                   "latestExecution": {"status": status, "token": "t"}}]}]}

    def put_approval_result(self, **kwargs: Any) -> dict[str, Any]:
        if self.put_error:
            raise error(self.put_error, "PutApprovalResult")
        self.answers.append(kwargs["result"]["status"])
        return {}


def test_answer_if_pending_answers_an_open_approval_and_says_false_when_there_is_none_or_aws_refuses() -> None:
    open_ = CodePipeline(None)
    assert PipelineReporter(open_).answer_if_pending("p", "S", "A", False, "why", execution_id="e1") is True
    assert open_.answers == ["Rejected"]
    decided = CodePipeline(None, pending=False)
    assert PipelineReporter(decided).answer_if_pending("p", "S", "A", False, "why", execution_id="e1") is False
    assert decided.answers == []
    refused = CodePipeline("InvalidApprovalTokenException")
    assert PipelineReporter(refused).answer_if_pending("p", "S", "A", False, "why", execution_id="e1") is False
    # another execution's approval is never answered
    other = PipelineReporter(CodePipeline(None))
    assert other.answer_if_pending("p", "S", "A", True, "why", execution_id="e2") is False


@pytest.mark.parametrize("code", ["ThrottlingException", "InternalServiceError"])
def test_a_throttled_or_failed_answer_is_a_transient_error_the_state_machine_retries(code: str) -> None:
    """CodePipeline's model declares no ThrottlingException: botocore raises a plain ClientError, which no
    Retry can name; the adapter says TransientAwsError (in the ASL's Retry), never "no approval pending"."""
    from genai_cicd.errors import TransientAwsError

    class Failing(CodePipeline):
        def put_approval_result(self, **kwargs: Any) -> dict[str, Any]:
            raise ClientError({"Error": {"Code": code, "Message": "planted"},
                               "ResponseMetadata": {"HTTPStatusCode": 500 if "Internal" in code else 400}},
                              "PutApprovalResult")

    with pytest.raises(TransientAwsError):
        PipelineReporter(Failing(None)).answer_if_pending("p", "S", "A", False, "why", execution_id="e1")


class CloudWatch:
    def __init__(self, fail: bool) -> None:
        self.fail = fail

    def get_metric_data(self, **_: Any) -> dict[str, Any]:
        if self.fail:
            raise error("Throttling", "GetMetricData")
        return {"MetricDataResults": [{"Id": "b_requests", "Values": [3.0, 4.0]}]}


def test_counts_for_information_are_none_when_cloudwatch_refuses_and_the_sums_otherwise() -> None:
    query = {"namespace": "N", "app": "a", "environment": "e", "start": datetime(2026, 1, 1, tzinfo=UTC),
             "end": datetime(2026, 1, 1, 0, 15, tzinfo=UTC), "period": 900, "arms": ("baseline",),
             "fields": ("requests", "errors")}
    assert CanaryMetricsReader(CloudWatch(True)).interval_counts_or_none(**query) is None
    assert CanaryMetricsReader(CloudWatch(False)).interval_counts_or_none(**query) == {
        "baseline": {"requests": 7.0, "errors": None}}  # no datapoint stays None, never 0
    with pytest.raises(ClientError):  # the decision's own read still fails loudly
        CanaryMetricsReader(CloudWatch(True)).interval_counts(**query)
