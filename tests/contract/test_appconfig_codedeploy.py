"""AppConfig Data and CodeDeploy responses as their API references document them.

The embedded backend answers appconfigdata with the documented members only; the CodeDeploy
adapter handles every documented deployment status (fail on Failed/Stopped, done on Succeeded,
keep waiting on the rest), so a status the simulator never produces is still handled.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from genai_cicd.aws.traffic import CodeDeployLambda
from genai_cicd.embedded.aws_session import EmbeddedAWS
from genai_cicd.errors import TrafficShiftError
from tests.stack import aws  # noqa: F401

DOCUMENTED: dict[str, Any] = json.loads((Path(__file__).parent / "aws_apis" / "responses.json").read_text())


def test_appconfigdata_answers_with_the_documented_members(aws: EmbeddedAWS) -> None:  # noqa: F811
    out = aws.control_plane.outputs
    client = aws.client("appconfigdata")
    session = client.start_configuration_session(
        ApplicationIdentifier=out["FlagApplicationId"], EnvironmentIdentifier=out["FlagEnvironmentId"],
        ConfigurationProfileIdentifier=out["FlagProfileId"])
    assert set(session) - {"ResponseMetadata"} == set(DOCUMENTED["appconfigdata.StartConfigurationSession"])
    latest = client.get_latest_configuration(ConfigurationToken=session["InitialConfigurationToken"])
    members = set(latest) - {"ResponseMetadata"}
    assert members <= set(DOCUMENTED["appconfigdata.GetLatestConfiguration"])
    assert {"NextPollConfigurationToken", "NextPollIntervalInSeconds", "Configuration"} <= members
    assert isinstance(latest["NextPollIntervalInSeconds"], int)


class OneStatus:
    """A CodeDeploy client whose deployment stays in one documented status."""

    def __init__(self, status: str) -> None:
        self.status = status

    def list_deployments(self, **kwargs: Any) -> dict[str, Any]:
        return {"deployments": ["d-1"]}

    def get_deployment(self, deploymentId: str) -> dict[str, Any]:  # noqa: N803 (boto3's name)
        return {"deploymentInfo": {"deploymentId": deploymentId, "status": self.status,
                                   "description": "genai-cicd r1"}}


class Alias:
    def get_alias(self, **kwargs: Any) -> dict[str, Any]:
        return {"FunctionVersion": "1", "RoutingConfig": {"AdditionalVersionWeights": {}}}


@pytest.mark.parametrize("status", DOCUMENTED["codedeploy.GetDeployment.deploymentInfo.status"])
def test_the_codedeploy_adapter_handles_every_documented_status(status: str) -> None:
    adapter = CodeDeployLambda(OneStatus(status), Alias(), application="app", deployment_group="live",
                               function_name="f", alias="live", baseline_version="1", candidate_version="2",
                               release_id="r1", wait_seconds=0.05, poll_seconds=0.01)
    if status in ("Failed", "Stopped"):
        with pytest.raises(TrafficShiftError, match=status):
            adapter.set_weight(10.0)
    elif status == "Succeeded":
        with pytest.raises(TrafficShiftError, match="routes 0.0%"):  # succeeded, yet the alias never moved
            adapter.set_weight(100.0)
    else:
        with pytest.raises(TrafficShiftError, match=f"still {status}"):  # waits, then gives up: never a pass
            adapter.set_weight(10.0)
