"""EmbeddedBackend: serves, at the boto3 level, the AWS operations moto lacks.

botocore emits ``before-call.<service-id>.<Operation>`` before sending; a
handler that returns ``(http_response, parsed)`` short-circuits the call,
moto included (docs/EMBEDDED.md). The original keyword arguments are captured one
event earlier (``before-parameter-build``) so each operation reads exactly
what the caller passed. Everything not listed in ``operations`` falls through
to moto untouched.

Served here (all simulated): AppConfig environments, deployment strategies
and deployments; appconfigdata sessions; CodePipeline pipeline state and
approval/job results; Bedrock guardrails and evaluation jobs; bedrock-runtime
Converse and ApplyGuardrail (through SimulatedFoundationModel and
SimulatedGuardrails).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import re
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.exceptions import ReadTimeoutError
from botocore.response import StreamingBody

from genai_cicd.embedded.guardrails import GuardrailRegistry, evaluate
from genai_cicd.embedded.lambda_runtime import current_function
from genai_cicd.embedded.model import ModelError, SimulatedFoundationModel, content_words, profile_for

ACCOUNT = "123456789012"
_PARAMS_KEY = "genai_cicd_params"


class BackendError(Exception):
    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def _stream(data: bytes) -> StreamingBody:
    return StreamingBody(io.BytesIO(data), len(data))


class TokenQuota:
    """A tokens-per-minute quota like Bedrock's: over it, calls are throttled."""

    def __init__(self, tokens_per_minute: int, clock: Callable[[], float] = time.monotonic,
                 start_full: bool = True) -> None:
        self.capacity = tokens_per_minute
        self._tokens = float(tokens_per_minute) if start_full else 0.0
        self._clock = clock
        self._last = clock()
        self._lock = threading.Lock()
        self.throttled = 0

    def take(self, amount: int) -> bool:
        with self._lock:
            now = self._clock()
            self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.capacity / 60.0)
            self._last = now
            if self._tokens < amount:
                self.throttled += 1
                return False
            self._tokens -= amount
            return True


