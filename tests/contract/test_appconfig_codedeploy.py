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
from genai_cicd.errors import TrafficShiftError
from genai_cicd_local.embedded.aws_session import EmbeddedAWS
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
                               release_id="r1", app="app", wait_seconds=0.05, poll_seconds=0.01)
    if status in ("Failed", "Stopped"):
        with pytest.raises(TrafficShiftError, match=status):
            adapter.set_weight(10.0)
    elif status == "Succeeded":
        with pytest.raises(TrafficShiftError, match="routes 0.0%"):  # succeeded, yet the alias never moved
            adapter.set_weight(100.0)
    else:
        with pytest.raises(TrafficShiftError, match=f"still {status}"):  # waits, then gives up: never a pass
            adapter.set_weight(10.0)


def test_appconfig_deployments_answer_with_the_documented_members(aws: EmbeddedAWS) -> None:  # noqa: F811
    """ListDeployments returns DeploymentSummary items: the flag adapter may rely on nothing else."""
    from genai_cicd.aws.traffic import AppConfigFlag

    out = aws.control_plane.outputs
    flag = AppConfigFlag(aws.client("appconfig"), application_id=out["FlagApplicationId"],
                         environment_id=out["FlagEnvironmentId"], profile_id=out["FlagProfileId"],
                         strategy_id=aws.control_plane.physical["FlagDeploymentStrategy"],
                         baseline={"prompt": "a", "model_id": "m"}, candidate={"prompt": "b", "model_id": "m"},
                         release_id="contract-flag")
    flag.set_weight(10.0)
    appconfig = aws.client("appconfig")
    items = appconfig.list_deployments(ApplicationId=out["FlagApplicationId"],
                                       EnvironmentId=out["FlagEnvironmentId"])["Items"]
    assert items and all(set(i) <= set(DOCUMENTED["appconfig.ListDeployments.Items"]) for i in items), items[0]
    assert all(i["State"] in DOCUMENTED["appconfig.Deployment.State"] for i in items)
    one = appconfig.get_deployment(ApplicationId=out["FlagApplicationId"], EnvironmentId=out["FlagEnvironmentId"],
                                   DeploymentNumber=items[0]["DeploymentNumber"])
    assert set(one) - {"ResponseMetadata"} <= set(DOCUMENTED["appconfig.Deployment"])
    flag.rollback()
    assert flag.current_weight() == 0.0


def test_codedeploy_answers_with_the_documented_members(aws: EmbeddedAWS) -> None:  # noqa: F811
    import time as clock

    lam, cd = aws.client("lambda"), aws.client("codedeploy")
    name = aws.function_name("SupportBotFunction")
    v1 = lam.publish_version(FunctionName=name)["Version"]
    lam.update_function_configuration(FunctionName=name, Description=f"contract {clock.time()}")
    v2 = lam.publish_version(FunctionName=name)["Version"]
    lam.create_alias(FunctionName=name, Name="contract", FunctionVersion=v1)
    cd.create_application(applicationName="contract-app", computePlatform="Lambda")
    cd.create_deployment_group(applicationName="contract-app", deploymentGroupName="g",
                               deploymentConfigName="CodeDeployDefault.LambdaCanary10Percent5Minutes",
                               serviceRoleArn="arn:aws:iam::123456789012:role/codedeploy")
    adapter = CodeDeployLambda(cd, lam, application="contract-app", deployment_group="g", function_name=name,
                               alias="contract", baseline_version=v1, candidate_version=v2, release_id="contract-cd",
                               app="contract-app")
    adapter.set_weight(10.0)
    listed = cd.list_deployments(applicationName="contract-app", deploymentGroupName="g")
    assert set(listed) - {"ResponseMetadata"} <= set(DOCUMENTED["codedeploy.ListDeployments"])
    info = cd.get_deployment(deploymentId=listed["deployments"][0])["deploymentInfo"]
    documented = set(DOCUMENTED["codedeploy.DeploymentInfo"])
    assert set(info) <= documented, set(info) - documented
    stopped = cd.stop_deployment(deploymentId=info["deploymentId"], autoRollbackEnabled=True)
    assert set(stopped) - {"ResponseMetadata"} <= set(DOCUMENTED["codedeploy.StopDeployment"]["members"])
    assert stopped["status"] in DOCUMENTED["codedeploy.StopDeployment"]["status"]
