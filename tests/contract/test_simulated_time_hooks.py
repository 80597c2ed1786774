"""moto's Step Functions engine runs on the embedded AWS's simulated clock (embedded/moto_time.py) and
stops at the tests' breakpoints (embedded/breakpoints.py).

moto is pinned; these fail loudly if the hooks move: a Wait of an hour takes no wall time and moves
the clock by an hour, the history's times are simulated, a Retry's backoff is simulated, a stopped
execution leaves a held Wait at once, and a breakpoint holds an execution right after its state.
"""

from __future__ import annotations

import json
import time

import pytest

from genai_cicd_local.embedded.aws_session import EmbeddedAWS
from tests.stack import aws, wait_for  # noqa: F401

ROLE = "arn:aws:iam::123456789012:role/sim-time"


def machine(aws: EmbeddedAWS, name: str, states: dict) -> str:  # type: ignore[type-arg]  # noqa: F811
    definition = {"StartAt": next(iter(states)), "States": states}
    return str(aws.client("stepfunctions").create_state_machine(
        name=name, definition=json.dumps(definition), roleArn=ROLE)["stateMachineArn"])


def test_given_a_wait_of_an_hour_then_it_passes_in_simulated_time_and_the_history_says_so(
        aws: EmbeddedAWS) -> None:  # noqa: F811
    sfn = aws.client("stepfunctions")
    arn = machine(aws, "sim-wait", {"W": {"Type": "Wait", "Seconds": 3600, "Next": "P"},
                                    "P": {"Type": "Pass", "End": True}})
    before, wall = aws.clock.time(), time.monotonic()
    execution = sfn.start_execution(stateMachineArn=arn, name="wait-1")["executionArn"]
    described = aws.wait(execution, timeout=60)
    assert described["status"] == "SUCCEEDED"
    assert time.monotonic() - wall < 30  # an hour of bake is not an hour of CI
    assert described["startDate"].timestamp() == pytest.approx(before, abs=1)  # $$.Execution.StartTime
    events = {e["type"]: e["timestamp"].timestamp() for e in sfn.get_execution_history(executionArn=execution)[
        "events"]}
    assert events["PassStateEntered"] - events["WaitStateEntered"] == pytest.approx(3600, abs=1)
    assert aws.clock.time() - before == pytest.approx(3600, abs=1)


def test_given_a_retry_then_its_backoff_is_simulated_time(aws: EmbeddedAWS) -> None:  # noqa: F811
    arn = machine(aws, "sim-retry", {
        "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
              "Parameters": {"FunctionName": "does-not-exist"},
              "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 600, "MaxAttempts": 2,
                         "BackoffRate": 2.0}], "End": True}})
    before, wall = aws.clock.time(), time.monotonic()
    execution = aws.client("stepfunctions").start_execution(stateMachineArn=arn, name="retry-1")["executionArn"]
    assert aws.wait(execution, timeout=60)["status"] == "FAILED"
    assert time.monotonic() - wall < 30
    assert aws.clock.time() - before >= 600 + 1200 - 1  # two backoffs: 600 s, then 1,200 s
    # moto's engine does not say which machine makes a call: the embedded AWS decides every engine call
    # by the control plane's state machine role, which may not invoke this test machine's missing function.
    # The call is meant to fail either way; the denial is this test's doing, not the template's.
    denied = [d for d in aws.backend.authorizer.denials if d.request.resources == [
        "arn:aws:lambda:us-east-1:123456789012:function:does-not-exist"]]
    assert denied
    aws.backend.authorizer.denials[:] = [d for d in aws.backend.authorizer.denials if d not in denied]


def test_given_a_held_clock_then_the_wait_blocks_until_a_stop_ends_it_without_moving_time(
        aws: EmbeddedAWS) -> None:  # noqa: F811
    sfn = aws.client("stepfunctions")
    arn = machine(aws, "sim-held", {"W": {"Type": "Wait", "Seconds": 300, "End": True}})
    before = aws.clock.time()
    with aws.clock.hold():
        execution = sfn.start_execution(stateMachineArn=arn, name="held-1")["executionArn"]
        wait_for(lambda: any(e["type"] == "WaitStateEntered" for e in sfn.get_execution_history(
            executionArn=execution)["events"]), timeout=30)
        time.sleep(0.2)
        assert sfn.describe_execution(executionArn=execution)["status"] == "RUNNING"
        sfn.stop_execution(executionArn=execution, error="Test", cause="stopped while waiting")
        assert aws.wait(execution, timeout=30)["status"] == "ABORTED"
    assert aws.clock.time() == before


def test_given_a_breakpoint_then_the_execution_waits_right_after_that_state_until_released(
        aws: EmbeddedAWS) -> None:  # noqa: F811
    sfn = aws.client("stepfunctions")
    arn = machine(aws, "sim-breakpoint", {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "End": True}})
    with aws.breakpoints.after("bp-1", "A") as point:
        execution = sfn.start_execution(stateMachineArn=arn, name="bp-1")["executionArn"]
        assert point.reached.wait(30)
        time.sleep(0.2)
        kinds = [e["type"] for e in sfn.get_execution_history(executionArn=execution)["events"]]
        assert "PassStateExited" in kinds and kinds.count("PassStateEntered") == 1  # B not entered
        assert sfn.describe_execution(executionArn=execution)["status"] == "RUNNING"
    assert aws.wait(execution, timeout=30)["status"] == "SUCCEEDED"


def test_powertools_parameters_cache_expires_on_the_simulated_clock_and_starts_empty() -> None:
    """The app's flag cache (FLAG_MAX_AGE_SECONDS) is Powertools' ``max_age``: 5 simulated seconds, not 5 wall
    seconds, however long the machine takes; and a new clock never serves what an earlier one cached."""
    from aws_lambda_powertools.utilities.parameters.base import BaseProvider

    from genai_cicd_local.embedded.clock import SimulatedClock, installed

    class Counting(BaseProvider):
        reads = 0

        def _get(self, name: str, **_: object) -> str:
            Counting.reads += 1
            return f"value {Counting.reads}"

        def _get_multiple(self, path: str, **_: object) -> dict[str, str]:
            raise NotImplementedError

    clock = SimulatedClock()
    with installed(clock):
        provider = Counting()
        assert provider.get("flag", max_age=5) == "value 1"
        time.sleep(0.05)
        clock.advance(4)
        assert provider.get("flag", max_age=5) == "value 1"  # 4 simulated seconds: still cached
        clock.advance(2)
        assert provider.get("flag", max_age=5) == "value 2"  # 6: read again
        provider.get("flag", max_age=5)
    with installed(SimulatedClock()):  # the same simulated instant again, a fresh cache
        from aws_lambda_powertools.utilities.parameters import base

        assert base.DEFAULT_PROVIDERS == {}