class EmbeddedBackend:
    def __init__(self, region: str, model: SimulatedFoundationModel | None = None) -> None:
        self.region = region
        self.model = model or SimulatedFoundationModel()
        self.guardrails = GuardrailRegistry()
        self.quota: TokenQuota | None = None
        self._lock = threading.RLock()
        self.environments: dict[str, dict[str, Any]] = {}
        self.strategies: dict[str, dict[str, Any]] = {}
        self.deployments: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.sessions: dict[str, dict[str, Any]] = {}
        self.approvals: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.approval_results: list[dict[str, Any]] = []
        self.job_results: list[dict[str, Any]] = []
        self.evaluation_jobs: dict[str, dict[str, Any]] = {}
        self.codedeploy: dict[str, dict[str, Any]] = {}
        # A CodeDeploy "minute" lasts this many seconds locally (Wait states run in real time).
        self.codedeploy_minute_seconds = 1.0
        self.calls: dict[str, int] = {}
        # (calling embedded function or "client", "service:Operation") -> count, for fault-injection tests.
        self.calls_by_caller: dict[tuple[str, str], int] = {}
        self.model_tokens = {"input": 0, "output": 0}
        # Simulated model latency (reported, not slept) per calling function: what the call would have cost
        # that Lambda in wall time on AWS (the benchmarks' Lambda-seconds estimate).
        self.model_latency_ms_by_caller: dict[str, float] = {}
        self.model_spend_usd = 0.0
        self.fail_next: dict[str, list[BackendError | Exception]] = {}
        self.fail_only_for: dict[str, str] = {}
        self.slow: dict[str, tuple[float, str | None]] = {}  # "service:Operation" -> (seconds, caller filter)
        self.fault_log: list[dict[str, Any]] = []  # injected faults that fired: when, what, whose call
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
        }

    # -- botocore wiring ------------------------------------------------------
    def capture_params(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context[_PARAMS_KEY] = dict(params)

    def before_call(self, model: Any, context: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        key = (model.service_model.service_id.hyphenize(), model.name)
        op_name = f"{key[0]}:{key[1]}"
        caller = current_function() or "client"
        with self._lock:
            self.calls[op_name] = self.calls.get(op_name, 0) + 1
            self.calls_by_caller[(caller, op_name)] = self.calls_by_caller.get((caller, op_name), 0) + 1
            injected = self.fail_next.get(op_name)
            only_for = self.fail_only_for.get(op_name)
            error = injected.pop(0) if injected and (only_for is None or only_for in caller) else None
            if error is not None:
                self.fault_log.append({"at": time.time(), "operation": op_name, "caller": caller})
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
        except BackendError as exc:
            parsed = {"Error": {"Code": exc.code, "Message": exc.message}}
            status = exc.status
        parsed.setdefault("ResponseMetadata", {"RequestId": str(uuid.uuid4()), "HTTPStatusCode": status,
                                               "HTTPHeaders": {}, "RetryAttempts": 0})
        return AWSResponse(f"https://embedded.local/{op_name}", status, {}, None), parsed

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

    # -- AppConfig --------------------------------------------------------------
    def _moto_appconfig(self) -> Any:
        from moto.appconfig.models import appconfig_backends

        return appconfig_backends[ACCOUNT][self.region]

    def create_environment(self, p: dict[str, Any]) -> dict[str, Any]:
        env_id = uuid.uuid4().hex[:7]
        env = {"ApplicationId": p["ApplicationId"], "Id": env_id, "Name": p["Name"],
               "Description": p.get("Description", ""), "State": "READY_FOR_DEPLOYMENT", "Monitors": []}
        self.environments[env_id] = env
        return dict(env)

    def get_environment(self, p: dict[str, Any]) -> dict[str, Any]:
        env = self.environments.get(p["EnvironmentId"])
        if env is None:
            raise BackendError("ResourceNotFoundException", "environment not found", 404)
        return dict(env)

    def create_deployment_strategy(self, p: dict[str, Any]) -> dict[str, Any]:
        sid = uuid.uuid4().hex[:7]
        strategy = {"Id": sid, "Name": p["Name"], "DeploymentDurationInMinutes": p["DeploymentDurationInMinutes"],
                    "GrowthFactor": p["GrowthFactor"], "FinalBakeTimeInMinutes": p.get("FinalBakeTimeInMinutes", 0),
                    "GrowthType": p.get("GrowthType", "LINEAR"), "ReplicateTo": p.get("ReplicateTo", "NONE")}
        self.strategies[sid] = strategy
        return dict(strategy)

    def _deployment_state(self, d: dict[str, Any]) -> str:
        if d["State"] in ("ROLLED_BACK", "COMPLETE"):
            return str(d["State"])
        elapsed_min = (time.time() - d["_started"]) / 60
        if elapsed_min < d["DeploymentDurationInMinutes"]:
            return "DEPLOYING"
        if elapsed_min < d["DeploymentDurationInMinutes"] + d["FinalBakeTimeInMinutes"]:
            return "BAKING"
        d["State"] = "COMPLETE"
        return "COMPLETE"

    def _public(self, d: dict[str, Any]) -> dict[str, Any]:
        state = self._deployment_state(d)
        return {k: v for k, v in d.items() if not k.startswith("_")} | {"State": state}

    def start_deployment(self, p: dict[str, Any]) -> dict[str, Any]:
        app, env_id = p["ApplicationId"], p["EnvironmentId"]
        if env_id not in self.environments:
            raise BackendError("ResourceNotFoundException", f"environment {env_id} not found", 404)
        strategy = self.strategies.get(p["DeploymentStrategyId"])
        if strategy is None:
            raise BackendError("ResourceNotFoundException", "deployment strategy not found", 404)
        with self._lock:
            history = self.deployments.setdefault((app, env_id), [])
            if any(self._deployment_state(d) in ("DEPLOYING", "BAKING") for d in history):
                raise BackendError("ConflictException", "a deployment is already in progress")
            version = self._moto_appconfig().get_hosted_configuration_version(
                app, p["ConfigurationProfileId"], int(p["ConfigurationVersion"]))
            content = version.content if isinstance(version.content, bytes) else str(version.content).encode()
            d = {"ApplicationId": app, "EnvironmentId": env_id, "DeploymentStrategyId": strategy["Id"],
                 "ConfigurationProfileId": p["ConfigurationProfileId"], "DeploymentNumber": len(history) + 1,
                 "ConfigurationVersion": str(p["ConfigurationVersion"]), "Description": p.get("Description", ""),
                 "DeploymentDurationInMinutes": strategy["DeploymentDurationInMinutes"],
                 "FinalBakeTimeInMinutes": strategy["FinalBakeTimeInMinutes"], "GrowthFactor": strategy["GrowthFactor"],
                 "State": "DEPLOYING", "PercentageComplete": 100.0,
                 "StartedAt": datetime.now(UTC), "_started": time.time(), "_content": content,
                 "_content_type": version.content_type}
            history.append(d)
            return self._public(d)

    def get_deployment(self, p: dict[str, Any]) -> dict[str, Any]:
        for d in self.deployments.get((p["ApplicationId"], p["EnvironmentId"]), []):
            if d["DeploymentNumber"] == int(p["DeploymentNumber"]):
                return self._public(d)
        raise BackendError("ResourceNotFoundException", "deployment not found", 404)

    # ListDeployments returns DeploymentSummary items (AppConfig API Reference), not whole deployments.
    SUMMARY = ("DeploymentNumber", "ConfigurationName", "ConfigurationVersion", "DeploymentDurationInMinutes",
               "GrowthType", "GrowthFactor", "FinalBakeTimeInMinutes", "State", "PercentageComplete", "StartedAt",
               "CompletedAt", "VersionLabel")

    def list_deployments(self, p: dict[str, Any]) -> dict[str, Any]:
        items = [{k: v for k, v in self._public(d).items() if k in self.SUMMARY}
                 for d in self.deployments.get((p["ApplicationId"], p["EnvironmentId"]), [])]
        return {"Items": list(reversed(items))}

    def stop_deployment(self, p: dict[str, Any]) -> dict[str, Any]:
        for d in self.deployments.get((p["ApplicationId"], p["EnvironmentId"]), []):
            if d["DeploymentNumber"] == int(p["DeploymentNumber"]):
                if self._deployment_state(d) == "COMPLETE":
                    raise BackendError("BadRequestException", "deployment already complete")
                d["State"] = "ROLLED_BACK"
                return self._public(d)
        raise BackendError("ResourceNotFoundException", "deployment not found", 404)

    def _resolve(self, app_ident: str, env_ident: str, profile_ident: str) -> tuple[str, str, str]:
        backend = self._moto_appconfig()
        app = next((a for a in backend.applications.values() if app_ident in (a.id, a.name)), None)
        if app is None:
            raise BackendError("ResourceNotFoundException", "application not found", 404)
        env = next((e for e in self.environments.values()
                    if e["ApplicationId"] == app.id and env_ident in (e["Id"], e["Name"])), None)
        profile = next((c for c in app.config_profiles.values() if profile_ident in (c.id, c.name)), None)
        if env is None or profile is None:
            raise BackendError("ResourceNotFoundException", "environment or profile not found", 404)
        return app.id, env["Id"], profile.id

    def start_configuration_session(self, p: dict[str, Any]) -> dict[str, Any]:
        target = self._resolve(p["ApplicationIdentifier"], p["EnvironmentIdentifier"],
                               p["ConfigurationProfileIdentifier"])
        token = uuid.uuid4().hex
        self.sessions[token] = {"target": target, "seen": None}
        return {"InitialConfigurationToken": token}

    def get_latest_configuration(self, p: dict[str, Any]) -> dict[str, Any]:
        session = self.sessions.pop(p["ConfigurationToken"], None)
        if session is None:
            raise BackendError("BadRequestException", "invalid or used configuration token")
        app, env, profile = session["target"]
        latest = None
        for d in self.deployments.get((app, env), []):
            if d["ConfigurationProfileId"] == profile and self._deployment_state(d) == "COMPLETE":
                latest = d
        body, version, ctype = b"", None, "application/json"
        if latest is not None and latest["DeploymentNumber"] != session["seen"]:
            body, version, ctype = latest["_content"], latest["ConfigurationVersion"], latest["_content_type"]
        next_token = uuid.uuid4().hex
        self.sessions[next_token] = {"target": session["target"],
                                     "seen": latest["DeploymentNumber"] if latest else None}
        response = {"NextPollConfigurationToken": next_token, "NextPollIntervalInSeconds": 15,
                    "ContentType": ctype, "Configuration": _stream(body)}
        if version:
            response["VersionLabel"] = version
        return response

    # -- CodePipeline -------------------------------------------------------------
    def open_approval(self, pipeline: str, stage: str, action: str, execution_id: str) -> str:
        """Simulate a manual-approval action entering InProgress; returns its token."""
        token = str(uuid.uuid4())
        self.approvals[(pipeline, stage, action)] = {"token": token, "status": "InProgress",
                                                     "pipelineExecutionId": execution_id}
        return token

    def get_pipeline_state(self, p: dict[str, Any]) -> dict[str, Any]:
        name = p["name"]
        # GetPipelineState's documented shape: per stage, actionStates[].latestExecution (status,
        # token) and latestExecution (StageExecution: pipelineExecutionId, status).
        stages: dict[str, list[dict[str, Any]]] = {}
        running: dict[str, dict[str, Any]] = {}
        for (pipeline, stage, action), state in self.approvals.items():
            if pipeline == name:
                stages.setdefault(stage, []).append({"actionName": action, "latestExecution": {
                    "status": state["status"], "token": state["token"]}})
                running[stage] = {"pipelineExecutionId": state["pipelineExecutionId"],
                                  "status": "InProgress" if state["status"] == "InProgress" else "Succeeded"}
        if not stages:
            raise BackendError("PipelineNotFoundException", f"pipeline {name} not found")
        return {"pipelineName": name, "stageStates": [{"stageName": s, "actionStates": a, "latestExecution": running[s]}
                                                      for s, a in stages.items()]}

    def put_approval_result(self, p: dict[str, Any]) -> dict[str, Any]:
        key = (p["pipelineName"], p["stageName"], p["actionName"])
        state = self.approvals.get(key)
        if state is None or state["token"] != p["token"] or state["status"] != "InProgress":
            raise BackendError("InvalidApprovalTokenException", "the approval token is not valid")
        state["status"] = "Succeeded" if p["result"]["status"] == "Approved" else "Failed"
        self.approval_results.append({"pipeline": key[0], "stage": key[1], "action": key[2], **p["result"]})
        return {"approvedAt": datetime.now(UTC)}

    def put_job_success_result(self, p: dict[str, Any]) -> dict[str, Any]:
        self.job_results.append({"jobId": p["jobId"], "status": "Succeeded"})
        return {}

    def put_job_failure_result(self, p: dict[str, Any]) -> dict[str, Any]:
        self.job_results.append({"jobId": p["jobId"], "status": "Failed", **p.get("failureDetails", {})})
        return {}

    # -- CodeDeploy (Lambda deployments) -------------------------------------------------
    # Simulated: the deployment group (created in moto) names a predefined Lambda config;
    # the alias is shifted in moto as the configuration's steps elapse.
    def _lambda(self) -> Any:
        import boto3

        return boto3.client("lambda", region_name=self.region)

    def create_deployment(self, p: dict[str, Any]) -> dict[str, Any]:
        import boto3

        group = boto3.client("codedeploy", region_name=self.region).get_deployment_group(
            applicationName=p["applicationName"], deploymentGroupName=p["deploymentGroupName"])["deploymentGroupInfo"]
        spec = json.loads(p["revision"]["appSpecContent"]["content"])
        props = next(iter(spec["Resources"][0].values()))["Properties"]
        deployment_id = "d-" + uuid.uuid4().hex[:9].upper()
        self.codedeploy[deployment_id] = {
            "deploymentId": deployment_id, "applicationName": p["applicationName"],
            "deploymentGroupName": p["deploymentGroupName"], "description": p.get("description", ""),
            "deploymentConfigName": group.get("deploymentConfigName", "CodeDeployDefault.LambdaAllAtOnce"),
            "status": "InProgress", "computePlatform": "Lambda", "createTime": datetime.now(UTC),
            "_props": props, "_started": time.time()}
        self._advance(self.codedeploy[deployment_id])
        return {"deploymentId": deployment_id}

    def _advance(self, d: dict[str, Any]) -> None:
        if d["status"] != "InProgress":
            return
        minutes = (time.time() - d["_started"]) / self.codedeploy_minute_seconds
        name = d["deploymentConfigName"]
        canary = re.search(r"Canary(\d+)Percent(\d+)Minutes", name)
        linear = re.search(r"Linear(\d+)PercentEvery(\d+)Minutes?", name)
        if canary:
            weight = 100.0 if minutes >= int(canary.group(2)) else float(canary.group(1))
        elif linear:
            weight = min(100.0, float(linear.group(1)) * (1 + int(minutes // int(linear.group(2)))))
        else:
            weight = 100.0
        props = d["_props"]
        if weight >= 100.0:
            self._lambda().update_alias(FunctionName=props["Name"], Name=props["Alias"],
                                        FunctionVersion=props["TargetVersion"],
                                        RoutingConfig={"AdditionalVersionWeights": {}})
            d["status"] = "Succeeded"
        else:
            self._lambda().update_alias(FunctionName=props["Name"], Name=props["Alias"],
                                        FunctionVersion=props["CurrentVersion"],
                                        RoutingConfig={"AdditionalVersionWeights": {
                                            props["TargetVersion"]: weight / 100.0}})

    def _public_deployment(self, d: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in d.items() if not k.startswith("_")}

    def get_codedeploy_deployment(self, p: dict[str, Any]) -> dict[str, Any]:
        d = self.codedeploy.get(p["deploymentId"])
        if d is None:
            raise BackendError("DeploymentDoesNotExistException", "deployment not found")
        self._advance(d)
        return {"deploymentInfo": self._public_deployment(d)}

    def list_codedeploy_deployments(self, p: dict[str, Any]) -> dict[str, Any]:
        wanted = set(p.get("includeOnlyStatuses") or [])
        ids = []
        for d in self.codedeploy.values():
            self._advance(d)
            if d["applicationName"] == p.get("applicationName") and \
                    d["deploymentGroupName"] == p.get("deploymentGroupName") and (not wanted or d["status"] in wanted):
                ids.append(d["deploymentId"])
        return {"deployments": ids}

    def stop_codedeploy_deployment(self, p: dict[str, Any]) -> dict[str, Any]:
        d = self.codedeploy.get(p["deploymentId"])
        if d is None:
            raise BackendError("DeploymentDoesNotExistException", "deployment not found")
        self._advance(d)
        if d["status"] != "InProgress":
            raise BackendError("DeploymentAlreadyCompletedException", f"deployment is {d['status']}")
        if p.get("autoRollbackEnabled"):
            props = d["_props"]
            self._lambda().update_alias(FunctionName=props["Name"], Name=props["Alias"],
                                        FunctionVersion=props["CurrentVersion"],
                                        RoutingConfig={"AdditionalVersionWeights": {}})
            d["rollbackInfo"] = {"rollbackMessage": "stopped with automatic rollback"}
        d["status"] = "Stopped"
        return {"status": "Succeeded", "statusMessage": "deployment stopped"}

    # -- Bedrock ------------------------------------------------------------------
    def create_guardrail(self, p: dict[str, Any]) -> dict[str, Any]:
        try:
            g = self.guardrails.create(p)
        except ValueError as exc:
            raise BackendError("ConflictException", str(exc)) from None
        return {"guardrailId": g.guardrail_id, "version": "DRAFT", "createdAt": datetime.now(UTC),
                "guardrailArn": f"arn:aws:bedrock:{self.region}:{ACCOUNT}:guardrail/{g.guardrail_id}"}

    def create_guardrail_version(self, p: dict[str, Any]) -> dict[str, Any]:
        try:
            version = self.guardrails.publish(p["guardrailIdentifier"])
        except KeyError:
            raise BackendError("ResourceNotFoundException", "guardrail not found", 404) from None
        return {"guardrailId": p["guardrailIdentifier"].rsplit("/", 1)[-1], "version": version}

    def get_guardrail(self, p: dict[str, Any]) -> dict[str, Any]:
        try:
            g = self.guardrails.get(p["guardrailIdentifier"])
            config = g.at(p.get("guardrailVersion", "DRAFT"))
        except KeyError:
            raise BackendError("ResourceNotFoundException", "guardrail not found", 404) from None
        return {"name": g.name, "guardrailId": g.guardrail_id, "version": p.get("guardrailVersion", "DRAFT"),
                "status": "READY", "blockedInputMessaging": config.get("blockedInputMessaging", ""),
                "blockedOutputsMessaging": config.get("blockedOutputsMessaging", "")}

    # A simulated evaluation job: InProgress on the first GetEvaluationJob, then
    # Completed with per-record scores written in Bedrock's documented output layout
    # by a simulated judge (token overlap with the reference), so the gate's own S3
    # parsing runs unchanged. Like Bedrock, it refuses a dataset over 1,000 prompts.
    def create_evaluation_job(self, p: dict[str, Any]) -> dict[str, Any]:
        token = p.get("clientRequestToken")
        for job in self.evaluation_jobs.values():
            if token and job["_token"] == token:
                return {"jobArn": job["jobArn"]}
        if any(j["jobName"] == p["jobName"] for j in self.evaluation_jobs.values()):
            raise BackendError("ConflictException", f"evaluation job {p['jobName']} already exists")
        job_id = uuid.uuid4().hex[:12]
        arn = f"arn:aws:bedrock:{self.region}:{ACCOUNT}:evaluation-job/{job_id}"
        self.evaluation_jobs[arn] = {
            "jobName": p["jobName"], "jobArn": arn, "status": "InProgress", "roleArn": p["roleArn"],
            "jobType": "Automated", "applicationType": p.get("applicationType", "ModelEvaluation"),
            "evaluationConfig": p["evaluationConfig"], "inferenceConfig": p["inferenceConfig"],
            "outputDataConfig": p["outputDataConfig"], "creationTime": datetime.now(UTC), "_token": token,
            "_id": job_id, "_polls": 0}
        return {"jobArn": arn}

    def get_evaluation_job(self, p: dict[str, Any]) -> dict[str, Any]:
        job = self.evaluation_jobs.get(p["jobIdentifier"])
        if job is None:
            raise BackendError("ResourceNotFoundException", "evaluation job not found", 404)
        job["_polls"] += 1
        if job["status"] == "InProgress" and job["_polls"] >= 2:
            self._complete_evaluation(job)
        return {k: v for k, v in job.items() if not k.startswith("_")}

    def _complete_evaluation(self, job: dict[str, Any]) -> None:
        import boto3

        from genai_cicd.embedded.model import content_words

        s3 = boto3.client("s3", region_name=self.region)
        out_bucket, _, out_prefix = job["outputDataConfig"]["s3Uri"][5:].partition("/")
        for config in job["evaluationConfig"]["automated"]["datasetMetricConfigs"]:
            src_bucket, _, src_key = config["dataset"]["datasetLocation"]["s3Uri"][5:].partition("/")
            lines = [line for line in s3.get_object(Bucket=src_bucket, Key=src_key)["Body"].read().decode()
                     .splitlines() if line.strip()]
            if len(lines) > 1000:
                job["status"] = "Failed"
                job["failureMessages"] = [f"dataset {config['dataset']['name']} has {len(lines)} prompts; "
                                          "the limit is 1000"]
                return
            out = []
            for line in lines:
                if not line.strip():
                    continue
                record = json.loads(line)
                response = record["modelResponses"][0]["response"]
                ref, got = set(content_words(record.get("referenceResponse", ""))), set(content_words(response))
                recall = len(ref & got) / len(ref) if ref else 0.0
                precision = len(ref & got) / len(got) if got else 0.0
                scores = []
                for metric in config["metricNames"]:
                    value = recall if metric.endswith("Completeness") else (
                        2 * precision * recall / (precision + recall) if precision + recall else 0.0)
                    scores.append({"metricName": metric, "result": round(value, 3)})
                # The documented layout (Bedrock user guide, "Understand how the results of your model
                # evaluation job are saved in Amazon S3"): the scores, the dataset line as
                # inputRecord, and the responses beside it; tests/contract holds the page's shape.
                responses = record.pop("modelResponses")
                out.append(json.dumps({"automatedEvaluationResult": {"scores": scores}, "inputRecord": record,
                                       "modelResponses": responses}))
            model = job["inferenceConfig"]["models"][0]["precomputedInferenceSource"]["inferenceSourceIdentifier"]
            key = (f"{out_prefix}{job['jobName']}/{job['_id']}/models/{model}/taskTypes/{config['taskType']}/"
                   f"datasets/{config['dataset']['name']}/{uuid.uuid4().hex[:8]}_output.jsonl")
            s3.put_object(Bucket=out_bucket, Key=key, Body=("\n".join(out) + "\n").encode())
        job["status"] = "Completed"

    def _guardrail_config(self, identifier: str, version: str) -> dict[str, Any]:
        try:
            return self.guardrails.get(identifier).at(version)
        except KeyError:
            raise BackendError("ResourceNotFoundException", f"guardrail {identifier}:{version} not found",
                               404) from None

    def apply_guardrail(self, p: dict[str, Any]) -> dict[str, Any]:
        config = self._guardrail_config(p["guardrailIdentifier"], p["guardrailVersion"])
        text = "\n".join(block.get("text", {}).get("text", "") for block in p.get("content", []))
        result = evaluate(config, text, p["source"])
        return {"usage": {"topicPolicyUnits": 1, "contentPolicyUnits": 1, "wordPolicyUnits": 1,
                          "sensitiveInformationPolicyUnits": 1, "sensitiveInformationPolicyFreeUnits": 0,
                          "contextualGroundingPolicyUnits": 0},
                "action": "GUARDRAIL_INTERVENED" if result.intervened else "NONE",
                "outputs": [{"text": result.output}] if result.intervened else [],
                "assessments": [result.detail] if result.intervened else []}

    def converse(self, p: dict[str, Any]) -> dict[str, Any]:
        model_id = p["modelId"]
        system = "\n".join(block.get("text", "") for block in p.get("system", []))
        blocks = [block for m in p.get("messages", []) if m.get("role") == "user" for block in m.get("content", [])]
        user = "\n\n".join(b["text"] if "text" in b else b["guardContent"]["text"]["text"]
                           for b in blocks if "text" in b or "guardContent" in b)
        # With guardContent blocks present only they are guarded (Bedrock's rule).
        guarded = [b["guardContent"]["text"]["text"] for b in blocks if "guardContent" in b]
        guarded_text = "\n".join(guarded) if guarded else user
        inference = p.get("inferenceConfig", {})
        tag = json.dumps(p.get("requestMetadata", {}), sort_keys=True)
        guard = p.get("guardrailConfig")
        config = self._guardrail_config(guard["guardrailIdentifier"], guard["guardrailVersion"]) if guard else None
        if self.quota is not None:
            estimate = int(len((system + " " + user).split()) * 1.33) + int(inference.get("maxTokens", 512) // 4)
            if not self.quota.take(estimate):
                raise BackendError("ThrottlingException", "Too many tokens, please wait before trying again.", 429)
        if config is not None:
            checked = evaluate(config, guarded_text, "INPUT")
            if checked.intervened:
                return self._converse_response(checked.output, 0, 40.0, "guardrail_intervened", system, user)
        try:
            completion = self.model.complete(model_id, system, user, float(inference.get("temperature", 0.7)),
                                             int(inference.get("maxTokens", 512)), tag)
        except ModelError as exc:
            raise BackendError("ModelErrorException", str(exc), 424) from None
        text, stop = completion.text, completion.stop_reason
        with self._lock:
            self.model_tokens["input"] += completion.input_tokens
            self.model_tokens["output"] += completion.output_tokens
            caller = current_function() or "client"
            self.model_latency_ms_by_caller[caller] = (self.model_latency_ms_by_caller.get(caller, 0.0)
                                                       + completion.latency_ms)
            self.model_spend_usd += self.price(model_id, completion.input_tokens, completion.output_tokens)
        if config is not None:
            checked = evaluate(config, text, "OUTPUT")
            if checked.intervened:
                text, stop = checked.output, "guardrail_intervened"
        return self._converse_response(text, completion.output_tokens, completion.latency_ms, stop, system, user,
                                       completion.input_tokens)

    @staticmethod
    def _converse_response(text: str, out_tokens: int, latency: float, stop: str, system: str, user: str,
                           in_tokens: int | None = None) -> dict[str, Any]:
        in_tokens = in_tokens if in_tokens is not None else int(len((system + " " + user).split()) * 1.33)
        return {"output": {"message": {"role": "assistant", "content": [{"text": text}]}}, "stopReason": stop,
                "usage": {"inputTokens": in_tokens, "outputTokens": out_tokens,
                          "totalTokens": in_tokens + out_tokens},
                "metrics": {"latencyMs": int(latency)}}

    def invoke_model(self, p: dict[str, Any]) -> dict[str, Any]:
        """Titan text embeddings, simulated: hashed content words and bigrams, L2-normalised."""
        if not str(p["modelId"]).startswith("amazon.titan-embed"):
            raise BackendError("ValidationException",
                               f"the embedded backend serves InvokeModel for Titan embeddings only, not {p['modelId']}")
        body = p["body"]
        request = json.loads(body.decode() if isinstance(body, bytes) else body)
        dims = int(request.get("dimensions", 1024))
        words = content_words(request["inputText"])
        vector = [0.0] * dims
        for feature in words + [f"{a}_{b}" for a, b in zip(words, words[1:], strict=False)]:
            digest = hashlib.sha256(feature.encode()).digest()
            vector[int.from_bytes(digest[:4], "big") % dims] += 1.0 if digest[4] % 2 else -1.0
        norm = math.sqrt(sum(v * v for v in vector)) or 1.0
        payload = {"embedding": [v / norm for v in vector], "inputTextTokenCount": len(words)}
        return {"body": _stream(json.dumps(payload).encode()), "contentType": "application/json"}

    def price(self, model_id: str, input_tokens: int, output_tokens: int) -> float:
        profile = profile_for(model_id)
        return input_tokens / 1000 * profile.usd_per_1k_input + output_tokens / 1000 * profile.usd_per_1k_output
