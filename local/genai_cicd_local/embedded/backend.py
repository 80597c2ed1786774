"""EmbeddedBackend: serves, at the boto3 level, the AWS operations moto lacks.

botocore emits ``before-call.<service-id>.<Operation>`` before sending; a
handler that returns ``(http_response, parsed)`` short-circuits the call,
moto included (docs/EMBEDDED.md). The original keyword arguments are captured one
event earlier (``before-parameter-build``) so each operation reads exactly
what the caller passed. Everything not listed in ``operations`` falls through
to moto untouched.

Also served here: Lambda Invoke (RequestResponse) of the functions the embedded runtime runs, straight
to their handlers (moto's own Invoke costs about 3 ms a call in its response machinery; the hook it
would reach, LambdaSimpleBackend.invoke, runs the same handler).

Served (all simulated, services/ one module per service): AppConfig environments, deployment strategies
and deployments; appconfigdata sessions; CodePipeline pipeline state and
approval/job results; Bedrock guardrails and evaluation jobs; bedrock-runtime
Converse and ApplyGuardrail (through SimulatedFoundationModel and
SimulatedGuardrails); CloudWatch GetMetricData asking for percentiles, percentile
ranks or trimmed counts (from the EMF values the functions printed).
"""

from __future__ import annotations

import io
import itertools
import threading
import time
from collections.abc import Callable
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.exceptions import ReadTimeoutError
from botocore.response import StreamingBody

from genai_cicd_local.embedded.clock import SimulatedClock
from genai_cicd_local.embedded.iam import Authorizer
from genai_cicd_local.embedded.lambda_runtime import EmbeddedLambdaRuntime, current_function
from genai_cicd_local.embedded.model import SimulatedFoundationModel
from genai_cicd_local.embedded.services.appconfig import AppConfigService
from genai_cicd_local.embedded.services.base import BackendError, NotServed
from genai_cicd_local.embedded.services.bedrock import BedrockService
from genai_cicd_local.embedded.services.bedrock_runtime import BedrockRuntimeService, TokenQuota
from genai_cicd_local.embedded.services.cloudwatch import CloudWatchService
from genai_cicd_local.embedded.services.codedeploy import CodeDeployService
from genai_cicd_local.embedded.services.codepipeline import CodePipelineService
from genai_cicd_local.embedded.services.stepfunctions import ExecutionHistoryService

__all__ = ["BackendError", "EmbeddedBackend", "TokenQuota"]


_PARAMS_KEY = "genai_cicd_params"
# moto's Step Functions engine calls AWS with these credentials (asl/utils/boto_client.py): its calls are
# the state machine's, made with the state machine's role.
_ENGINE_ACCESS_KEY = "ak"
STATE_MACHINE = "$states"
# The error each service answers a denied call with (their API references, "Common Errors").
_ACCESS_DENIED = {"s3": ("AccessDenied", 403), "sqs": ("AccessDenied", 403), "cloudwatch": ("AccessDenied", 403),
                  "sns": ("AuthorizationError", 403)}


