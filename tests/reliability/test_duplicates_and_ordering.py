"""Duplicate and out-of-order CodePipeline events: one release at most, the same end state in any order."""

from __future__ import annotations

import itertools
import json
import random
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from genai_cicd.logic.pipeline_events import execution_name
from genai_cicd_local.embedded.aws_session import EmbeddedAWS
from genai_cicd_local.runner import LocalReleaseRunner
from tests.stack import (
    AppTraffic,
    flag_documents,
    gate_started,
    ledger_events,
    lock_holder,
    put_pipeline_manifest,
    quiesce,
    status_event,
    wait_for,
)
from tests.utils import QUICK_CANARY, eid, manifest_file, pipeline_action_event

FAST = {"gates": {"prompt_regression": None, "guardrail_suite": None},
        "canary": {**QUICK_CANARY, "steps": [50]}}
SLOW_CANARY = {"gates": {"prompt_regression": None, "guardrail_suite": None},
               "canary": {"min_canary_requests_per_step": 100000, "max_intervals_per_step": 500}}


def ended(execution_id: str, state: str = "SUPERSEDED") -> dict:  # type: ignore[type-arg]
    return {**pipeline_action_event(), "id": str(uuid.uuid4()),
            "detail-type": "CodePipeline Pipeline Execution State Change",
            "detail": {"pipeline": "support-bot-pipeline", "execution-id": execution_id, "state": state,
                       "version": 1}}


def prepare(aws: EmbeddedAWS, runner: LocalReleaseRunner, tmp_path: Path, execution_id: str,
            sections: dict) -> None:  # type: ignore[type-arg]
    path = manifest_file(tmp_path, "good-prompt", **sections)
    put_pipeline_manifest(aws, path, execution_id)
    runner.seed_flag(yaml.safe_load(path.read_text()))
    aws.backend.open_approval("support-bot-pipeline", "GenAIGates", "GenAIGate", execution_id)


def test_given_the_same_start_event_50_times_shuffled_from_8_threads_then_one_release_one_canary_one_history(
        aws: EmbeddedAWS, runner: LocalReleaseRunner, tmp_path: Path) -> None:
    prepare(aws, runner, tmp_path, eid("dup50"), FAST)
    approvals_before = len(aws.backend.approval_results)
    original = gate_started(aws, eid("dup50"))
    # EventBridge redelivers the same event (same id); other rules or replays carry new ids.
    copies = [original if i % 2 else {**original, "id": str(uuid.uuid4())} for i in range(50)]
    random.Random(50).shuffle(copies)
    with AppTraffic(aws):
        with ThreadPoolExecutor(max_workers=8) as pool:
            outcomes = [o for batch in pool.map(aws.deliver_event, copies) for o in batch]
        quiesce(aws, timeout=180)
    name = execution_name("support-bot-pipeline", eid("dup50"), "GenAIGates", "GenAIGate")
    assert len(outcomes) == 50 and not any(o.get("dead_lettered") for o in outcomes), outcomes
    # Duplicates get the first delivery's answer (idempotency) or "in progress"; never another execution.
    arns = {o["payload"]["execution_arn"] for o in outcomes if o["payload"].get("started")}
    assert len(arns) == 1, [o["payload"] for o in outcomes]
    executions = aws.client("stepfunctions").list_executions(stateMachineArn=aws.state_machine_arn)["executions"]
    mine = [e for e in executions if e["name"] == name]
    assert [e["status"] for e in mine] == ["SUCCEEDED"]
    canary_steps = [d for d in flag_documents(aws) if d["release_id"] == name]
    assert [d["candidate_weight"] for d in canary_steps] == [50.0, 100.0]  # one canary, one promotion
    events, problems = ledger_events(aws, name)
    assert events.count("started") == 1 and events[-1] == "promoted" and not problems
    assert [a["status"] for a in aws.backend.approval_results[approvals_before:]] == ["Approved"]
    assert lock_holder(aws) is None


