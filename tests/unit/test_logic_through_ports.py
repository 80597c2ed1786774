"""Approvals and pipeline starts and cancels, against in-memory ports (tests/fakes.py): the rules in
milliseconds, where the e2e suites prove the wiring to DynamoDB and Step Functions."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from genai_cicd.logic.approval import decide_approval
from genai_cicd.logic.pipeline_events import (
    ActionDetail,
    PipelineExecutionDetail,
    cancel_for_pipeline,
    start_from_pipeline,
)
from tests.fakes import FakeApprovals, FakeExecutions, FakePipelineCallbacks, FakePipelineRecords, request_action_id
from tests.memory_store import MemoryStore

MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:release"
# Pipeline execution ids are UUIDs (the CodePipeline API reference's PipelineExecutionId pattern).
E1, E2, E9 = (f"00000000-0000-4000-8000-00000000000{i}" for i in (1, 2, 9))


def deps() -> Any:
    return SimpleNamespace(executions=FakeExecutions(), pipeline_records=FakePipelineRecords(),
                           artifacts=MemoryStore(), pipeline=FakePipelineCallbacks(),
                           config=SimpleNamespace(artifact_bucket="mem"))


def action(execution_id: str = E1, attempt: int = 1, request: str | None = None) -> ActionDetail:
    """The approval action's STARTED for the request with token ``request`` (the fake's default token)."""
    return ActionDetail.model_validate({"pipeline": "p", "execution-id": execution_id, "stage": "Gate",
                                        "action": "GenAIGate", "state": "STARTED", "type": {"category": "Approval"},
                                        "pipeline-execution-attempt": attempt,
                                        "action-execution-id": request_action_id(request or f"token-{execution_id}")})


def ended(state: str = "SUPERSEDED", attempt: int = 1) -> PipelineExecutionDetail:
    return PipelineExecutionDetail.model_validate({"pipeline": "p", "execution-id": E1, "state": state,
                                                   "pipeline-execution-attempt": attempt})


def test_an_approval_resumes_the_release_once_and_a_second_decision_finds_nothing() -> None:
    approvals, executions = FakeApprovals({"r1": "token-1"}), FakeExecutions()
    decide_approval("r1", True, "lead", "ok", approvals=approvals, executions=executions)
    assert executions.task_results == [("token-1", "success", "lead")] and approvals.token("r1") is None
    with pytest.raises(LookupError, match="not waiting for approval"):
        decide_approval("r1", False, "lead", "", approvals=approvals, executions=executions)


def test_a_rejection_fails_the_task_naming_who_rejected() -> None:
    executions = FakeExecutions()
    decide_approval("r1", False, "lead", "", approvals=FakeApprovals({"r1": "t"}), executions=executions)
    assert executions.task_results == [("t", "failure", "rejected by lead")]


def test_a_pipeline_action_starts_one_release_and_records_it() -> None:
    d = deps()
    first = start_from_pipeline(action(), MACHINE, d)
    again = start_from_pipeline(action(), MACHINE, d)
    assert first.started and not again.started and "duplicate event" in again.reason
    assert [r.arn for r in d.pipeline_records.executions("p", E1)] == [first.execution_arn]


def test_a_late_start_after_the_pipeline_ended_starts_nothing_but_a_retry_does() -> None:
    d = deps()
    cancel_for_pipeline(ended("SUPERSEDED", attempt=1), d)
    late = start_from_pipeline(action(attempt=1, request="request-1"), MACHINE, d)
    assert not late.started and "already SUPERSEDED" in late.reason and not d.executions.running
    retry = start_from_pipeline(action(attempt=2), MACHINE, d)
    assert retry.started


def test_a_cancel_between_the_check_and_the_record_stops_the_new_release() -> None:
    d = deps()
    d.executions.on_start = lambda: d.pipeline_records.bury("p", E1, "STOPPED", 1, 0)
    result = start_from_pipeline(action(), MACHINE, d)
    assert not result.started and "while starting: stopped" in result.reason
    assert d.executions.stopped == [(result.execution_arn, "PipelineCancelled")]


def test_a_cancel_buries_first_then_stops_running_releases_and_rejects_their_approval() -> None:
    d = deps()
    started = start_from_pipeline(action(), MACHINE, d)
    d.pipeline_records.calls.clear()
    done = cancel_for_pipeline(ended("STOPPED"), d)
    assert d.pipeline_records.calls[0] == "bury"  # before anything else: a late STARTED sees it
    assert d.executions.stopped == [(started.execution_arn, "PipelineCancelled")]
    assert done[0].status == "RUNNING" and done[0].approval == "rejected"
    assert d.pipeline.answers == [(E1, False)]  # only this execution's approval, rejected


def test_the_settle_sequences_report_link_reaches_the_message_and_a_missing_one_is_said_so() -> None:
    """AnnounceOutcome passes the release report beside the outcome's detail; it must reach the message."""
    from genai_cicd.logic.notify import notify
    from genai_cicd.models.ledger import LedgerEntry
    from genai_cicd.models.tasks import NotifyInput

    published: list[dict[str, Any]] = []

    class Ledger:
        def head(self, release_id: str) -> tuple[int, str]:
            return 0, "0" * 64

        def append(self, release_id: str, event: str, actor: str, detail: dict[str, Any]) -> LedgerEntry:
            return LedgerEntry(release_id=release_id, seq=1, event=event, at="t", actor=actor, detail=detail,
                               prev_hash="0" * 64, hash="1" * 64)

    class Notifier:
        def publish(self, event: str, subject: str, body: dict[str, Any], chat: dict[str, Any] | None = None) -> str:
            published.append(body)
            return "m-1"

    fake = SimpleNamespace(ledger=Ledger(), notifier=Notifier(), config=SimpleNamespace(artifact_bucket="mem"))
    for link in ("s3://mem/releases/r/report.html", None):
        notify(NotifyInput(release_id="r", event="rolled_back", detail={"weight": 0}, release_report=link),
               fake)  # type: ignore[arg-type]
        assert published[-1]["detail"] == {"weight": 0, "release_report": link}
    notify(NotifyInput(release_id="r", event="started", detail={}), fake)  # type: ignore[arg-type]
    assert "release_report" not in published[-1]["detail"]


