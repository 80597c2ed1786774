"""IAM as the embedded AWS evaluates it (local/genai_cicd_local/embedded/iam.py): the Service Authorization
Reference decides which resource types and condition keys a request carries, and the identity-policy logic
decides. Each test plants a statement AWS would not match (or would) and checks the decision."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from genai_cicd_local.embedded.iam import (
    Request,
    RequestBuilder,
    Statement,
    evaluate,
    template_statements,
    unsupported,
    unused_grants,
)
from genai_cicd_local.embedded.provision import load_template
from tests.utils import ROOT

GROUP_ARN = "arn:aws:codedeploy:us-east-1:123456789012:deploymentgroup:*"
TAGGED = {"StringLike": {"aws:ResourceTag/genai-cicd:app": "?*"}}


class Lookups:
    """What the request builder asks the embedded backend: tags and partition keys of the resources."""

    def __init__(self, tags: dict[str, str] | None = None) -> None:
        self.tags = tags or {}

    def tags_of(self, arn: str) -> dict[str, str]:
        return self.tags

    def leading_keys(self, operation: str, p: dict[str, Any]) -> list[str] | None:
        key = (p.get("Item") or p.get("Key") or {}).get("pk")
        return [next(iter(key.values()))] if key else None

    def codedeploy_deployment_group(self, deployment_id: str) -> dict[str, str]:
        return {"applicationName": "support-bot", "deploymentGroupName": "prod"}


def requests(service: str, operation: str, params: dict[str, Any], tags: dict[str, str] | None = None
             ) -> list[Request]:
    return RequestBuilder("us-east-1", Lookups(tags)).build(service, operation, params)


def allowed(statements: list[Statement], service: str, operation: str, params: dict[str, Any],
            tags: dict[str, str] | None = None) -> bool:
    return all(evaluate("role", statements, r).allowed for r in requests(service, operation, params, tags))


def allow(actions: list[str], resources: list[str], condition: dict[str, Any] | None = None) -> Statement:
    return Statement("Allow", actions, resources, condition or {}, source="test")


def test_stop_deployment_scoped_to_a_group_with_a_tag_condition_is_denied_and_star_is_allowed() -> None:
    """The template of main 4a3eaf3: StopDeployment supports no resource type and no condition key."""
    before = [allow(["codedeploy:StopDeployment"], [GROUP_ARN], TAGGED)]
    after = [allow(["codedeploy:StopDeployment"], ["*"])]
    call = ("codedeploy", "StopDeployment", {"deploymentId": "d-1", "autoRollbackEnabled": True})
    assert not allowed(before, *call, tags={"genai-cicd:app": "support-bot"})
    assert allowed(after, *call)
    assert any("supports no resource type" in p for p in unsupported(before[0]))
    assert any("carries no condition key aws:ResourceTag/genai-cicd:app" in p for p in unsupported(before[0]))
    assert unsupported(after[0]) == []


def test_a_tag_condition_holds_only_for_a_tagged_resource_of_a_type_that_carries_tags() -> None:
    statement = [allow(["lambda:UpdateAlias"], ["arn:aws:lambda:us-east-1:123456789012:function:*"], TAGGED)]
    call = ("lambda", "UpdateAlias", {"FunctionName": "support-bot", "Name": "live"})
    assert allowed(statement, *call, tags={"genai-cicd:app": "support-bot"})
    assert not allowed(statement, *call, tags={})  # an absent key fails StringLike


def test_an_action_with_several_required_resource_types_must_be_allowed_on_each() -> None:
    """StartDeployment acts on the application, environment, profile and strategy at once."""
    params = {"ApplicationId": "app1", "EnvironmentId": "env1", "ConfigurationProfileId": "prof1",
              "DeploymentStrategyId": "strat1", "ConfigurationVersion": "1"}
    app_only = [allow(["appconfig:StartDeployment"], ["arn:aws:appconfig:us-east-1:123456789012:application/app1*"])]
    both = [*app_only, allow(["appconfig:StartDeployment"],
                             ["arn:aws:appconfig:us-east-1:123456789012:deploymentstrategy/strat1"])]
    assert not allowed(app_only, "appconfig", "StartDeployment", params)
    assert allowed(both, "appconfig", "StartDeployment", params)


def test_leading_keys_for_all_values_limits_a_function_to_its_own_items() -> None:
    table = "arn:aws:dynamodb:us-east-1:123456789012:table/t"
    own_items = {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["LOOKS#*"]}}
    statement = [allow(["dynamodb:PutItem"], [table], own_items)]
    assert allowed(statement, "dynamodb", "PutItem", {"TableName": "t", "Item": {"pk": {"S": "LOOKS#r1"}}})
    assert not allowed(statement, "dynamodb", "PutItem", {"TableName": "t", "Item": {"pk": {"S": "LOCK#a"}}})


def test_an_explicit_deny_wins_and_a_wildcard_never_spans_an_arn_segment() -> None:
    table = "arn:aws:dynamodb:us-east-1:123456789012:table/t"
    call = ("dynamodb", "GetItem", {"TableName": "t", "Key": {"pk": {"S": "x"}}})
    assert allowed([allow(["dynamodb:*"], [table])], *call)
    assert not allowed([allow(["dynamodb:*"], [table]), Statement("Deny", ["dynamodb:GetItem"], ["*"])], *call)
    # "*" in the region segment matches one segment, not "us-east-1:123456789012"
    assert not allowed([allow(["dynamodb:GetItem"], ["arn:aws:dynamodb:*:table/t"])], *call)
    assert allowed([allow(["dynamodb:GetItem"], ["arn:aws:dynamodb:*:*:table/t"])], *call)


def test_converse_is_invoke_model_on_the_model_it_names_and_a_guardrail_needs_apply_guardrail() -> None:
    models = allow(["bedrock:InvokeModel"], ["arn:aws:bedrock:*::foundation-model/*"])
    call = ("bedrock-runtime", "Converse", {"modelId": "amazon.nova-pro-v1:0",
                                            "guardrailConfig": {"guardrailIdentifier": "gr1", "guardrailVersion": "1"}})
    assert not allowed([models], *call)
    assert allowed([models, allow(["bedrock:ApplyGuardrail"],
                                  ["arn:aws:bedrock:us-east-1:123456789012:guardrail/*"])], *call)
    profile = ("bedrock-runtime", "Converse", {"modelId": "us.amazon.nova-pro-v1:0"})
    assert not allowed([models], *profile)  # a cross-region inference profile is another resource type


def test_put_approval_result_is_limited_to_the_gate_action() -> None:
    gate = [allow(["codepipeline:PutApprovalResult"], ["arn:aws:codepipeline:us-east-1:123456789012:*/*/GenAIGate"])]
    ours = {"pipelineName": "p", "stageName": "Gate", "actionName": "GenAIGate", "token": "t", "result": {}}
    assert allowed(gate, "codepipeline", "PutApprovalResult", ours)
    assert not allowed(gate, "codepipeline", "PutApprovalResult", {**ours, "actionName": "ProdApproval"})


@pytest.mark.parametrize("path", ["template.yaml", "examples/support_bot/template.yaml",
                                  "examples/pipeline/pipeline.yaml"])
def test_every_statement_of_the_three_templates_is_one_aws_can_match(path: str) -> None:
    statements = template_statements(load_template(ROOT / path), path)
    assert statements
    problems = [f"{st.source}: {p}" for st in statements for p in unsupported(st)]
    assert problems == []


def test_the_static_check_finds_the_stop_deployment_statements_of_4a3eaf3(tmp_path: Path) -> None:
    old = (ROOT / "template.yaml").read_text().replace(
        '''              Action: [codedeploy:StopDeployment]
              Resource: "*"''',
        '''              Action: [codedeploy:StopDeployment]
              Resource: !Sub "arn:${AWS::Partition}:codedeploy:${AWS::Region}:${AWS::AccountId}:deploymentgroup:*"
              Condition: { StringLike: { "aws:ResourceTag/genai-cicd:app": "?*" } }''')
    (tmp_path / "t.yaml").write_text(old)
    problems = [p for st in template_statements(load_template(tmp_path / "t.yaml"), "t") for p in unsupported(st)]
    assert any("StopDeployment supports no resource type" in p for p in problems)


def test_unused_grants_are_the_actions_no_run_used_per_role() -> None:
    export = {"roles": {"r": [{"source": "stack FnA policy 1 (statement 1) statement 1",
                               "actions": ["s3:GetObject", "s3:PutObject"]}]},
              "used": [["r", "stack FnA policy 1 (statement 1) statement 1", "s3:GetObject"]]}
    assert unused_grants([export]) == ["FnA: s3:PutObject"]


def test_the_authorizer_remembers_a_decision_only_for_the_same_request_and_never_across_tags() -> None:
    """Decisions are remembered per role and request (the demo's hot path); a key that left out the condition
    values, or a remembered decision for a request that reads tags, would let a later call through."""
    from genai_cicd_local.embedded.iam import Authorizer

    lookups = Lookups(tags={"genai-cicd:app": "support-bot"})
    authorizer = Authorizer("us-east-1", backend=None)
    authorizer.builder = RequestBuilder("us-east-1", lookups)
    table = "arn:aws:dynamodb:us-east-1:123456789012:table/t"
    authorizer.add_role("Fn", "role/Fn", [
        allow(["dynamodb:PutItem"], [table], {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["LOOKS#*"]}}),
        allow(["codedeploy:GetDeploymentGroup"], [GROUP_ARN], TAGGED)])
    own = {"TableName": "t", "Item": {"pk": {"S": "LOOKS#r1"}}}
    other = {"TableName": "t", "Item": {"pk": {"S": "LOCK#a"}}}
    assert authorizer.check("Fn", "dynamodb", "PutItem", own) is None
    assert authorizer.check("Fn", "dynamodb", "PutItem", own) is None
    assert authorizer.check("Fn", "dynamodb", "PutItem", other) is not None
    group = {"applicationName": "support-bot", "deploymentGroupName": "prod"}
    assert authorizer.check("Fn", "codedeploy", "GetDeploymentGroup", group) is None
    lookups.tags = {}  # the tag is removed: the same call is denied now
    assert authorizer.check("Fn", "codedeploy", "GetDeploymentGroup", group) is not None
    # A request on an untagged resource (remembered): the condition values are part of what is remembered.
    model = "arn:aws:bedrock:us-east-1::foundation-model/m"
    authorizer.add_role("Fn", "role/Fn", [allow(["bedrock:InvokeModel"], [model],
                                                {"StringEquals": {"aws:SecureTransport": "true"}})])
    secure = Request("bedrock:InvokeModel", [model], {"aws:securetransport": ["true"]})
    plain = Request("bedrock:InvokeModel", [model], {"aws:securetransport": ["false"]})
    assert authorizer._evaluate(authorizer.roles["Fn"], secure).allowed
    assert not authorizer._evaluate(authorizer.roles["Fn"], plain).allowed


def test_an_upload_with_tags_needs_put_object_tagging_too() -> None:
    """The captures and the shadow pairs page carry an expiry tag: without s3:PutObjectTagging AWS refuses
    the PutObject, so the embedded AWS must too (a planted missing grant is caught)."""
    put = {"Bucket": "artifacts", "Key": "releases/r1/r1-shadow-pairs.html", "Body": b"x"}
    only_put = [allow(["s3:PutObject"], ["arn:aws:s3:::artifacts/*"])]
    assert allowed(only_put, "s3", "PutObject", put)
    assert not allowed(only_put, "s3", "PutObject", {**put, "Tagging": "genai-cicd%3Aexpire-days=7"})
    both = [*only_put, allow(["s3:PutObjectTagging"], ["arn:aws:s3:::artifacts/releases/*/*-shadow-pairs.html"])]
    assert allowed(both, "s3", "PutObject", {**put, "Tagging": "genai-cicd%3Aexpire-days=7"})