# Every order of a start and an ending, each delivered twice, plus an ending that lands while the canary bakes.
ORDERINGS = [*sorted(set(itertools.permutations(["start", "start", "end", "end"]))),
             ("start", "canary running", "end", "start", "end")]


# Every way "Monitoring CodePipeline events" says a pipeline execution ends without succeeding.
@pytest.mark.parametrize("ending", ["SUPERSEDED", "STOPPED", "CANCELED", "FAILED"])
def test_given_start_and_an_ending_in_every_order_then_the_end_state_is_the_same(
        aws: EmbeddedAWS, runner: LocalReleaseRunner, tmp_path: Path, ending: str) -> None:
    sfn = aws.client("stepfunctions")
    end_states = {}
    for i, ordering in enumerate(ORDERINGS):
        execution_id = eid(f"order-{ending}-{i}")
        answers_before = len(aws.backend.approval_results)
        prepare(aws, runner, tmp_path, execution_id, SLOW_CANARY)
        deployments_before = len(flag_documents(aws))
        # Held: a release that reaches its canary sits in its bake until it is cancelled, as on AWS.
        with aws.clock.hold():
            for kind in ordering:
                if kind == "canary running":
                    wait_for(lambda: runner.flag_weight() > 0)
                    continue
                event = gate_started(aws, execution_id) if kind == "start" else ended(execution_id, ending)
                for outcome in aws.deliver_event(event):
                    assert not outcome.get("dead_lettered"), outcome
            quiesce(aws, timeout=120)
        name = execution_name("support-bot-pipeline", execution_id, "GenAIGates", "GenAIGate")
        mine = [e for e in sfn.list_executions(stateMachineArn=aws.state_machine_arn)["executions"]
                if e["name"] == name]
        # What EventBridge delivers when an execution ends (twice): the reconciler settles whatever is left.
        for e in mine * 2:
            for outcome in aws.deliver_event(status_event(aws, e["executionArn"])):
                assert not outcome.get("error"), outcome
        events = ledger_events(aws, name)[0] if mine else []
        moved = [d for d in flag_documents(aws)[deployments_before:] if d["release_id"] == name]
        end_states[ordering] = {
            "weight": runner.flag_weight(), "lock": lock_holder(aws),
            "running": [e["name"] for e in mine if e["status"] == "RUNNING"],
            "settled": not moved or events[-1] in ("cancelled", "reconciled"),
            "executions": len(mine) <= 1,
            # whatever the order, the ended execution's approval is never approved
            "approved": "Approved" in [a["status"] for a in aws.backend.approval_results[answers_before:]],
        }
        if "canary running" in ordering:
            assert moved and events[-1] == "cancelled", events
    expected = {"weight": 0.0, "lock": None, "running": [], "settled": True, "executions": True, "approved": False}
    assert all(state == expected for state in end_states.values()), json.dumps(
        {" ".join(k): v for k, v in end_states.items()}, indent=1)


def attempt_event(aws: EmbeddedAWS, kind: str, execution_id: str, attempt: int) -> dict:  # type: ignore[type-arg]
    """A gate action's STARTED (naming the approval request CodePipeline opened last) or the pipeline
    execution's FAILED, for one attempt (a retried stage)."""
    if kind == "started":
        event = gate_started(aws, execution_id, attempt)
    else:
        event = {**pipeline_action_event(), "detail-type": "CodePipeline Pipeline Execution State Change",
                 "detail": {"pipeline": "support-bot-pipeline", "execution-id": execution_id, "state": "FAILED",
                            "version": 1, "pipeline-execution-attempt": attempt}}
    event["id"] = str(uuid.uuid4())
    return event


def shuffled(events: list[dict], seed: int) -> list[dict]:  # type: ignore[type-arg]
    """Each event one to three times, in a seeded order."""
    rng = random.Random(seed)
    out = [e for e in events for _ in range(rng.randint(1, 3))]
    rng.shuffle(out)
    return out