def report(d: Any, execution_arn: str, execution_id: str = E1, outcome: str = "promoted") -> Any:
    from genai_cicd.logic.pipeline_events import report_to_pipeline
    from genai_cicd.models.tasks import PipelineContext, ReleaseContext, ReportInput

    release = ReleaseContext(
        release_id=execution_arn.rsplit(":", 1)[-1], execution_arn=execution_arn, app="a", environment="prod",
        manifest_uri="s3://mem/m.yaml", manifest_hash="", change_kinds=[], gates={}, approval_required=False,
        approval_timeout_seconds=60, bake_seconds=60, bedrock_poll_seconds=30, started_by="codepipeline:p",
        pipeline=PipelineContext(pipeline="p", execution_id=execution_id, stage="Gate", action="GenAIGate",
                                 callback="approval"))
    return report_to_pipeline(ReportInput(release=release, outcome=outcome, summary="s"), d)  # type: ignore[arg-type]


def test_the_report_answers_the_approval_of_the_release_own_pipeline_execution_only() -> None:
    """Two pipeline executions each wait on their approval: a release answers its own, by its execution id."""
    d = deps()
    d.pipeline = FakePipelineCallbacks(pending={E1, E2})
    started = start_from_pipeline(action(E1), MACHINE, d)
    result = report(d, started.execution_arn, E1)
    assert result.reported and result.status == "Approved"
    assert d.pipeline.answers == [(E1, True)] and d.pipeline.pending == {E2}


