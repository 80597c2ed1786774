"""EmbeddedAWS: one context manager that stands up the whole control plane locally.

    with EmbeddedAWS(repo_root) as aws:
        aws.start_release(manifest_dict, name="demo-1")

It starts moto with ASL execution and no-Docker Lambda, routes the
operations moto lacks to EmbeddedBackend, runs the template's handlers
in-process, and provisions template.yaml (and the sample app's template).
Everything runs on one SimulatedClock (``aws.clock``; embedded/clock.py).
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

import boto3
import botocore.handlers

from genai_cicd.aws import clients
from genai_cicd_local.embedded import moto_time
from genai_cicd_local.embedded.async_invocations import AsyncDelivery, AsyncInvocations
from genai_cicd_local.embedded.backend import EmbeddedBackend
from genai_cicd_local.embedded.breakpoints import Breakpoints
from genai_cicd_local.embedded.clock import SimulatedClock, installed
from genai_cicd_local.embedded.lambda_runtime import EmbeddedLambdaRuntime
from genai_cicd_local.embedded.metric_ingestion import IngestionDelay
from genai_cicd_local.embedded.model import SimulatedFoundationModel
from genai_cicd_local.embedded.provision import Provisioner, Stack

_current: EmbeddedBackend | None = None


def _capture(params: dict[str, Any], context: dict[str, Any], **kw: Any) -> None:
    if _current is not None:
        _current.capture_params(params=params, context=context)


def _before_call(model: Any, context: dict[str, Any], request_signer: Any = None, **kw: Any) -> Any:
    if _current is None:
        return None
    return _current.before_call(model=model, context=context, request_signer=request_signer)


def _install_handlers() -> None:
    """Register once, before sessions are created, so every client reaches the backend."""
    entries: list[tuple[str, Any]] = [("before-parameter-build", _capture), ("before-call", _before_call)]
    for entry in entries:
        if entry not in botocore.handlers.BUILTIN_HANDLERS:
            botocore.handlers.BUILTIN_HANDLERS.append(entry)
    boto3.DEFAULT_SESSION = None


# The service role Bedrock evaluation jobs run with (the stack's EvaluationRoleArn parameter).
EVALUATION_ROLE_ARN = "arn:aws:iam::123456789012:role/BedrockEvaluationRole"
MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
    "AWS_SECURITY_TOKEN": "testing", "POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_DEV": "false",
}


class EmbeddedAWS:
    def __init__(self, root: Path, *, region: str = "us-east-1", seed: int = 7,
                 stack_name: str = "genai-cicd-local", with_sample_app: bool = True,
                 ingestion_delay: IngestionDelay | None = None, app_parameters: dict[str, str] | None = None,
                 async_delivery: AsyncDelivery | None = None) -> None:
        self.root = root
        # Lambda's asynchronous queue: delay, retries, duplicates (embedded/async_invocations.py)
        self.async_delivery = async_delivery if async_delivery is not None else AsyncDelivery()
        self.async_invocations: AsyncInvocations | None = None
        # Parameter overrides of the sample app's template (e.g. OtelGenAIMetrics "1")
        self.app_parameters = dict(app_parameters or {})
        # CloudWatch's EMF latency and duplicates (the embedded default unless a test says otherwise)
        self.ingestion_delay = ingestion_delay if ingestion_delay is not None else IngestionDelay()
        self.region = region
        self.seed = seed
        self.stack_name = stack_name
        self.with_sample_app = with_sample_app
        self.logs: list[dict[str, Any]] = []
        self.clock = SimulatedClock()
        self.backend = EmbeddedBackend(region, SimulatedFoundationModel(seed), self.clock)
        self._clock_scope: Any = None
        self._restore_moto_time: Any = None
        self.breakpoints = Breakpoints()  # tests pause an execution after a state (embedded/breakpoints.py)
        self._restore_breakpoints: Any = None
        self.control_plane: Stack
        self.sample_app: Stack | None = None
        self._saved_env: dict[str, str] = {}
        self._mock: Any = None
        self._saved_invoke: Any = None
        self._saved_stop: Any = None
        self._saved_set_error: Any = None
        self._saved_ddb: dict[str, Any] = {}
        self._saved_submit: Any = None
        # The suite's unused-grant audit collects each run's grants here (tests/conftest.py).
        self._iam_ledger = os.environ.get("GENAI_CICD_IAM_LEDGER")

    # -- lifecycle --------------------------------------------------------------
    def __enter__(self) -> EmbeddedAWS:
        from moto import mock_aws
        from moto.awslambda_simple.models import LambdaSimpleBackend

        global _current
        if _current is not None:
            raise RuntimeError("an EmbeddedAWS is already running in this process")
        self._saved_env = dict(os.environ)
        for var in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_DEFAULT_PROFILE"):
            os.environ.pop(var, None)
        os.environ.update(FAKE_ENV | {"AWS_DEFAULT_REGION": self.region, "AWS_REGION": self.region})
        _install_handlers()
        # The ASL engine logs every Fail state as an error; the release outcome says it better.
        logging.getLogger("moto").setLevel(logging.CRITICAL)
        _current = self.backend
        clients.reset()
        self._reset_powertools()
        self._clock_scope = installed(self.clock)
        self._clock_scope.__enter__()
        self._mock = mock_aws(config=MOTO_CONFIG)  # type: ignore[call-overload]
        self._mock.start()
        self._restore_moto_time = moto_time.patch(self.clock)
        self._restore_breakpoints = self.breakpoints.patch()
        self.runtime = EmbeddedLambdaRuntime(self.region, self.logs, clock=self.clock.time, seed=self.seed,
                                             ingestion_delay=self.ingestion_delay)
        # Datapoints become queryable as simulated time reaches them (embedded/metric_ingestion.py).
        self.clock.add_source(self.runtime.ingestion.source, queue=True)
        self.backend.runtime = self.runtime
        runtime = self.runtime

        def run_async(function_name: str, body: bytes) -> str | None:
            return runtime.invoke(function_name, body)[1]

        queue = self.async_invocations = AsyncInvocations(run_async, self.clock.time, self.async_delivery, self.seed)
        self.clock.add_source(queue.source, queue=True)

        def invoke(_self: Any, function_name: str, qualifier: Any, body: Any, headers: Any,
                   response_headers: dict[str, str]) -> bytes:
            if (headers or {}).get("X-Amz-Invocation-Type") == "Event":
                # Queued, as Lambda does; runs later on the simulated clock (202, empty body).
                runtime.spec_for(function_name)  # an unknown function fails now, as Invoke does
                queue.enqueue(function_name, body if isinstance(body, bytes) else str(body or "").encode())
                return b""
            payload, error = runtime.invoke(function_name, body)
            if error:
                response_headers["x-amz-function-error"] = error
            return payload

        self._saved_invoke = LambdaSimpleBackend.invoke
        LambdaSimpleBackend.invoke = invoke  # type: ignore[method-assign,assignment]
        self._patch_stop_semantics()
        self._patch_atomic_dynamodb_writes()
        self._patch_pool_context()
        try:
            self._provision()
        except Exception:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        from moto.awslambda_simple.models import LambdaSimpleBackend

        global _current
        self._wait_for_running_executions()
        if self._iam_ledger:
            path = Path(self._iam_ledger) / f"{os.getpid()}-{id(self)}-{time.monotonic_ns()}.json"
            path.write_text(json.dumps(self.backend.authorizer.export()), encoding="utf-8")
        if self._saved_invoke is not None:
            LambdaSimpleBackend.invoke = self._saved_invoke  # type: ignore[method-assign]
        if self._saved_submit is not None:
            from concurrent.futures import ThreadPoolExecutor

            ThreadPoolExecutor.submit = self._saved_submit  # type: ignore[method-assign]
            self._saved_submit = None
        if self._saved_ddb:
            from moto.dynamodb.models import DynamoDBBackend

            for name, original in self._saved_ddb.items():
                setattr(DynamoDBBackend, name, original)
            self._saved_ddb = {}
        if self._saved_stop is not None:
            from moto.stepfunctions.parser.asl.eval.environment import Environment
            from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

            ExecutionWorker.stop = self._saved_stop  # type: ignore[method-assign]
            Environment.set_error = self._saved_set_error  # type: ignore[method-assign]
        if self._restore_breakpoints is not None:
            self._restore_breakpoints()
            self._restore_breakpoints = None
        if self._restore_moto_time is not None:
            self._restore_moto_time()
            self._restore_moto_time = None
        if self._mock is not None:
            self._mock.stop()
        if self._clock_scope is not None:
            self._clock_scope.__exit__(None, None, None)
            self._clock_scope = None
        _current = None
        clients.reset()
        self._reset_powertools()
        os.environ.clear()
        os.environ.update(self._saved_env)

    def _patch_pool_context(self) -> None:
        """A function's worker threads call AWS with the function's role, as in Lambda (one process, one
        role): a task submitted to a thread pool runs in a copy of the submitter's context, so its calls
        are attributed to (and authorized for) the function (SendProbes sends probes from a pool)."""
        from concurrent.futures import ThreadPoolExecutor

        original = ThreadPoolExecutor.submit
        self._saved_submit = original

        def submit(pool: Any, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
            return original(pool, contextvars.copy_context().run, fn, *args, **kwargs)

        ThreadPoolExecutor.submit = submit  # type: ignore[method-assign]

    def _patch_atomic_dynamodb_writes(self) -> None:
        """DynamoDB applies a conditional write atomically; moto checks, then writes, unlocked.

        Two threads racing for the release lock could both win on moto. Serialising moto's
        write operations restores what the real service guarantees.
        """
        from moto.dynamodb.models import DynamoDBBackend

        lock = threading.RLock()
        self._saved_ddb = {}
        for name in ("put_item", "update_item", "delete_item", "transact_write_items"):
            original = getattr(DynamoDBBackend, name)
            self._saved_ddb[name] = original

            def atomic(*args: Any, __original: Any = original, **kwargs: Any) -> Any:
                with lock:
                    return __original(*args, **kwargs)

            setattr(DynamoDBBackend, name, atomic)

    def _patch_stop_semantics(self) -> None:
        """StopExecution as on AWS: accepted at any time, and the execution then ends ABORTED."""
        # moto fails StopExecution issued before its worker thread set up the run.
        from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

        original = ExecutionWorker.stop
        self._saved_stop = original

        def stop(worker: Any, stop_date: Any, error: Any, cause: Any) -> None:
            deadline = time.monotonic() + 10
            while getattr(worker, "env", None) is None and time.monotonic() < deadline:
                time.sleep(0.01)
            original(worker, stop_date, error, cause)

        ExecutionWorker.stop = stop  # type: ignore[method-assign,assignment]

        # moto lets a task that fails after StopExecution landed (e.g. fenced by the freed lock) overwrite
        # the stop, so the execution ends FAILED; on AWS a stopped execution is ABORTED. An error
        # raised before the stop still fails the execution, as it does on AWS.
        from moto.stepfunctions.parser.asl.eval.environment import Environment
        from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped

        set_error = Environment.set_error
        self._saved_set_error = set_error

        def set_error_unless_stopped(env: Any, error: Any) -> None:
            with env._state_mutex:
                if isinstance(env._program_state, ProgramStopped):
                    return
                set_error(env, error)

        Environment.set_error = set_error_unless_stopped  # type: ignore[method-assign,assignment]

    def cold_start(self) -> None:
        """Drop cached parameters and settings, as a new Lambda execution environment would."""
        self._reset_powertools()

    @staticmethod
    def _reset_powertools() -> None:
        from aws_lambda_powertools.utilities.parameters import base

        from genai_cicd import settings

        base.DEFAULT_PROVIDERS.clear()
        settings.reset_cache()

    def _wait_for_running_executions(self, timeout: float = 10.0) -> None:
        """Let background executions finish (or give up) before moto goes away."""
        try:
            sfn = self.client("stepfunctions")
            arn = self.control_plane.outputs["ReleaseStateMachineArn"]
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                running = sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING")["executions"]
                if not running:
                    return
                for e in running:
                    sfn.stop_execution(executionArn=e["executionArn"], error="EmbeddedShutdown")
                time.sleep(0.1)
        except Exception:  # noqa: BLE001 - best effort on shutdown
            return

    def _provision(self) -> None:
        session = boto3.session.Session(region_name=self.region)
        provisioner = Provisioner(session, self.runtime, self.backend.authorizer)
        # Deployed as the README says for Bedrock evaluation jobs: with the service role they pass.
        self.control_plane = provisioner.deploy(self.root / "template.yaml", self.stack_name, self.region,
                                                {"EvaluationRoleArn": EVALUATION_ROLE_ARN})
        # Control-plane functions read their settings from the process environment.
        for spec in self.control_plane.functions.values():
            os.environ.update(spec.environment)
        if self.with_sample_app:
            out = self.control_plane.outputs
            self.sample_app = provisioner.deploy(
                self.root / "examples" / "support_bot" / "template.yaml", "support-bot", self.region,
                {"FlagApplicationId": out["FlagApplicationId"], "FlagEnvironmentId": out["FlagEnvironmentId"],
                 "FlagProfileId": out["FlagProfileId"], "PromptBucket": out["ArtifactBucketName"],
                 "ArtifactKeyArn": out["ArtifactKeyArn"], **self.app_parameters},
            )
        self.runtime.preload()

    # -- IAM ---------------------------------------------------------------------------
    def iam_findings(self) -> list[str]:
        """Calls IAM would have denied (each failed as on AWS) and calls the evaluator could not decide."""
        authorizer = self.backend.authorizer
        return [d.message() for d in authorizer.denials] + [f"not evaluated: {e}" for e in authorizer.errors]

    # -- conveniences -------------------------------------------------------------
    def client(self, service: str) -> Any:
        return boto3.client(service, region_name=self.region)

    @property
    def state_machine_arn(self) -> str:
        return self.control_plane.outputs["ReleaseStateMachineArn"]

    @property
    def bucket(self) -> str:
        return self.control_plane.outputs["ArtifactBucketName"]

    def function_name(self, logical: str) -> str:
        for stack in (self.control_plane, self.sample_app):
            if stack is not None and logical in stack.functions:
                return stack.functions[logical].name
        raise KeyError(logical)

    def invoke(self, logical: str, event: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        response = self.client("lambda").invoke(FunctionName=self.function_name(logical),
                                                Payload=json.dumps(event).encode())
        return json.loads(response["Payload"].read() or b"null"), response.get("FunctionError")

    def deliver_event(self, event: dict[str, Any], attempts: int = 3) -> list[dict[str, Any]]:
        """Simulated EventBridge delivery to the template's rules with Lambda targets.

        (moto's put_events cannot invoke Lambda targets.) An event whose target
        keeps failing after ``attempts`` goes to the rule's dead-letter queue.
        """
        results = []
        for rule in self.control_plane.rules:
            if not matches(rule["pattern"], event):
                continue
            outcome: dict[str, Any] = {"rule": rule["name"], "function": rule["function"]}
            for attempt in range(1, attempts + 1):
                response = self.client("lambda").invoke(FunctionName=rule["function"],
                                                        Payload=json.dumps(event).encode())
                payload = json.loads(response["Payload"].read() or b"null")
                outcome.update(attempts=attempt, payload=payload, error=response.get("FunctionError"))
                if not response.get("FunctionError"):
                    break
                if isinstance(payload, dict) and payload.get("errorType") in ("InvalidInput",):
                    break  # a malformed event will not get better with retries
            if outcome["error"] and rule["dead_letter_arn"]:
                queue = rule["dead_letter_arn"].rsplit(":", 1)[-1]
                url = self.client("sqs").get_queue_url(QueueName=queue)["QueueUrl"]
                self.client("sqs").send_message(QueueUrl=url, MessageBody=json.dumps(
                    {"event": event, "error": outcome["payload"]}))
                outcome["dead_lettered"] = True
            results.append(outcome)
        return results

    def wait(self, execution_arn: str, timeout: float = 300.0) -> dict[str, Any]:
        sfn = self.client("stepfunctions")
        deadline = time.monotonic() + timeout
        while True:
            described = sfn.describe_execution(executionArn=execution_arn)
            if described["status"] != "RUNNING" or time.monotonic() > deadline:
                return dict(described)
            time.sleep(0.05)


def matches(pattern: Any, event: Any) -> bool:
    """EventBridge pattern matching for exact-value lists and nested objects."""
    if isinstance(pattern, dict):
        return isinstance(event, dict) and all(k in event and matches(v, event[k]) for k, v in pattern.items())
    if isinstance(pattern, list):
        return event in pattern
    return bool(pattern == event)
