"""Fixtures for suites that run the whole stack on the embedded AWS (one stack per module)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from genai_cicd.aws.ledger import Ledger
from genai_cicd.aws.lock import ReleaseLock
from genai_cicd.logic.pipeline_events import manifest_key
from genai_cicd.models.ledger import verify_chain
from genai_cicd_local.cli.upload import upload_manifest_artifacts
from genai_cicd_local.embedded.aws_session import EmbeddedAWS
from genai_cicd_local.runner import LocalReleaseRunner
from tests.utils import ROOT, pipeline_action_event


def embedded_stack(**options: Any) -> Iterator[EmbeddedAWS]:
    """An embedded AWS for a module (``options`` for EmbeddedAWS); at the end, no call IAM would deny."""
    with EmbeddedAWS(ROOT, **options) as embedded:
        yield embedded
        findings = embedded.iam_findings()
        assert not findings, "IAM would deny calls of this run:\n" + "\n".join(findings)


def quiet_runner(aws: EmbeddedAWS) -> LocalReleaseRunner:
    r = LocalReleaseRunner(aws, out=lambda _: None)
    r.setup()
    return r


@pytest.fixture(scope="module")
def aws() -> Iterator[EmbeddedAWS]:
    yield from embedded_stack()


@pytest.fixture(scope="module")
def runner(aws: EmbeddedAWS) -> LocalReleaseRunner:
    return quiet_runner(aws)


# ---------------------------------------------------------------- helpers
def put_pipeline_manifest(aws: EmbeddedAWS, path: Path, execution_id: str) -> dict[str, Any]:
    """What the pipeline's build step writes: the release manifest for one pipeline execution."""
    manifest = upload_manifest_artifacts(path, aws.client("s3"), aws.bucket)
    aws.client("s3").put_object(Bucket=aws.bucket, Key=manifest_key("support-bot-pipeline", execution_id),
                                Body=json.dumps(manifest).encode())
    return manifest


def gate_started(aws: EmbeddedAWS, execution_id: str, attempt: int = 1, category: str = "Approval",
                 pipeline: str = "support-bot-pipeline", stage: str = "GenAIGates",
                 action: str = "GenAIGate") -> dict[str, Any]:
    """The gate action's STARTED event for the approval request CodePipeline opened last (its action execution
    id, as the event carries it), or a made-up id when none was opened."""
    key = (pipeline, stage, action)
    event = pipeline_action_event("STARTED", execution_id, action=action, category=category)
    if key in aws.backend.approvals:
        event["detail"]["action-execution-id"] = aws.backend.approval_action_execution_id(*key)
    event["detail"].update({"pipeline": pipeline, "stage": stage, "pipeline-execution-attempt": attempt})
    return event


@pytest.fixture
def parked(aws: EmbeddedAWS) -> Iterator[None]:
    """Releases sit in their Wait states (a canary in its bake) until stopped or the test ends: a test
    acts mid-canary whatever the machine's speed (the embedded AWS runs on simulated time)."""
    with aws.clock.hold():
        yield


def wait_for(predicate: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def quiesce(aws: EmbeddedAWS, timeout: float = 60.0) -> None:
    """Wait until no execution runs and no handler is mid-flight (a stopped execution's last task)."""
    sfn = aws.client("stepfunctions")
    wait_for(lambda: not sfn.list_executions(stateMachineArn=aws.state_machine_arn,
                                             statusFilter="RUNNING")["executions"], timeout)
    wait_for(lambda: aws.runtime.in_flight == 0, timeout)


def status_event(aws: EmbeddedAWS, execution_arn: str) -> dict[str, Any]:
    """The Step Functions Execution Status Change event EventBridge would deliver for this execution.

    Shaped as the Step Functions Developer Guide documents it (dates in epoch milliseconds);
    tests/contract/test_bedrock_runtime_and_states.py holds it to that shape.
    """
    d = aws.client("stepfunctions").describe_execution(executionArn=execution_arn)
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Step Functions Execution Status Change",
            "source": "aws.states", "account": "123456789012", "time": "2026-11-26T03:00:00Z",
            "region": aws.region, "resources": [execution_arn],
            "detail": {"executionArn": execution_arn, "stateMachineArn": d["stateMachineArn"], "name": d["name"],
                       "status": d["status"], "startDate": int(d["startDate"].timestamp() * 1000),
                       "stopDate": int(d["stopDate"].timestamp() * 1000) if d.get("stopDate") else None,
                       "input": d.get("input"), "output": d.get("output")}}


def flag_documents(aws: EmbeddedAWS) -> list[dict[str, Any]]:
    """Every AppConfig flag deployment, oldest first, with the document it deployed."""
    docs = []
    for history in aws.backend.deployments.values():
        for d in history:
            docs.append({"number": d["DeploymentNumber"], "state": aws.backend._deployment_state(d),
                         "started": d["_started"], "seq": d["_seq"], **json.loads(d["_content"])})
    # Simulated time stands still while code runs: the backend's sequence orders what shares an instant.
    return sorted(docs, key=lambda d: d["seq"])


def lock_holder(aws: EmbeddedAWS) -> str | None:
    return ReleaseLock(aws.client("dynamodb"), aws.control_plane.physical["ControlPlaneTable"], 600).holder(
        "support-bot", "prod")


def ledger_events(aws: EmbeddedAWS, release_id: str) -> tuple[list[str], list[str]]:
    """(events, chain problems) of one release's ledger."""
    entries = Ledger(aws.client("dynamodb"), aws.control_plane.physical["ControlPlaneTable"]).entries(release_id)
    return [e.event for e in entries], verify_chain(entries)


class AppTraffic:
    """The sample app's users while a release runs: seeded simulated users (20 requests/s) on the embedded
    AWS's clock, so how many requests a canary interval gets never depends on the machine's speed (a
    wall-clock loop once sent thousands of requests in one simulated second and spent the model's quota)."""

    def __init__(self, aws: EmbeddedAWS, rate_per_second: float = 20.0, seed: int = 11) -> None:
        from genai_cicd_local.app_traffic import AppTraffic as SimulatedTraffic
        from genai_cicd_local.app_traffic import TrafficShape

        self._users = SimulatedTraffic(aws.clock, aws.runtime, aws.function_name("SupportBotFunction"),
                                       ["how long is the free trial"], TrafficShape(rate_per_second=rate_per_second),
                                       seed)

    @property
    def sent(self) -> int:
        return self._users.sent

    def __enter__(self) -> AppTraffic:
        self._users.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._users.__exit__(*exc)
