"""The orchestrator stopped after each side effect: the reconciler settles the release from the services' state.

Each release is stopped (StopExecution) right after one of its states
finished, while the next task may still be in flight. The Step Functions
status-change event is then delivered to ReconcileRelease, twice (EventBridge
delivers at least once). Afterwards traffic is on the baseline unless the
ledger already says ``promoted``, the lock is free, the ledger verifies, and
the second delivery changed nothing.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
import yaml

from genai_cicd_local.cli.upload import upload_manifest_artifacts
from genai_cicd_local.embedded.aws_session import EmbeddedAWS
from genai_cicd_local.embedded.breakpoints import Breakpoint
from genai_cicd_local.runner import LocalReleaseRunner
from tests.stack import AppTraffic, flag_documents, ledger_events, lock_holder, quiesce, status_event
from tests.utils import QUICK_CANARY, manifest_file

# Not "NotifyStarted": its next state is the Gates Parallel, and moto's branch workers cannot be
# stopped while they start (the execution stays RUNNING); AWS has no such limit. "Gates" covers it.
STOP_AFTER = ["LoadManifest", "AcquireLock", "Gates", "QualityGate", "StartCanary", "AnalyzeCanary",
              "ShiftTraffic", "FullRollout", "WriteReleaseReport"]
# moto's ASL threads report the stop as an exception in their own thread; the outcome is checked below.
pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
SETTLED = {"promoted", "failed", "blocked", "rolled_back", "cancelled", "reconciled", "invalid"}


def stop_after(aws: EmbeddedAWS, arn: str, state: str, point: Breakpoint, stopped: threading.Event) -> None:
    """Stop the execution where its breakpoint holds it, right after ``state`` (if it gets there)."""
    sfn = aws.client("stepfunctions")
    while not point.reached.wait(0.05):
        if sfn.describe_execution(executionArn=arn)["status"] != "RUNNING":
            return  # ended before the state (a blocked release never shifts traffic)
    sfn.stop_execution(executionArn=arn, error="OrchestratorStopped", cause=f"stopped after {state}")
    stopped.set()


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory, aws: EmbeddedAWS) -> dict:  # type: ignore[type-arg]
    path = manifest_file(tmp_path_factory.mktemp("m"), "good-prompt",
                         gates={"prompt_regression": None, "guardrail_suite": None},
                         canary={**QUICK_CANARY, "steps": [25, 50]})
    return upload_manifest_artifacts(path, aws.client("s3"), aws.bucket)


@pytest.mark.parametrize("state", STOP_AFTER)
def test_given_the_execution_stopped_after_a_side_effect_when_reconciled_then_traffic_and_lock_are_settled(
        aws: EmbeddedAWS, runner: LocalReleaseRunner, manifest: dict, state: str) -> None:  # type: ignore[type-arg]
    sfn = aws.client("stepfunctions")
    runner.seed_flag(manifest)
    name = f"restart-{state}"
    stopped = threading.Event()
    # The execution pauses right after the state (a breakpoint of the embedded engine), so the stop
    # lands exactly there however fast or busy the machine is.
    with AppTraffic(aws), aws.breakpoints.after(name, state) as point:
        arn = sfn.start_execution(stateMachineArn=aws.state_machine_arn, name=name,
                                  input=json.dumps({"manifest": manifest, "started_by": "reliability"}))["executionArn"]
        stop_after(aws, arn, state, point, stopped)
        quiesce(aws)  # still held: the stopped execution ends right after the state, never one later
    assert stopped.is_set(), f"{name} never passed {state}"
    # ABORTED, as on AWS, even when the interrupted task fails after the stop (the embedded AWS keeps
    # moto from turning that late failure into FAILED; tests/e2e/test_pipeline_paths.py pins it).
    assert sfn.describe_execution(executionArn=arn)["status"] == "ABORTED"
    [first] = aws.deliver_event(status_event(aws, arn))
    assert not first["error"], first
    deployments = len(flag_documents(aws))
    events_once = ledger_events(aws, name)[0]
    [again] = aws.deliver_event(status_event(aws, arn))
    assert not again["error"] and again["payload"]["action"] == "none", again
    assert len(flag_documents(aws)) == deployments and ledger_events(aws, name)[0] == events_once

    events, problems = ledger_events(aws, name)
    promoted = "promoted" in events
    assert runner.flag_weight() == (100.0 if promoted else 0.0), (state, events)
    assert lock_holder(aws) is None
    assert not problems
    if "started" in events:
        assert events[-1] in SETTLED, events


def test_given_all_those_interruptions_when_the_next_release_runs_then_it_is_promoted(
        aws: EmbeddedAWS, runner: LocalReleaseRunner, tmp_path: Path) -> None:
    path = manifest_file(tmp_path, "good-prompt", gates={"prompt_regression": None, "guardrail_suite": None},
                         canary={**QUICK_CANARY, "steps": [50]})
    assert yaml.safe_load(path.read_text())["app"] == "support-bot"
    result = runner.run(path, name="restart-after")
    assert result["outcome"] == "promoted" and result["final_candidate_weight"] == 100.0
