"""CodeDeploy Lambda deployments, simulated: the deployment group (created in moto) names a predefined
Lambda config; the alias is shifted in moto as the configuration's steps elapse."""

from __future__ import annotations

import json
import re
import uuid
from typing import TYPE_CHECKING, Any

from genai_cicd_local.embedded.lambda_runtime import as_service
from genai_cicd_local.embedded.services.base import BackendError

if TYPE_CHECKING:
    from genai_cicd_local.embedded.clock import SimulatedClock


class CodeDeployService:
    clock: SimulatedClock
    region: str
    codedeploy: dict[str, dict[str, Any]]
    # A CodeDeploy "minute" in simulated seconds (60; a test may shorten it).
    codedeploy_minute_seconds: float

    def _init_codedeploy(self) -> None:
        self.codedeploy, self.codedeploy_minute_seconds = {}, 60.0

    # Simulated: the deployment group (created in moto) names a predefined Lambda config;
    # the alias is shifted in moto as the configuration's steps elapse.
    def _lambda(self) -> Any:
        import boto3

        return boto3.client("lambda", region_name=self.region)

    def create_deployment(self, p: dict[str, Any]) -> dict[str, Any]:
        import boto3

        with as_service():
            group = boto3.client("codedeploy", region_name=self.region).get_deployment_group(
                applicationName=p["applicationName"],
                deploymentGroupName=p["deploymentGroupName"])["deploymentGroupInfo"]
        spec = json.loads(p["revision"]["appSpecContent"]["content"])
        props = next(iter(spec["Resources"][0].values()))["Properties"]
        deployment_id = "d-" + uuid.uuid4().hex[:9].upper()
        self.codedeploy[deployment_id] = {
            "deploymentId": deployment_id, "applicationName": p["applicationName"],
            "deploymentGroupName": p["deploymentGroupName"], "description": p.get("description", ""),
            "deploymentConfigName": group.get("deploymentConfigName", "CodeDeployDefault.LambdaAllAtOnce"),
            "status": "InProgress", "computePlatform": "Lambda", "createTime": self.clock.utc_now(),
            "_props": props, "_started": self.clock.time()}
        self._advance(self.codedeploy[deployment_id])
        return {"deploymentId": deployment_id}

    def _advance(self, d: dict[str, Any]) -> None:
        if d["status"] != "InProgress":
            return
        minutes = (self.clock.time() - d["_started"]) / self.codedeploy_minute_seconds
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
            with as_service():
                self._lambda().update_alias(FunctionName=props["Name"], Name=props["Alias"],
                                            FunctionVersion=props["TargetVersion"],
                                            RoutingConfig={"AdditionalVersionWeights": {}})
            d["status"] = "Succeeded"
        else:
            with as_service():
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
            with as_service():
                self._lambda().update_alias(FunctionName=props["Name"], Name=props["Alias"],
                                            FunctionVersion=props["CurrentVersion"],
                                            RoutingConfig={"AdditionalVersionWeights": {}})
            d["rollbackInfo"] = {"rollbackMessage": "stopped with automatic rollback"}
        d["status"] = "Stopped"
        return {"status": "Succeeded", "statusMessage": "deployment stopped"}
