"""What leaves the control plane: logs carry no prompts, answers or tokens; messages carry links, not text;
every release's ledger is complete and tamper-evident."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from genai_cicd.aws import table_keys
from genai_cicd.aws.control_table import DynamoApprovals
from genai_cicd.aws.executions import StepFunctionsExecutions
from genai_cicd.aws.ledger import Ledger
from genai_cicd.logic.approval import decide_approval
from genai_cicd.logic.notify import ALLOWED_DETAIL
from genai_cicd.models.ledger import audit
from genai_cicd_local.embedded.aws_session import EmbeddedAWS
from genai_cicd_local.runner import LocalReleaseRunner
from tests.stack import wait_for
from tests.utils import QUICK_CANARY, SAMPLE, manifest_file

RELEASES = ["sec-promoted", "sec-blocked", "sec-approved", "sec-live"]


def sensitive_texts() -> list[str]:
    """Questions, reference answers, attacks and prompt templates: none may appear in logs or messages."""
    texts = []
    for name in ("golden.jsonl", "injection.jsonl", "guardrail_suite.jsonl", "traffic-teams.jsonl"):
        for line in (SAMPLE / "data" / name).read_text().splitlines():
            case = json.loads(line)
            texts += [v for k, v in case.items() if k in ("prompt", "referenceResponse", "text", "attack", "question")
                      and isinstance(v, str)]
    for prompt in (SAMPLE / "prompts").glob("*.txt"):
        texts += [line for line in prompt.read_text().splitlines() if len(line) >= 30]
    return [t for t in texts if len(t) >= 20]


def subscribe(aws: EmbeddedAWS) -> dict[str, str]:
    """A queue on the SNS topic and one on the release event bus: what subscribers receive."""
    sqs, sns, events = aws.client("sqs"), aws.client("sns"), aws.client("events")
    urls = {}
    for name in ("sns", "bus"):
        urls[name] = sqs.create_queue(QueueName=f"security-{name}")["QueueUrl"]
    arn = {n: sqs.get_queue_attributes(QueueUrl=u, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
           for n, u in urls.items()}
    sns.subscribe(TopicArn=aws.control_plane.outputs["ReleaseTopicArn"], Protocol="sqs", Endpoint=arn["sns"])
    bus = aws.control_plane.outputs["ReleaseEventBusName"]
    events.put_rule(Name="security-audit", EventBusName=bus, EventPattern=json.dumps({"source": ["genai-cicd"]}))
    events.put_targets(Rule="security-audit", EventBusName=bus, Targets=[{"Id": "q", "Arn": arn["bus"]}])
    return urls


@pytest.fixture(scope="module")
def runs(aws: EmbeddedAWS, runner: LocalReleaseRunner, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("m")
    table = aws.control_plane.physical["ControlPlaneTable"]
    queues = subscribe(aws)
    fast = {**QUICK_CANARY, "steps": [50]}
    results = {"sec-promoted": runner.run(manifest_file(tmp, "good-prompt", canary=fast), name="sec-promoted"),
               "sec-blocked": runner.run(manifest_file(tmp, "injection-regression"), name="sec-blocked")}
    tokens: list[str] = []

    def approver() -> None:
        ddb = aws.client("dynamodb")
        key = table_keys.approval("sec-approved")
        wait_for(lambda: "Item" in ddb.get_item(TableName=table, Key=key))
        tokens.append(json.dumps(ddb.get_item(TableName=table, Key=key)["Item"]))
        decide_approval("sec-approved", True, "lead@example.com", "ok", approvals=DynamoApprovals(ddb, table),
                        executions=StepFunctionsExecutions(aws.client("stepfunctions")))

    thread = threading.Thread(target=approver, daemon=True)
    thread.start()
    path = manifest_file(tmp, "good-prompt", gates={"prompt_regression": None, "guardrail_suite": None},
                         approval={"required": True, "timeout_seconds": 120}, canary=fast)
    results["sec-approved"] = runner.run(path, name="sec-approved")
    thread.join()
    # Live answers captured by the app and scored by the control plane (online quality).
    results["sec-live"] = runner.run(manifest_file(tmp, "live-quality-regression"), name="sec-live",
                                     traffic_file="traffic-teams.jsonl")
    results["_tokens"] = tokens
    results["_queues"] = queues
    assert [results[r]["outcome"] for r in RELEASES] == ["promoted", "blocked", "promoted", "rolled_back"], results
    return results


def test_no_prompt_answer_attack_or_task_token_reaches_the_logs(aws: EmbeddedAWS, runs: dict[str, Any]) -> None:
    lines = [entry["line"] for entry in aws.logs if "SupportBot" not in entry["function"]]
    assert len(lines) > 30  # the control plane did log
    token_item = json.loads(runs["_tokens"][0])
    token = next(v["S"] for k, v in token_item.items() if "token" in k.lower() and "S" in v)
    secrets = [*sensitive_texts(), token]
    leaked = [s[:60] for s in secrets if any(s in line for line in lines)]
    assert not leaked, leaked


def test_captured_answers_stay_in_their_encrypted_expiring_objects(aws: EmbeddedAWS, runs: dict[str, Any]) -> None:
    """The app's own logs, the control plane's logs and the scores file never carry what was captured."""
    s3 = aws.client("s3")
    keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=aws.bucket, Prefix="releases/sec-live/samples/") for o in page.get("Contents", [])]
    assert len(keys) > 20
    captured: set[str] = set()
    for key in keys[:40]:
        head = s3.head_object(Bucket=aws.bucket, Key=key)
        assert head["ServerSideEncryption"] == "aws:kms"
        tags = {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=aws.bucket, Key=key)["TagSet"]}
        assert tags == {"genai-cicd:expire-days": "1"}  # the manifest's retention_days
        record = json.loads(s3.get_object(Bucket=aws.bucket, Key=key)["Body"].read())
        captured |= {record["request"], record["answer"]}
    rules = s3.get_bucket_lifecycle_configuration(Bucket=aws.bucket)["Rules"]
    assert any(r["Filter"].get("Tag") == {"Key": "genai-cicd:expire-days", "Value": "1"}
               and r["Expiration"]["Days"] == 1 for r in rules)
    texts = [t for t in captured if len(t) >= 20]
    assert texts
    lines = [entry["line"] for entry in aws.logs]  # the app's logs included
    assert not [t[:60] for t in texts if any(t in line for line in lines)]
    scores = [o["Key"] for o in s3.list_objects_v2(Bucket=aws.bucket, Prefix="releases/sec-live/canary/")["Contents"]]
    bodies = [s3.get_object(Bucket=aws.bucket, Key=k)["Body"].read().decode() for k in scores]
    assert not [t[:60] for t in texts if any(t in b for b in bodies)]
    ledger = Ledger(aws.client("dynamodb"), aws.control_plane.physical["ControlPlaneTable"]).entries("sec-live")
    assert not [t[:60] for t in texts if t in json.dumps([e.detail for e in ledger])]


def drain(aws: EmbeddedAWS, url: str) -> list[dict[str, Any]]:
    sqs, out = aws.client("sqs"), []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        out += [json.loads(m["Body"]) for m in batch]
        for m in batch:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return out


def test_sns_and_eventbridge_bodies_carry_ids_verdicts_and_links_never_raw_text(
        aws: EmbeddedAWS, runs: dict[str, Any]) -> None:
    sns_bodies = [json.loads(envelope["Message"]) for envelope in drain(aws, runs["_queues"]["sns"])]
    bus_bodies = [event["detail"] for event in drain(aws, runs["_queues"]["bus"])]
    assert len(sns_bodies) >= 8 and len(bus_bodies) == len(sns_bodies)
    texts = sensitive_texts()
    for body in sns_bodies + bus_bodies:
        assert set(body["detail"]) <= ALLOWED_DETAIL, sorted(body["detail"])
        if "release_id" in body and body["release_id"] in RELEASES:
            assert body["evidence"].startswith("s3://") and body["manifest_uri"].startswith("s3://")
        serialized = json.dumps(body)
        assert not [t[:40] for t in texts if t in serialized]


def test_every_release_has_a_complete_verifying_ledger_who_what_when_evidence(
        aws: EmbeddedAWS, runs: dict[str, Any]) -> None:
    ledger = Ledger(aws.client("dynamodb"), aws.control_plane.physical["ControlPlaneTable"])
    for release in RELEASES:
        entries = ledger.entries(release)
        assert not audit(entries, finished=True), (release, audit(entries, finished=True))
        started = entries[0]
        assert started.event == "started" and started.actor == "cli"
        assert started.detail["manifest_hash"].startswith("sha256:")  # what
        assert started.detail["change"]["variants"]["candidate"]["prompt_hash"].startswith("sha256:")
        assert all(e.at and e.actor for e in entries)  # when, who
        assert any("evidence" in json.dumps(e.detail) or "report" in json.dumps(e.detail) for e in entries)
    approved = [e for e in ledger.entries("sec-approved") if e.event == "approved"]
    assert approved and approved[0].actor == "lead@example.com"


@pytest.mark.parametrize("tamper", ["alter a detail", "alter the actor", "remove a middle entry",
                                    "remove the last entry", "append a forged entry"])
def test_a_tampered_ledger_is_detected(aws: EmbeddedAWS, runs: dict[str, Any], tamper: str) -> None:
    ddb = aws.client("dynamodb")
    table = aws.control_plane.physical["ControlPlaneTable"]
    ledger = Ledger(ddb, table)
    entries = ledger.entries("sec-promoted")
    assert not audit(entries, finished=True)
    key = lambda seq: {"pk": {"S": "RELEASE#sec-promoted"}, "sk": {"S": f"ENTRY#{seq:06d}"}}  # noqa: E731
    originals = {e.seq: ddb.get_item(TableName=table, Key=key(e.seq))["Item"] for e in entries}
    middle, last = entries[len(entries) // 2].seq, entries[-1].seq
    try:
        if tamper == "alter a detail":
            ddb.update_item(TableName=table, Key=key(middle), UpdateExpression="SET detail = :d",
                            ExpressionAttributeValues={":d": {"S": json.dumps({"weight": 100})}})
        elif tamper == "alter the actor":
            ddb.update_item(TableName=table, Key=key(middle), UpdateExpression="SET actor = :a",
                            ExpressionAttributeValues={":a": {"S": "someone-else"}})
        elif tamper == "remove a middle entry":
            ddb.delete_item(TableName=table, Key=key(middle))
        elif tamper == "remove the last entry":
            ddb.delete_item(TableName=table, Key=key(last))
        else:
            forged = {**originals[last], "sk": {"S": f"ENTRY#{last + 1:06d}"}, "seq": {"N": str(last + 1)},
                      "event": {"S": "promoted"}}
            ddb.put_item(TableName=table, Item=forged)
        assert audit(ledger.entries("sec-promoted"), finished=True), tamper
    finally:
        for item in originals.values():
            ddb.put_item(TableName=table, Item=item)
        ddb.delete_item(TableName=table, Key=key(last + 1))
    assert not audit(ledger.entries("sec-promoted"), finished=True)
