"""Traffic shifting behind one interface (README, "Deploy to AWS"; docs/FORMATS.md, canary.mechanism).

- ``AppConfigFlag``: the flag holds both variants and the candidate weight;
  each change is a new hosted configuration version deployed with
  StartDeployment. The app picks a variant per request, so the weight is a
  share of requests (AppConfig's own percentage is of polling targets).
- ``LambdaAlias``: UpdateAlias with RoutingConfig AdditionalVersionWeights.
- ``CodeDeployLambda``: CreateDeployment with an AppSpec for the alias; CodeDeploy
  ramps by its deployment configuration; rollback is StopDeployment with
  autoRollbackEnabled, then verified on the alias. StopDeployment supports no resource type or
  condition key in IAM (Service Authorization Reference), so IAM cannot limit it to registered groups:
  the adapter checks the group's registration tag before it stops anything.

Every shift is read back; a mismatch raises TrafficShiftError.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from genai_cicd import clock as clock_seam
from genai_cicd.errors import RollbackVerificationFailed, TrafficShiftError
from genai_cicd.models.traffic import AliasReceipt, CodeDeployReceipt, FlagReceipt
from genai_cicd.ports import APP_TAG

_IN_PROGRESS = {"BAKING", "VALIDATING", "DEPLOYING", "ROLLING_BACK"}


class AppConfigFlag:
    def __init__(self, appconfig: Any, *, application_id: str, environment_id: str, profile_id: str,
                 strategy_id: str, baseline: dict[str, Any], candidate: dict[str, Any], release_id: str,
                 wait_seconds: float = 120.0, poll_seconds: float = 0.2, capture: dict[str, Any] | None = None,
                 shadow_capture: dict[str, Any] | None = None, session_groups: int | None = None) -> None:
        self._ac = appconfig
        self._groups = session_groups
        self._app = application_id
        self._env = environment_id
        self._profile = profile_id
        self._strategy = strategy_id
        self._baseline = baseline
        self._candidate = candidate
        self._release = release_id
        self._wait = wait_seconds
        self._poll = poll_seconds
        self._capture = capture
        self._shadow_capture = shadow_capture  # the capture block while shadowing (the shadow plan's store)

    def _deployments(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self._ac.list_deployments(
            ApplicationId=self._app, EnvironmentId=self._env
        ).get("Items", [])
        return sorted(items, key=lambda d: d["DeploymentNumber"], reverse=True)

    def _in_progress(self) -> dict[str, Any] | None:
        for d in self._deployments():
            if d.get("State") in _IN_PROGRESS:
                return d
        return None

    def _wait_until_idle(self) -> None:
        deadline = clock_seam.now() + self._wait
        while (busy := self._in_progress()) is not None:
            if clock_seam.now() > deadline:
                raise TrafficShiftError(f"AppConfig deployment {busy['DeploymentNumber']} still {busy['State']}")
            clock_seam.sleep(self._poll)

    def _document(self, weight: float, shadow_share: float = 0.0) -> dict[str, Any]:
        doc: dict[str, Any] = {"release_id": self._release, "candidate_weight": weight,
                               "baseline": self._baseline, "candidate": self._candidate}
        if self._capture is not None and weight > 0:
            doc["capture"] = self._capture  # genai_cicd_app captures answers only while a canary runs
        if self._groups is not None and weight > 0:
            doc["session_groups"] = self._groups  # and reports counts per session group only then
        if shadow_share > 0:
            doc["shadow"] = {"share": shadow_share}  # any later document without it switches shadowing off
            doc["capture"] = self._shadow_capture or {"share": 0.0, "store": "hashes", "retention_days": 1}
        return doc

    def _deploy(self, weight: float, description: str, shadow_share: float = 0.0) -> FlagReceipt:
        self._wait_until_idle()
        version = self._ac.create_hosted_configuration_version(
            ApplicationId=self._app, ConfigurationProfileId=self._profile,
            Content=json.dumps(self._document(weight, shadow_share)).encode("utf-8"), ContentType="application/json",
            Description=description[:1024],
        )["VersionNumber"]
        deployment = self._ac.start_deployment(
            ApplicationId=self._app, EnvironmentId=self._env, DeploymentStrategyId=self._strategy,
            ConfigurationProfileId=self._profile, ConfigurationVersion=str(version), Description=description[:1024],
        )
        self._wait_until_idle()
        return FlagReceipt(configuration_version=version, deployment_number=deployment["DeploymentNumber"],
                           weight=weight)

    def set_weight(self, weight: float) -> FlagReceipt:
        receipt = self._deploy(weight, f"genai-cicd {self._release}: candidate weight {weight}%")
        actual = self.current_weight()
        if abs(actual - weight) > 1e-9:
            raise TrafficShiftError(f"read-back weight {actual} != requested {weight}")
        return receipt

    def set_shadow(self, share: float) -> FlagReceipt:
        """Shadow evaluation: no user on the candidate (weight 0), and ``share`` of the live requests also
        answered by it off the user's path (0 switches shadowing off). Read back like a weight."""
        receipt = self._deploy(0.0, f"genai-cicd {self._release}: shadow share {share:g}", shadow_share=share)
        doc = self._current_document()
        actual = doc.get("shadow", {}).get("share", 0.0) if isinstance(doc.get("shadow"), dict) else 0.0
        if float(doc.get("candidate_weight", 0.0)) != 0.0 or abs(float(actual) - share) > 1e-12:
            raise TrafficShiftError(f"read-back shadow share {actual} (weight {doc.get('candidate_weight')}) "
                                    f"!= requested {share} at weight 0")
        return receipt

    def _current_document(self) -> dict[str, Any]:
        for d in self._deployments():
            if d.get("State") == "COMPLETE":
                content = self._ac.get_hosted_configuration_version(
                    ApplicationId=self._app, ConfigurationProfileId=self._profile,
                    VersionNumber=int(d["ConfigurationVersion"]),
                )["Content"].read()
                doc = json.loads(content)
                return doc if isinstance(doc, dict) else {}
        return {}

    def current_weight(self) -> float:
        return float(self._current_document().get("candidate_weight", 0.0))

    def rollback(self) -> FlagReceipt:
        busy = self._in_progress()
        if busy is not None:
            self._ac.stop_deployment(ApplicationId=self._app, EnvironmentId=self._env,
                                     DeploymentNumber=busy["DeploymentNumber"])
        receipt = self._deploy(0.0, f"genai-cicd {self._release}: rollback to baseline")
        if self.current_weight() != 0.0:
            raise RollbackVerificationFailed("candidate weight is not 0 after rollback")
        return receipt.model_copy(update={"stopped_deployment": busy["DeploymentNumber"] if busy else None})


