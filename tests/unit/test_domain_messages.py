"""What leaves a function (SNS, ledger, reports, the pipeline's summary) is the error's message, never its trace."""

from __future__ import annotations

import json

from genai_cicd.errors import domain_message
from genai_cicd.logic.release_report import RecordInput
from genai_cicd.models.tasks import ReleaseContext
from tests.utils import event

LAMBDA_CAUSE = json.dumps({
    "errorType": "TrafficShiftError", "errorMessage": "AppConfig deployment 4 is ROLLED_BACK",
    "requestId": "5b0c1f4e", "stackTrace": ['  File "/var/task/app.py", line 40, in lambda_handler\n',
                                            '    secret = os.environ["SECRET"]\n']})


def test_a_lambda_error_cause_keeps_its_type_and_message_only() -> None:
    assert domain_message(LAMBDA_CAUSE) == "TrafficShiftError: AppConfig deployment 4 is ROLLED_BACK"
    assert domain_message("plain words") == "plain words"
    assert domain_message("x" * 900) == "x" * 498 + " …"  # at most 500 characters, the cut marked


def test_a_report_never_prints_a_stack_trace() -> None:
    release = ReleaseContext.model_validate(event("prompt_regression", "good-prompt")["release"])
    record = RecordInput(release=release, outcome="failed", reasons=[LAMBDA_CAUSE])
    assert record.reasons == ["TrafficShiftError: AppConfig deployment 4 is ROLLED_BACK"]
    assert "stackTrace" not in json.dumps(record.model_dump())
