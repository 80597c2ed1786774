"""CodePipeline events as the CodePipeline User Guide documents them, through the stack's rules and handlers.

Every pipeline, stage and action state the guide lists is delivered; only an approval action
entering STARTED may start a release (one per attempt), only a pipeline execution that ended
without succeeding may cancel one, and nothing else reaches a handler.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from genai_cicd.logic.pipeline_events import execution_name
from genai_cicd_local.embedded.aws_session import EmbeddedAWS
from tests.stack import aws  # noqa: F401
from tests.utils import pipeline_action_event

EVENTS: dict[str, dict[str, Any]] = json.loads((Path(__file__).parent / "codepipeline" / "events.json").read_text())
STARTS = {"action-approval-started", "action-approval-started-attempt-2"}
CANCELS = {"pipeline-failed", "pipeline-stopped", "pipeline-superseded", "pipeline-canceled",
           "pipeline-failed-attempt-2"}


def test_the_fixture_covers_every_documented_state() -> None:
    states = {(e["detail-type"].split()[1], e["detail"]["state"]) for e in EVENTS.values()}
    assert {s for kind, s in states if kind == "Pipeline"} >= {"STARTED", "SUCCEEDED", "FAILED", "STOPPED",
                                                              "STOPPING", "SUPERSEDED", "CANCELED", "RESUMED"}
    assert {s for kind, s in states if kind == "Action"} >= {"STARTED", "SUCCEEDED", "FAILED", "ABANDONED",
                                                            "CANCELED"}


def test_the_tests_own_events_have_the_documented_shape() -> None:
    ours = pipeline_action_event()
    documented = EVENTS["action-approval-started"]
    assert set(ours) == set(documented)
    assert set(ours["detail"]) | {"pipeline-execution-attempt"} == set(documented["detail"])
    assert set(ours["detail"]["type"]) == set(documented["detail"]["type"])


@pytest.mark.parametrize("name", sorted(EVENTS))
def test_each_event_reaches_only_the_handler_it_is_for(aws: EmbeddedAWS, name: str) -> None:  # noqa: F811
    delivered = aws.deliver_event(EVENTS[name])
    functions = sorted(d["function"].rsplit("-", 1)[0].rsplit(":", 1)[-1] for d in delivered)
    if name in STARTS:
        assert len(delivered) == 1 and "StartRelease" in delivered[0]["function"], functions
        payload = delivered[0]["payload"]
        assert delivered[0]["error"] is None and payload["started"] is True, payload
        attempt = EVENTS[name]["detail"]["pipeline-execution-attempt"]
        detail = EVENTS[name]["detail"]
        assert payload["execution_name"] == execution_name(detail["pipeline"], detail["execution-id"],
                                                           detail["stage"], detail["action"], attempt)
    elif name in CANCELS:
        assert len(delivered) == 1 and "CancelRelease" in delivered[0]["function"], functions
        assert delivered[0]["error"] is None, delivered[0]["payload"]
    else:
        assert delivered == [], (name, functions)
