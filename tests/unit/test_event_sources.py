"""Handlers check the event's source and detail-type themselves, not only through their rule."""

from __future__ import annotations

import pytest

from genai_cicd.errors import InvalidInput
from genai_cicd.logic.pipeline_events import ActionDetail
from genai_cicd.parsing import parse_eventbridge
from tests.utils import pipeline_action_event


def test_the_expected_source_and_detail_type_parse() -> None:
    detail = parse_eventbridge(pipeline_action_event(), ActionDetail, source="aws.codepipeline",
                               detail_type="CodePipeline Action Execution State Change")
    assert detail.attempt == 1 and detail.type["category"] == "Approval"


@pytest.mark.parametrize(("key", "value"), [("source", "custom.someone"), ("detail-type", "Something Else")])
def test_another_source_or_detail_type_is_refused(key: str, value: str) -> None:
    event = {**pipeline_action_event(), key: value}
    with pytest.raises(InvalidInput, match=key):
        parse_eventbridge(event, ActionDetail, source="aws.codepipeline",
                          detail_type="CodePipeline Action Execution State Change")
