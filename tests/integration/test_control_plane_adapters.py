"""Lock, ledger, notifications and traffic shifting against the embedded AWS."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest

from genai_cicd.aws.ledger import Ledger
from genai_cicd.aws.lock import ReleaseLock
from genai_cicd.aws.traffic import AppConfigFlag, CodeDeployLambda, LambdaAlias
from genai_cicd.deps import Deps
from genai_cicd.errors import ReleaseLocked
from genai_cicd.logic.notify import notify
from genai_cicd.models.ledger import verify_chain
from genai_cicd.models.tasks import NotifyInput, ReleaseContext
from genai_cicd_local.embedded.aws_session import EmbeddedAWS
from tests.utils import event


def table(aws: EmbeddedAWS) -> str:
    return aws.control_plane.physical["ControlPlaneTable"]


def test_given_a_held_lock_when_another_release_asks_then_refused_until_it_expires(aws: EmbeddedAWS) -> None:
    now = [1000.0]
    lock = ReleaseLock(aws.client("dynamodb"), table(aws), ttl_seconds=60, clock=lambda: now[0])
    lock.acquire("app-x", "prod", "r1")
    lock.acquire("app-x", "prod", "r1")  # the holder retrying is fine
    with pytest.raises(ReleaseLocked, match="locked by release r1"):
        lock.acquire("app-x", "prod", "r2")
    assert not lock.release("app-x", "prod", "r2")  # never steal
    now[0] += 61  # the holder died; its lease expired
    lock.acquire("app-x", "prod", "r2")
    assert lock.holder("app-x", "prod") == "r2"


def test_given_transitions_when_notified_then_sns_carries_no_customer_text_and_ledger_verifies(
        aws: EmbeddedAWS) -> None:
    sqs, sns = aws.client("sqs"), aws.client("sns")
    url = sqs.create_queue(QueueName="adapter-test")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=aws.control_plane.outputs["ReleaseTopicArn"], Protocol="sqs", Endpoint=arn)
    release = ReleaseContext.model_validate({**event("notify", "started")["release"], "release_id": "ledger-1"})
    deps = Deps.from_environment()
    notify(NotifyInput(release=release, event="started"), deps)
    notify(NotifyInput(release=release, event="blocked", detail={
        "reasons": ["rouge_l regression"], "prompt": "SECRET PROMPT TEXT", "output": "model said X"}), deps)
    # A failure's cause as Step Functions passes it: the Lambda runtime's JSON with the stack trace.
    cause = json.dumps({"errorType": "TrafficShiftError", "errorMessage": "deployment ROLLED_BACK",
                        "stackTrace": ['  File "/var/task/app.py", line 9, in lambda_handler\n']})
    notify(NotifyInput(release=release, event="failed", detail={"error": "TrafficShiftError", "cause": cause}), deps)
    bodies = [json.loads(json.loads(m["Body"])["Message"])
              for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]]
    assert {b["event"] for b in bodies} == {"started", "blocked", "failed"}
    assert "SECRET PROMPT TEXT" not in json.dumps(bodies) and "model said" not in json.dumps(bodies)
    assert "stackTrace" not in json.dumps(bodies) and "/var/task" not in json.dumps(bodies)
    ledger = Ledger(aws.client("dynamodb"), table(aws))
    entries = ledger.entries("ledger-1")
    assert [e.event for e in entries] == ["started", "blocked", "failed"] and verify_chain(entries) == []
    assert entries[2].detail["detail"]["cause"] == "TrafficShiftError: deployment ROLLED_BACK"
    # Tamper with the stored record: the chain no longer verifies.
    aws.client("dynamodb").update_item(
        TableName=table(aws), Key={"pk": {"S": "RELEASE#ledger-1"}, "sk": {"S": "ENTRY#000001"}},
        UpdateExpression="SET actor = :a", ExpressionAttributeValues={":a": {"S": "mallory"}})
    assert verify_chain(ledger.entries("ledger-1"))


def flag(aws: EmbeddedAWS) -> AppConfigFlag:
    out = aws.control_plane.outputs
    return AppConfigFlag(aws.client("appconfig"), application_id=out["FlagApplicationId"],
                         environment_id=out["FlagEnvironmentId"], profile_id=out["FlagProfileId"],
                         strategy_id=aws.control_plane.physical["FlagDeploymentStrategy"],
                         baseline={"prompt": "a", "model_id": "m"}, candidate={"prompt": "b", "model_id": "m"},
                         release_id="traffic-test")


def test_given_appconfig_flag_when_ramped_and_rolled_back_then_read_back_matches(aws: EmbeddedAWS) -> None:
    shifter = flag(aws)
    shifter.set_weight(5.0)
    assert shifter.current_weight() == 5.0
    shifter.set_weight(25.0)
    receipt = shifter.rollback()
    assert shifter.current_weight() == 0.0 and receipt.weight == 0.0


def test_given_a_deployment_in_progress_when_rolling_back_then_it_is_stopped_first(aws: EmbeddedAWS) -> None:
    out = aws.control_plane.outputs
    ac = aws.client("appconfig")
    slow = ac.create_deployment_strategy(Name="slow", DeploymentDurationInMinutes=10, FinalBakeTimeInMinutes=0,
                                         GrowthFactor=10, ReplicateTo="NONE")["Id"]
    version = ac.create_hosted_configuration_version(
        ApplicationId=out["FlagApplicationId"], ConfigurationProfileId=out["FlagProfileId"],
        Content=json.dumps({"candidate_weight": 50}).encode(), ContentType="application/json")["VersionNumber"]
    ac.start_deployment(ApplicationId=out["FlagApplicationId"], EnvironmentId=out["FlagEnvironmentId"],
                        DeploymentStrategyId=slow, ConfigurationProfileId=out["FlagProfileId"],
                        ConfigurationVersion=str(version))
    receipt = flag(aws).rollback()
    assert receipt.stopped_deployment is not None
    assert flag(aws).current_weight() == 0.0


def test_given_lambda_alias_when_ramped_and_rolled_back_then_routing_matches(aws: EmbeddedAWS) -> None:
    lam = aws.client("lambda")
    name = aws.function_name("SupportBotFunction")
    v1 = lam.publish_version(FunctionName=name)["Version"]
    lam.update_function_configuration(FunctionName=name, Description=f"changed {time.time()}")
    v2 = lam.publish_version(FunctionName=name)["Version"]
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion=v1)
    alias = LambdaAlias(lam, function_name=name, alias="live", baseline_version=v1, candidate_version=v2)
    alias.set_weight(5.0)
    assert alias.current_weight() == pytest.approx(5.0)
    alias.set_weight(100.0)
    assert lam.get_alias(FunctionName=name, Name="live")["FunctionVersion"] == v2
    alias.rollback()
    assert alias.current_weight() == 0.0
    assert lam.get_alias(FunctionName=name, Name="live")["FunctionVersion"] == v1


def codedeploy_setup(aws: EmbeddedAWS, config: str, owner: str = "support-bot") -> tuple[str, str, str]:
    lam, cd = aws.client("lambda"), aws.client("codedeploy")
    name = aws.function_name("SupportBotFunction")
    v1 = lam.publish_version(FunctionName=name)["Version"]
    lam.update_function_configuration(FunctionName=name, Description=f"cd {time.time()}")
    v2 = lam.publish_version(FunctionName=name)["Version"]
    alias = f"cd-{v2}"
    lam.create_alias(FunctionName=name, Name=alias, FunctionVersion=v1)
    app = f"app-{v2}"
    cd.create_application(applicationName=app, computePlatform="Lambda")
    cd.create_deployment_group(applicationName=app, deploymentGroupName="live", deploymentConfigName=config,
                               serviceRoleArn="arn:aws:iam::123456789012:role/codedeploy",
                               deploymentStyle={"deploymentType": "BLUE_GREEN",
                                                "deploymentOption": "WITH_TRAFFIC_CONTROL"},
                               tags=[{"Key": "genai-cicd:app", "Value": owner}])
    return app, alias, f"{v1}:{v2}"


def codedeploy_shifter(aws: EmbeddedAWS, config: str, release_id: str,
                       owner: str = "support-bot") -> CodeDeployLambda:
    """The CodeDeploy adapter of a release of app support-bot, over a group registered for ``owner``."""
    app, alias, versions = codedeploy_setup(aws, config, owner=owner)
    v1, v2 = versions.split(":")
    return CodeDeployLambda(aws.client("codedeploy"), aws.client("lambda"), application=app,
                            deployment_group="live", function_name=aws.function_name("SupportBotFunction"),
                            alias=alias, baseline_version=v1, candidate_version=v2, release_id=release_id,
                            app="support-bot", poll_seconds=0.05)


def test_given_codedeploy_canary_when_stopped_then_rolled_back_and_verified_on_the_alias(aws: EmbeddedAWS) -> None:
    aws.backend.codedeploy_minute_seconds = 60.0  # keep it at the canary step during the test
    shifter = codedeploy_shifter(aws, "CodeDeployDefault.LambdaCanary10Percent5Minutes", "cd-release-1")
    receipt = shifter.set_weight(5.0)
    assert receipt.weight == pytest.approx(10.0)  # CodeDeploy's own first step
    assert shifter.set_weight(25.0).deployment_id == receipt.deployment_id  # never a second deployment
    rolled = shifter.rollback()
    assert rolled.stopped_deployment == receipt.deployment_id and shifter.current_weight() == 0.0
    info = aws.client("codedeploy").get_deployment(deploymentId=receipt.deployment_id)["deploymentInfo"]
    assert info["status"] == "Stopped"


def test_given_a_group_registered_for_another_app_when_rolling_back_then_nothing_is_stopped(aws: EmbeddedAWS) -> None:
    """IAM cannot scope StopDeployment (it supports no resource type): the adapter checks the tag itself."""
    from genai_cicd.errors import RollbackVerificationFailed

    aws.backend.codedeploy_minute_seconds = 60.0
    shifter = codedeploy_shifter(aws, "CodeDeployDefault.LambdaCanary10Percent5Minutes", "cd-release-3",
                                 owner="billing")
    receipt = shifter.set_weight(5.0)
    with pytest.raises(RollbackVerificationFailed, match="registered for 'billing'"):
        shifter.rollback()
    info = aws.client("codedeploy").get_deployment(deploymentId=receipt.deployment_id)["deploymentInfo"]
    assert info["status"] == "InProgress"


def test_given_codedeploy_finished_when_promoting_and_then_rolling_back_then_alias_returns(aws: EmbeddedAWS) -> None:
    aws.backend.codedeploy_minute_seconds = 0.05
    shifter = codedeploy_shifter(aws, "CodeDeployDefault.LambdaLinear10PercentEvery1Minute", "cd-release-2")
    assert shifter.set_weight(100.0).status == "Succeeded" and shifter.current_weight() == 100.0
    assert shifter.rollback().stopped_deployment is None  # nothing to stop: the alias is reset instead
    assert shifter.current_weight() == 0.0


def test_given_a_maximum_canary_duration_when_exceeded_then_the_judge_rolls_back(aws: EmbeddedAWS) -> None:
    from genai_cicd.logic.canary import analyze_canary
    from genai_cicd.models.tasks import CanaryState

    release = ReleaseContext.model_validate({**event("analyze_canary", "first-interval")["release"],
                                             "release_id": "evt-maxdur",
                                             "manifest_uri": "releases/evt-maxdur/manifest.json"})
    s3 = aws.client("s3")
    manifest = json.loads(s3.get_object(Bucket=aws.bucket, Key="releases/evt-release/manifest.json")["Body"].read())
    manifest["canary"]["max_duration_seconds"] = 60
    s3.put_object(Bucket=aws.bucket, Key="releases/evt-maxdur/manifest.json", Body=json.dumps(manifest).encode())
    now = aws.clock.utc_now()
    for window_start in (now - timedelta(minutes=10), now):  # settled periods to judge, and none yet
        canary = CanaryState.model_validate({**event("analyze_canary", "first-interval")["canary"],
                                             "started_at": (now - timedelta(hours=1)).isoformat(),
                                             "window_start": window_start.isoformat()})
        state = analyze_canary(release, canary, Deps.from_environment())
        assert state.action == "rollback" and state.outcome == "not_shown_safe", window_start
        assert state.last_reasons[0] == "not shown safe within the maximum canary duration of 60 s"


def test_gate_runs_are_counted_per_candidate_content_and_a_retry_keeps_its_number(aws: EmbeddedAWS) -> None:
    from genai_cicd.aws.looks import GateLooks
    from genai_cicd.gates.noninferiority import alpha_for_run

    now = [100.0]
    looks = GateLooks(aws.client("dynamodb"), table(aws), clock=lambda: now[0])
    assert looks.record("app-l", "prod", "sha256:cand", "prompt_regression", "r1") == 1
    now[0] += 1
    assert looks.record("app-l", "prod", "sha256:cand", "prompt_regression", "r1") == 1  # a Lambda retry
    assert looks.record("app-l", "prod", "sha256:cand", "prompt_regression", "r2") == 2  # a re-run, new name
    now[0] += 1
    assert looks.record("app-l", "prod", "sha256:cand", "prompt_regression", "r3") == 3
    assert looks.record("app-l", "prod", "sha256:other", "prompt_regression", "r4") == 1  # another candidate
    assert looks.record("app-l", "staging", "sha256:cand", "prompt_regression", "r5") == 1
    # Three runs of one candidate together spend less than the gate's alpha.
    assert sum(alpha_for_run(0.05, r) for r in (1, 2, 3)) < 0.05