class LambdaAlias:
    def __init__(self, lambda_client: Any, *, function_name: str, alias: str, baseline_version: str,
                 candidate_version: str) -> None:
        self._lambda = lambda_client
        self._fn = function_name
        self._alias = alias
        self._baseline = baseline_version
        self._candidate = candidate_version

    def set_weight(self, weight: float) -> AliasReceipt:
        if weight >= 100.0:
            self._lambda.update_alias(FunctionName=self._fn, Name=self._alias, FunctionVersion=self._candidate,
                                      RoutingConfig={"AdditionalVersionWeights": {}})
        else:
            self._lambda.update_alias(
                FunctionName=self._fn, Name=self._alias, FunctionVersion=self._baseline,
                RoutingConfig={"AdditionalVersionWeights": {self._candidate: round(weight / 100.0, 4)}},
            )
        actual = self.current_weight()
        if abs(actual - weight) > 0.01:
            raise TrafficShiftError(f"alias read-back weight {actual} != requested {weight}")
        return AliasReceipt(weight=weight)  # read back above, within the rounding of the routing weight

    def current_weight(self) -> float:
        alias = self._lambda.get_alias(FunctionName=self._fn, Name=self._alias)
        if alias["FunctionVersion"] == self._candidate:
            return 100.0
        weights = (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
        return float(weights.get(self._candidate, 0.0)) * 100.0

    def rollback(self) -> AliasReceipt:
        self._lambda.update_alias(FunctionName=self._fn, Name=self._alias, FunctionVersion=self._baseline,
                                  RoutingConfig={"AdditionalVersionWeights": {}})
        if self.current_weight() != 0.0:
            raise RollbackVerificationFailed("alias still routes to the candidate after rollback")
        return AliasReceipt(weight=0.0)


_ACTIVE = ["Created", "Queued", "InProgress", "Baking", "Ready"]


class CodeDeployLambda:
    """CodeDeploy owns the ramp (its deployment configuration sets the steps and timing);
    genai-cicd watches it, judges the canary, and stops it with automatic rollback."""

    def __init__(self, codedeploy: Any, lambda_client: Any, *, application: str, deployment_group: str,
                 function_name: str, alias: str, baseline_version: str, candidate_version: str, release_id: str,
                 app: str, wait_seconds: float = 600.0, poll_seconds: float = 0.5) -> None:
        self._cd = codedeploy
        self._registered_app = app
        self._alias = LambdaAlias(lambda_client, function_name=function_name, alias=alias,
                                  baseline_version=baseline_version, candidate_version=candidate_version)
        self._lambda = lambda_client
        self._app = application
        self._group = deployment_group
        self._fn = function_name
        self._alias_name = alias
        self._baseline = baseline_version
        self._candidate = candidate_version
        self._release = release_id
        self._wait = wait_seconds
        self._poll = poll_seconds

    def _appspec(self) -> str:
        return json.dumps({"version": 0.0, "Resources": [{"release": {"Type": "AWS::Lambda::Function", "Properties": {
            "Name": self._fn, "Alias": self._alias_name, "CurrentVersion": self._baseline,
            "TargetVersion": self._candidate}}}]})

    def _deployment(self, statuses: list[str] | None = None) -> dict[str, Any] | None:
        kwargs: dict[str, Any] = {"applicationName": self._app, "deploymentGroupName": self._group}
        if statuses:
            kwargs["includeOnlyStatuses"] = statuses
        for deployment_id in self._cd.list_deployments(**kwargs).get("deployments", []):
            info: dict[str, Any] = self._cd.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
            if self._release in (info.get("description") or ""):
                return info
        return None

    def _start(self) -> dict[str, Any]:
        existing = self._deployment(_ACTIVE)
        if existing is not None:
            return existing
        content = self._appspec()
        deployment_id = self._cd.create_deployment(
            applicationName=self._app, deploymentGroupName=self._group,
            revision={"revisionType": "AppSpecContent", "appSpecContent": {
                "content": content, "sha256": hashlib.sha256(content.encode()).hexdigest()}},
            description=f"genai-cicd {self._release}")["deploymentId"]
        return dict(self._cd.get_deployment(deploymentId=deployment_id)["deploymentInfo"])

    def set_weight(self, weight: float) -> CodeDeployReceipt:
        deployment = self._start()
        deadline = clock_seam.now() + self._wait
        while True:
            info = self._cd.get_deployment(deploymentId=deployment["deploymentId"])["deploymentInfo"]
            current = self.current_weight()
            if info["status"] in ("Failed", "Stopped"):
                raise TrafficShiftError(f"CodeDeploy deployment {info['deploymentId']} is {info['status']}")
            # Early steps: traffic has reached the candidate; full rollout: CodeDeploy finished.
            if (weight < 100.0 and current > 0.0) or info["status"] == "Succeeded":
                break
            if clock_seam.now() > deadline:
                raise TrafficShiftError(f"CodeDeploy deployment {info['deploymentId']} still {info['status']}")
            clock_seam.sleep(self._poll)
        if weight >= 100.0 and current != 100.0:
            raise TrafficShiftError(f"deployment succeeded but the alias routes {current}% to the candidate")
        return CodeDeployReceipt(deployment_id=info["deploymentId"], status=info["status"], weight=current)

    def current_weight(self) -> float:
        return self._alias.current_weight()

    def _check_registered(self, deployment: dict[str, Any]) -> None:
        """The deployment's group must be registered for the release's app before we stop it."""
        alias_arn = self._lambda.get_alias(FunctionName=self._fn, Name=self._alias_name)["AliasArn"]
        region, account = alias_arn.split(":")[3:5]
        group = f"{deployment['applicationName']}/{deployment['deploymentGroupName']}"
        arn = f"arn:aws:codedeploy:{region}:{account}:deploymentgroup:{group}"
        tags = {t["Key"]: t["Value"] for t in self._cd.list_tags_for_resource(ResourceArn=arn).get("Tags") or []}
        if tags.get(APP_TAG) != self._registered_app:
            raise RollbackVerificationFailed(
                f"CodeDeploy deployment group {group} is registered for {tags.get(APP_TAG)!r}, not "
                f"{self._registered_app!r} (tag {APP_TAG}): not stopping its deployment")

    def rollback(self) -> CodeDeployReceipt:
        active = self._deployment(_ACTIVE)
        stopped = None
        if active is not None:
            self._check_registered(active)
            self._cd.stop_deployment(deploymentId=active["deploymentId"], autoRollbackEnabled=True)
            stopped = active["deploymentId"]
        if self.current_weight() != 0.0:
            # Already succeeded (nothing left to stop), or CodeDeploy left routing behind.
            self._alias.rollback()
        if self.current_weight() != 0.0:
            raise RollbackVerificationFailed("alias still routes to the candidate after rollback")
        return CodeDeployReceipt(stopped_deployment=stopped, weight=0.0)