class EmbeddedBackend(AppConfigService, CodePipelineService, CodeDeployService, BedrockService,
                      BedrockRuntimeService, ExecutionHistoryService, CloudWatchService):
    """The services' state and operations (services/, one module per service), the botocore hook that
    routes calls to them, and the fault injection the reliability tests use."""

    def __init__(self, region: str, model: SimulatedFoundationModel | None = None,
                 clock: SimulatedClock | None = None) -> None:
        self.region = region
        self.clock = clock or SimulatedClock()
        self._sequence = itertools.count(1)  # orders events that share a simulated instant
        self._request_ids = itertools.count(1)  # RequestId of served calls: unique, and cheaper than uuid4
        self._lock = threading.RLock()
        self._init_appconfig()
        self._init_codepipeline()
        self._init_codedeploy()
        self._init_bedrock()
        self._init_bedrock_runtime(model)
        self.calls: dict[str, int] = {}
        # (calling embedded function or "client", "service:Operation") -> count, for fault-injection tests.
        self.calls_by_caller: dict[tuple[str, str], int] = {}
        self.fail_next: dict[str, list[BackendError | Exception]] = {}
        self.fail_only_for: dict[str, str] = {}
        self.slow: dict[str, tuple[float, str | None]] = {}  # "service:Operation" -> (seconds, caller filter)
        self.fault_log: list[dict[str, Any]] = []  # injected faults that fired: when, what, whose call
        self.runtime: EmbeddedLambdaRuntime | None = None  # set by EmbeddedAWS once functions are registered
        # IAM, evaluated (embedded/iam.py): the provisioner adds each function's and the state machine's role.
        self.authorizer = Authorizer(region, self)
        self.operations: dict[tuple[str, str], Callable[[dict[str, Any]], dict[str, Any]]] = {
            ("appconfig", "CreateEnvironment"): self.create_environment,
            ("appconfig", "GetEnvironment"): self.get_environment,
            ("appconfig", "CreateDeploymentStrategy"): self.create_deployment_strategy,
            ("appconfig", "StartDeployment"): self.start_deployment,
            ("appconfig", "GetDeployment"): self.get_deployment,
            ("appconfig", "ListDeployments"): self.list_deployments,
            ("appconfig", "StopDeployment"): self.stop_deployment,
            ("appconfigdata", "StartConfigurationSession"): self.start_configuration_session,
            ("appconfigdata", "GetLatestConfiguration"): self.get_latest_configuration,
            ("codepipeline", "GetPipelineState"): self.get_pipeline_state,
            ("codepipeline", "PutApprovalResult"): self.put_approval_result,
            ("codepipeline", "PutJobSuccessResult"): self.put_job_success_result,
            ("codepipeline", "PutJobFailureResult"): self.put_job_failure_result,
            ("codedeploy", "CreateDeployment"): self.create_deployment,
            ("codedeploy", "GetDeployment"): self.get_codedeploy_deployment,
            ("codedeploy", "ListDeployments"): self.list_codedeploy_deployments,
            ("codedeploy", "StopDeployment"): self.stop_codedeploy_deployment,
            ("bedrock", "CreateGuardrail"): self.create_guardrail,
            ("bedrock", "CreateGuardrailVersion"): self.create_guardrail_version,
            ("bedrock", "GetGuardrail"): self.get_guardrail,
            ("bedrock", "CreateEvaluationJob"): self.create_evaluation_job,
            ("bedrock", "GetEvaluationJob"): self.get_evaluation_job,
            ("bedrock-runtime", "Converse"): self.converse,
            ("bedrock-runtime", "ApplyGuardrail"): self.apply_guardrail,
            ("bedrock-runtime", "InvokeModel"): self.invoke_model,
            ("lambda", "Invoke"): self.invoke_function,
            ("sfn", "GetExecutionHistory"): self.get_execution_history,
            ("cloudwatch", "GetMetricData"): self.get_metric_data,  # extended statistics only (else moto)
        }

    # -- botocore wiring ------------------------------------------------------
    def capture_params(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context[_PARAMS_KEY] = dict(params)

    def before_call(self, model: Any, context: dict[str, Any], request_signer: Any = None,
                    **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        key = (model.service_model.service_id.hyphenize(), model.name)
        op_name = f"{key[0]}:{key[1]}"
        caller = current_function() or ("states" if _engine_call(request_signer) else "client")
        denied = self.authorizer.check(STATE_MACHINE if caller == "states" else caller, key[0], key[1],
                                       context.get(_PARAMS_KEY, {}))
        if denied is not None:
            code, status = _ACCESS_DENIED.get(key[0], ("AccessDeniedException", 403))
            return AWSResponse(f"https://embedded.local/{op_name}", status, {}, None), {
                "Error": {"Code": code, "Message": denied.message()},
                "ResponseMetadata": {"RequestId": self._request_id(), "HTTPStatusCode": status, "HTTPHeaders": {},
                                     "RetryAttempts": 0}}
        with self._lock:
            self.calls[op_name] = self.calls.get(op_name, 0) + 1
            self.calls_by_caller[(caller, op_name)] = self.calls_by_caller.get((caller, op_name), 0) + 1
            injected = self.fail_next.get(op_name)
            only_for = self.fail_only_for.get(op_name)
            error = injected.pop(0) if injected and (only_for is None or only_for in caller) else None
            if error is not None:
                self.fault_log.append({"at": self.clock.time(), "seq": self.next_seq(), "operation": op_name,
                                       "caller": caller})
        delay = self.slow.get(op_name)
        if delay is not None and (delay[1] is None or delay[1] in caller):
            time.sleep(delay[0])  # a slow dependency: lets a test act while this call is in flight
        if isinstance(error, Exception) and not isinstance(error, BackendError):
            raise error  # a transport failure (timeout): botocore raises it to the caller
        if error is None and key not in self.operations:
            return None
        try:
            if error is not None:
                raise error
            parsed = self.operations[key](context.get(_PARAMS_KEY, {}))
            status = 200
        except NotServed:
            return None  # moto answers this one
        except BackendError as exc:
            parsed = {"Error": {"Code": exc.code, "Message": exc.message}}
            status = exc.status
        parsed.setdefault("ResponseMetadata", {"RequestId": self._request_id(), "HTTPStatusCode": status,
                                               "HTTPHeaders": {}, "RetryAttempts": 0})
        return AWSResponse(f"https://embedded.local/{op_name}", status, {}, None), parsed

    def invoke_function(self, p: dict[str, Any]) -> dict[str, Any]:
        """Lambda Invoke, RequestResponse, of a function the embedded runtime runs (others: moto)."""
        runtime = self.runtime
        name = str(p.get("FunctionName", ""))
        if runtime is None or p.get("InvocationType", "RequestResponse") != "RequestResponse" \
                or not runtime.knows(name):
            raise NotServed
        payload = p.get("Payload", b"")
        if hasattr(payload, "read"):
            payload = payload.read()
        body, error = runtime.invoke(name, payload)
        response: dict[str, Any] = {"StatusCode": 200, "ExecutedVersion": "$LATEST",
                                    "Payload": StreamingBody(io.BytesIO(body), len(body))}
        if error:
            response["FunctionError"] = error
        return response

    def _request_id(self) -> str:
        return f"00000000-0000-4000-8000-{next(self._request_ids):012x}"

    def next_seq(self) -> int:
        """A number that grows with every recorded event: simulated time stands still while code runs."""
        return next(self._sequence)

    def inject_failure(self, operation: str, code: str, message: str = "injected", status: int = 400,
                       times: int = 1, caller: str | None = None) -> None:
        """Make the next ``times`` calls of ``service:Operation`` fail (fault-injection tests).

        ``code="Timeout"`` raises botocore's ReadTimeoutError instead of an error response;
        ``caller`` limits the fault to calls made by embedded functions whose name contains it.
        """
        def make() -> BackendError | Exception:
            if code == "Timeout":
                return ReadTimeoutError(endpoint_url=f"https://{operation.split(':')[0]}.embedded.local")
            return BackendError(code, message, status)

        with self._lock:
            self.fail_next.setdefault(operation, []).extend(make() for _ in range(times))
            if caller is None:
                self.fail_only_for.pop(operation, None)
            else:
                self.fail_only_for[operation] = caller

    def clear_failures(self) -> None:
        with self._lock:
            self.fail_next.clear()
            self.fail_only_for.clear()
            self.slow.clear()


def _engine_call(request_signer: Any) -> bool:
    credentials = getattr(request_signer, "_credentials", None)
    return getattr(credentials, "access_key", None) == _ENGINE_ACCESS_KEY
