"""A release may move only the traffic targets registered for its app (tag genai-cicd:app)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from botocore.exceptions import ClientError

from genai_cicd.aws.app_functions import LambdaAppFunctions
from genai_cicd.errors import ManifestInvalid
from genai_cicd.logic.validate import check_targets
from genai_cicd.models.manifest import parse_manifest
from tests.utils import sample_manifest

CONFIG = SimpleNamespace(appconfig_application_id="flagapp", appconfig_environment_id="flagenv",
                         appconfig_profile_id="flagprofile")


class Clients:
    def __init__(self, function_tags: dict[str, str] | None, group_tags: dict[str, str]) -> None:
        self.function_tags, self.group_tags = function_tags, group_tags
        self.asked: list[str] = []

    def client(self, service: str) -> Any:
        return self

    def get_function(self, FunctionName: str) -> dict[str, Any]:  # noqa: N803 (boto3's names)
        if self.function_tags is None:
            raise ClientError({"Error": {"Code": "ResourceNotFoundException"}}, "GetFunction")
        return {"Configuration": {"FunctionArn": f"arn:aws:lambda:us-east-1:123456789012:function:{FunctionName}"},
                "Tags": self.function_tags}

    def list_tags_for_resource(self, ResourceArn: str) -> dict[str, Any]:  # noqa: N803
        self.asked.append(ResourceArn)
        return {"Tags": [{"Key": k, "Value": v} for k, v in self.group_tags.items()]}


def manifest(mechanism: str, **canary: Any) -> Any:
    data = sample_manifest("good-prompt")
    data["baseline"]["lambda_version"], data["candidate"]["lambda_version"] = "1", "2"
    target = {"function_name": "support-bot-fn", "alias": "live"}
    if mechanism == "codedeploy":
        target = {**target, "application_name": "support-bot", "deployment_group_name": "prod"}
    data["canary"] = {**data["canary"], "mechanism": mechanism, **canary}
    if mechanism != "appconfig_flag":
        data["canary"]["alias" if mechanism == "lambda_alias" else "codedeploy"] = target
    return parse_manifest(data)


def deps(clients: Clients) -> Any:
    # the real adapter over boto3-shaped fakes: the adapter's translation is under test too
    return SimpleNamespace(app_functions=LambdaAppFunctions(clients, clients), config=CONFIG)


MINE = {"genai-cicd:app": "support-bot"}


@pytest.mark.parametrize("mechanism", ["lambda_alias", "codedeploy"])
def test_a_target_registered_for_the_app_is_accepted(mechanism: str) -> None:
    clients = Clients(MINE, MINE)
    check_targets(manifest(mechanism), deps(clients), "m")
    if mechanism == "codedeploy":
        assert clients.asked == ["arn:aws:codedeploy:us-east-1:123456789012:deploymentgroup:support-bot/prod"]


@pytest.mark.parametrize(("function_tags", "group_tags", "says"), [
    ({}, MINE, "function support-bot-fn is registered for no app"),
    ({"genai-cicd:app": "billing"}, MINE, "registered for 'billing', not 'support-bot'"),
    (MINE, {"genai-cicd:app": "billing"}, "CodeDeploy deployment group support-bot/prod is registered for 'billing'"),
    (None, MINE, "ResourceNotFoundException"),
])
def test_a_target_of_another_app_or_of_none_is_refused(function_tags: dict[str, str] | None,
                                                       group_tags: dict[str, str], says: str) -> None:
    with pytest.raises(ManifestInvalid, match=says):
        check_targets(manifest("codedeploy"), deps(Clients(function_tags, group_tags)), "m")


def test_the_flag_mechanism_may_move_only_the_control_planes_own_flag() -> None:
    check_targets(manifest("appconfig_flag"), deps(Clients(None, {})), "m")
    other = manifest("appconfig_flag", appconfig={"application_id": "someone-elses-app"})
    with pytest.raises(ManifestInvalid, match="canary.appconfig.application_id"):
        check_targets(other, deps(Clients(None, {})), "m")
