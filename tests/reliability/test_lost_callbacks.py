"""Lost callbacks: every state that waits on someone else ends on its own (static checks over the ASL).

The end-to-end half (a lost approval times out, is rejected, and traffic never
moved) is tests/e2e/test_pipeline_paths.py::..._when_nobody_answers_...
"""

from __future__ import annotations

import json
from typing import Any

from genai_cicd.models.manifest import ReleaseManifest
from tests.utils import ROOT

DEFINITION = json.loads((ROOT / "statemachines" / "release.asl.json").read_text())


def all_states(states: dict[str, Any] = DEFINITION["States"]) -> dict[str, Any]:
    found = dict(states)
    for state in states.values():
        for branch in state.get("Branches", []):
            found |= all_states(branch["States"])
    return found


STATES = all_states()


def test_every_callback_task_times_out_and_the_timeout_leads_out_of_the_canary() -> None:
    callbacks = {n: s for n, s in STATES.items() if str(s.get("Resource", "")).endswith(".waitForTaskToken")}
    assert callbacks, "the approval waits for a task token"
    for name, state in callbacks.items():
        assert "TimeoutSeconds" in state or "TimeoutSecondsPath" in state, name
        targets = {c["Next"] for c in state.get("Catch", [])
                   if {"States.ALL", "States.Timeout"} & set(c["ErrorEquals"])}
        assert targets and not targets & {"StartCanary", "ShiftTraffic", "FullRollout"}, (name, targets)


def test_the_approval_timeout_is_bounded_by_the_manifest() -> None:
    schema = ReleaseManifest.model_json_schema()
    approval = schema["$defs"]["Approval"]["properties"]["timeout_seconds"]
    assert approval.get("maximum", approval.get("exclusiveMaximum", 10**9)) <= 7 * 86400


def test_every_task_has_a_timeout_so_a_lost_lambda_answer_cannot_hang_the_release() -> None:
    tasks = {n: s for n, s in STATES.items() if s["Type"] == "Task"}
    assert all("TimeoutSeconds" in s or "TimeoutSecondsPath" in s for s in tasks.values())


def test_every_polling_loop_passes_a_task_that_decides_when_to_stop() -> None:
    # Wait -> Task -> Choice -> Wait: the Task is the judge (max_intervals_per_step) or the
    # evaluation poll (max_polls); the whole execution is capped by the machine timeout.
    for name, state in STATES.items():
        if state["Type"] == "Wait":
            nxt = STATES[state["Next"]]
            assert nxt["Type"] == "Task" and "TimeoutSeconds" in nxt, name
    assert DEFINITION["TimeoutSeconds"] <= 7 * 86400