def test_an_execution_input_naming_a_pipeline_decides_nothing_unless_start_release_recorded_it() -> None:
    """Anyone may StartExecution with a `pipeline` context (another team's production approval): only the
    execution StartRelease started for that pipeline execution answers it."""
    d = deps()
    d.pipeline = FakePipelineCallbacks(pending={E9})
    forged = f"{MACHINE.replace(':stateMachine:', ':execution:')}:manual-1"
    result = report(d, forged, E9)
    assert not result.reported and "not started by p's gate action" in str(result.reason)
    assert d.pipeline.answers == [] and d.pipeline.pending == {E9}


@pytest.mark.parametrize(("outcome", "approved"), [("promoted", True), ("blocked", False), ("rolled_back", False)])
def test_a_release_settled_with_its_approval_still_open_gets_it_answered_as_its_outcome_says(
        outcome: str, approved: bool) -> None:
    """The answer at the end of the execution failed (a throttle past its retries): reconcile answers it."""
    from genai_cicd.logic.reconcile import answer_pending_approval
    from genai_cicd.ports import Execution

    d = deps()
    d.pipeline = FakePipelineCallbacks(pending={E1})
    started = start_from_pipeline(action(), MACHINE, d)
    described = Execution(arn=started.execution_arn, name=started.execution_name, status="FAILED",
                          input=d.executions.running[started.execution_arn].input)
    said = answer_pending_approval(d, described, f"release {outcome}", approved=outcome == "promoted")
    assert said == ("approved" if approved else "rejected")
    assert d.pipeline.answers == [(E1, approved)]
    # a second reconcile (EventBridge delivers at least once) finds nothing to answer
    assert answer_pending_approval(d, described, "again", approved=approved) == "no approval pending"


def test_a_redelivered_failed_of_attempt_1_leaves_attempt_2_running_with_its_approval_pending() -> None:
    """EventBridge delivers at least once: FAILED(attempt 1) may arrive again while the retry's release runs."""
    d = deps()
    d.pipeline = FakePipelineCallbacks(pending={E1}, tokens={E1: "request-1"})
    first = start_from_pipeline(action(attempt=1, request="request-1"), MACHINE, d)
    cancel_for_pipeline(ended("FAILED", attempt=1), d)
    assert d.pipeline.answers == [(E1, False)]
    d.pipeline.pending, d.pipeline.tokens = {E1}, {E1: "request-2"}  # the retry opens a new request
    second = start_from_pipeline(action(attempt=2, request="request-2"), MACHINE, d)
    assert second.started and second.execution_arn != first.execution_arn
    again = cancel_for_pipeline(ended("FAILED", attempt=1), d)  # the re-delivery
    assert [c.execution_arn for c in again] == [first.execution_arn]
    assert second.execution_arn in d.executions.running
    assert (second.execution_arn, "PipelineCancelled") not in d.executions.stopped
    assert d.pipeline.answers == [(E1, False)] and d.pipeline.pending == {E1}


def test_a_retry_ends_the_older_attempts_release_and_a_late_start_of_it_starts_nothing() -> None:
    d = deps()
    d.pipeline = FakePipelineCallbacks(pending={E1}, tokens={E1: "request-1"})
    first = start_from_pipeline(action(attempt=1, request="request-1"), MACHINE, d)
    d.pipeline.tokens = {E1: "request-2"}  # attempt 1 failed, its FAILED event is still on its way
    second = start_from_pipeline(action(attempt=2, request="request-2"), MACHINE, d)
    assert second.started and (first.execution_arn, "PipelineCancelled") in d.executions.stopped
    # attempt 1's release rejected nothing: the open request is attempt 2's, which it never answers
    assert d.pipeline.answers == []
    late = start_from_pipeline(action(attempt=1, request="request-1"), MACHINE, d)
    assert not late.started
    assert d.pipeline_records.tombstones[("p", E1)].attempt == 1
    cancel_for_pipeline(ended("FAILED", attempt=1), d)
    assert second.execution_arn in d.executions.running and d.pipeline.answers == []


