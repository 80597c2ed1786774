"""A rollback that cannot complete is escalated and recorded; transitions reach the project's event bus."""

from __future__ import annotations

import json
import threading
import time

from genai_cicd.aws.ledger import Ledger
from genai_cicd.aws.lock import ReleaseLock
from genai_cicd_local.embedded.aws_session import EmbeddedAWS
from genai_cicd_local.runner import LocalReleaseRunner
from tests.utils import SAMPLE


def test_given_a_rollback_that_keeps_failing_then_failed_rollback_is_escalated_recorded_and_lock_kept(
        aws: EmbeddedAWS, runner: LocalReleaseRunner) -> None:
    # The release sits in its first bake (the clock is held) until AppConfig is broken: however fast
    # the machine, the rollback meets the fault.
    hold = aws.clock.hold()
    hold.__enter__()

    def break_appconfig_once_canary_runs() -> None:
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and runner.flag_weight() == 0:
                time.sleep(0.05)
            aws.backend.inject_failure("appconfig:StartDeployment", "InternalServerException", "injected",
                                       500, times=1000)
        finally:
            hold.__exit__(None, None, None)

    saboteur = threading.Thread(target=break_appconfig_once_canary_runs, daemon=True)
    saboteur.start()
    try:
        result = runner.run(SAMPLE / "manifests" / "slow-model.yaml", name="e2e-failed-rollback")
    finally:
        saboteur.join()
        aws.backend.fail_next.pop("appconfig:StartDeployment", None)
    assert result["error"] == "FailedRollback", result
    assert any("ROLLBACK FAILED" in s for s in result["notification_subjects"])
    table = aws.control_plane.physical["ControlPlaneTable"]
    events = [e.event for e in Ledger(aws.client("dynamodb"), table).entries("e2e-failed-rollback")]
    assert events[-1] == "failed_rollback"
    lock = ReleaseLock(aws.client("dynamodb"), table, 600)
    assert lock.holder("support-bot", "prod") == "e2e-failed-rollback"  # no new release until a human looks
    lock.release("support-bot", "prod", "e2e-failed-rollback")


def test_given_a_subscriber_on_the_release_bus_when_a_release_runs_then_every_transition_arrives(
        aws: EmbeddedAWS, runner: LocalReleaseRunner) -> None:
    events, sqs = aws.client("events"), aws.client("sqs")
    bus = aws.control_plane.outputs["ReleaseEventBusName"]
    url = sqs.create_queue(QueueName="bus-subscriber")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="all-releases", EventBusName=bus, EventPattern=json.dumps({"source": ["genai-cicd"]}))
    events.put_targets(Rule="all-releases", EventBusName=bus, Targets=[{"Id": "q", "Arn": arn}])
    result = runner.run(SAMPLE / "manifests" / "injection-regression.yaml", name="e2e-bus")
    received = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        received += [json.loads(m["Body"]) for m in batch]
        for m in batch:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    kinds = [e["detail-type"] for e in received if e["detail"].get("release_id") == "e2e-bus"]
    assert kinds == ["GenAI Release started", "GenAI Release blocked"]
    assert result["notifications"] == len(kinds)


def test_given_codedeploy_mechanism_when_the_canary_has_no_data_then_deployment_is_stopped_and_alias_restored(
        aws: EmbeddedAWS, runner: LocalReleaseRunner, tmp_path: object) -> None:
    from pathlib import Path

    from tests.utils import manifest_file

    lam, cd = aws.client("lambda"), aws.client("codedeploy")
    fn = aws.function_name("SupportBotFunction")
    v1 = lam.publish_version(FunctionName=fn)["Version"]
    lam.update_function_configuration(FunctionName=fn, Description="candidate code")
    v2 = lam.publish_version(FunctionName=fn)["Version"]
    lam.create_alias(FunctionName=fn, Name="live", FunctionVersion=v1)
    cd.create_application(applicationName="support-bot", computePlatform="Lambda")
    cd.create_deployment_group(applicationName="support-bot", deploymentGroupName="prod",
                               deploymentConfigName="CodeDeployDefault.LambdaCanary10Percent30Minutes",
                               serviceRoleArn="arn:aws:iam::123456789012:role/codedeploy",
                               tags=[{"Key": "genai-cicd:app", "Value": "support-bot"}])  # registered
    aws.backend.codedeploy_minute_seconds = 60.0
    data = yaml_load(manifest_file(Path(str(tmp_path)), "good-prompt"))
    data["change"]["kinds"] = ["code"]
    data["gates"] = {"injection_suite": data["gates"]["injection_suite"]}
    for arm, version in (("baseline", v1), ("candidate", v2)):
        data[arm]["lambda_version"] = version
    data["candidate"]["prompt"] = data["baseline"]["prompt"]
    data["canary"] = {"mechanism": "codedeploy", "bake_seconds": 1, "metric_period_seconds": 1,
                      "max_intervals_per_step": 2, "min_canary_requests_per_step": 10,
                      "codedeploy": {"application_name": "support-bot", "deployment_group_name": "prod",
                                     "function_name": fn, "alias": "live"}}
    path = Path(str(tmp_path)) / "codedeploy.yaml"
    path.write_text(__import__("yaml").safe_dump(data))
    result = runner.run(path, name="e2e-codedeploy")
    assert result["outcome"] == "rolled_back", result
    alias = lam.get_alias(FunctionName=fn, Name="live")
    assert alias["FunctionVersion"] == v1 and not (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights")
    [deployment] = [d for d in aws.backend.codedeploy.values() if "e2e-codedeploy" in d["description"]]
    assert deployment["status"] == "Stopped"


def yaml_load(path: object) -> dict:
    import yaml

    return yaml.safe_load(open(str(path)).read())  # noqa: SIM115
