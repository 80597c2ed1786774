"""AppConfig deployments and appconfigdata sessions, simulated (moto keeps the applications, profiles
and hosted configuration versions)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from genai_cicd_local.embedded.services.base import ACCOUNT, BackendError, stream

if TYPE_CHECKING:
    from genai_cicd_local.embedded.clock import SimulatedClock


class AppConfigService:
    clock: SimulatedClock
    next_seq: Callable[[], int]
    region: str
    _lock: threading.RLock
    environments: dict[str, dict[str, Any]]
    strategies: dict[str, dict[str, Any]]
    deployments: dict[tuple[str, str], list[dict[str, Any]]]
    sessions: dict[str, dict[str, Any]]

    def _init_appconfig(self) -> None:
        self.environments, self.strategies, self.deployments, self.sessions = {}, {}, {}, {}

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
        elapsed_min = (self.clock.time() - d["_started"]) / 60
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
                 "StartedAt": self.clock.utc_now(), "_started": self.clock.time(), "_seq": self.next_seq(),
                 "_content": content,
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
                    "ContentType": ctype, "Configuration": stream(body)}
        if version:
            response["VersionLabel"] = version
        return response