def _hard(seed: int) -> bool:
    events = [{"n": 0}, {"n": 1}, {"n": 2}]
    order = shuffled(events, seed)
    first_retry = next(i for i, e in enumerate(order) if e is events[1])
    return all(any(e is events[k] for e in order[first_retry:]) for k in (0, 2))


# The first seed whose order re-delivers attempt 1's FAILED and STARTED after attempt 2's STARTED.
SHUFFLE_SEED = next(seed for seed in range(11, 1000) if _hard(seed))


def test_given_a_retried_stage_delivered_duplicated_and_shuffled_then_it_ends_as_one_ordered_delivery(
        aws: EmbeddedAWS, runner: LocalReleaseRunner, tmp_path: Path) -> None:
    """Attempt 1 starts, fails, the stage is retried (attempt 2, a new approval request). Its events and the
    Step Functions status changes that follow reach us once in order, each one to three times shuffled
    (seeded), or with attempt 1's STARTED first handled only after attempt 2's request opened and its FAILED
    before attempt 2's STARTED (on dd353ec attempt 1's release then recorded attempt 2's request and rejected
    it); the approvals answered, the traffic, the executions' ends and the lock must not differ."""
    sfn = aws.client("stepfunctions")
    key = ("support-bot-pipeline", "GenAIGates", "GenAIGate")
    ends = {}
    for trial in ("ordered", "shuffled", "attempt 1 handled late"):
        execution_id = eid(f"retry-{trial}")
        prepare(aws, runner, tmp_path, execution_id, FAST)
        answers_before = len(aws.backend.approval_results)
        start_1 = attempt_event(aws, "started", execution_id, 1)
        if trial != "attempt 1 handled late":
            aws.deliver_event(start_1)
        # CodePipeline moves on: attempt 1 fails (its request is abandoned) and the stage is retried.
        aws.backend.approvals[key]["status"] = "Abandoned"
        aws.backend.open_approval(*key, execution_id)
        late = [attempt_event(aws, "failed", execution_id, 1), attempt_event(aws, "started", execution_id, 2),
                start_1]
        if trial == "ordered":
            deliveries = late[:2]
        elif trial == "shuffled":  # the hard case: attempt 1's events arrive again after attempt 2 started
            deliveries = shuffled(late, SHUFFLE_SEED)
            first_retry = next(i for i, e in enumerate(deliveries) if e is late[1])
            assert {id(late[0]), id(late[2])} <= {id(e) for e in deliveries[first_retry:]}
        else:
            deliveries = [start_1, late[0], late[1]]
        with AppTraffic(aws):
            for event in deliveries:
                for outcome in aws.deliver_event(event):
                    assert not outcome.get("dead_lettered"), outcome
            quiesce(aws, timeout=180)
        names = {execution_name(*key[:1], execution_id, *key[1:], attempt): attempt for attempt in (1, 2)}
        mine = {e["name"]: e for e in sfn.list_executions(stateMachineArn=aws.state_machine_arn)["executions"]
                if e["name"] in names}
        statuses = [status_event(aws, e["executionArn"]) for e in mine.values()]
        if trial == "shuffled":
            statuses = [s for s in statuses for _ in range(2)]
            random.Random(SHUFFLE_SEED).shuffle(statuses)
        for event in statuses:
            for outcome in aws.deliver_event(event):
                assert not outcome.get("error"), outcome
        ends[trial] = {"answers": [a["status"] for a in aws.backend.approval_results[answers_before:]],
                       "executions": {names[n]: e["status"] for n, e in mine.items()},
                       "weight": runner.flag_weight(), "lock": lock_holder(aws)}
    assert ends["ordered"] == {"answers": ["Approved"], "executions": {1: "ABORTED", 2: "SUCCEEDED"},
                               "weight": 100.0, "lock": None}, ends["ordered"]
    assert all(end == ends["ordered"] for end in ends.values()), json.dumps(ends)