def test_a_late_event_of_an_older_attempt_never_lowers_the_buried_attempt() -> None:
    d = deps()
    cancel_for_pipeline(ended("STOPPED", attempt=3), d)
    cancel_for_pipeline(ended("FAILED", attempt=1), d)
    assert d.pipeline_records.tombstones[("p", E1)].attempt == 3
    assert not start_from_pipeline(action(attempt=2), MACHINE, d).started


SEQUENCES = {
    # CodePipeline User Guide, "Monitoring CodePipeline events": the documented endings of an execution
    "retry": [("start", 1), ("end", "FAILED", 1), ("start", 2)],
    "superseded": [("start", 1), ("end", "SUPERSEDED", 1)],
    "stopped": [("start", 1), ("end", "STOPPED", 1)],
    "canceled": [("start", 1), ("end", "CANCELED", 1)],
    "failed": [("start", 1), ("end", "FAILED", 1)],
}


def play(events: list[tuple[Any, ...]], delays: list[list[float]]) -> tuple[frozenset[int], tuple[Any, ...]]:
    """Events happen in list order (event i at time i) and each is delivered once per entry of ``delays[i]``,
    that long after it happened. CodePipeline's state when a delivery is handled is what had happened by
    then: an attempt's STARTED opens its approval request, an ending closes it. Returns the attempts whose
    releases still run and the approvals answered."""
    d = deps()
    d.pipeline = FakePipelineCallbacks(pending=set())
    deliveries = sorted((i + delay, i) for i, ds in enumerate(delays) for delay in ds)
    arns: dict[str, int] = {}
    happened = -1
    for at, i in deliveries:
        while happened + 1 <= min(at, len(events) - 1):  # CodePipeline moves on whatever we have handled
            happened += 1
            kind = events[happened]
            if kind[0] == "start":
                d.pipeline.pending, d.pipeline.tokens = {E1}, {E1: f"request-{kind[1]}"}
            else:
                d.pipeline.pending = set()
        event = events[i]
        if event[0] == "start":
            result = start_from_pipeline(action(attempt=event[1], request=f"request-{event[1]}"), MACHINE, d)
            if result.execution_arn:
                arns[result.execution_arn] = event[1]
        else:
            cancel_for_pipeline(ended(event[1], attempt=event[2]), d)
    stopped = {arn for arn, _ in d.executions.stopped}
    running = frozenset(attempt for arn, attempt in arns.items() if arn not in stopped)
    return running, tuple(d.pipeline.answers)


@pytest.mark.parametrize("name", sorted(SEQUENCES))
def test_duplicated_and_shuffled_delivery_ends_as_one_ordered_delivery(name: str) -> None:
    """Each event up to three times, in 300 seeded shuffles: the same releases left running and the same
    approvals answered as one delivery in order."""
    import random

    events = SEQUENCES[name]
    expected = play(events, [[0.0]] * len(events))
    rng = random.Random(f"shuffle:{name}")
    for _ in range(300):
        # Any delay, even an attempt's every STARTED handled only after the next attempt opened its request.
        delays = [[rng.uniform(0, 3.0 * len(events)) for _ in range(rng.randint(1, 3))] for _ in events]
        assert play(events, delays) == expected, delays


def test_a_started_handled_after_the_next_attempt_opened_its_request_never_answers_that_request() -> None:
    """The race the action execution id closes: attempt 1's STARTED is first handled after attempt 2 opened its
    approval request, then attempt 1's FAILED arrives before attempt 2's STARTED. Attempt 1's release must not
    record (and at its settle answer) attempt 2's request."""
    events = SEQUENCES["retry"]  # start 1 at 0, FAILED 1 at 1, start 2 at 2
    running, answered = play(events, [[2.1], [2.2], [2.3]])
    assert running == frozenset({2}) and answered == ()
