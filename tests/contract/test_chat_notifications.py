"""Every transition's SNS message carries a card in Amazon Q Developer's custom-notification layout
(tests/contract/chat/custom-notification.schema.json, from the Administrator Guide's event schema), for HTTPS
subscribers only: SQS, Lambda and email subscribers keep the JSON body they always had (issue #31)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import jsonschema
import pytest
from moto import mock_aws

from genai_cicd.aws.notifier import Notifier
from genai_cicd.logic.chat_card import chat_card
from genai_cicd.logic.notify import SUBJECTS

SCHEMA = json.loads((Path(__file__).parent / "chat" / "custom-notification.schema.json").read_text())
ARN = "arn:aws:states:us-east-1:123456789012:execution:genai-cicd-release:rel-1"


def body(event: str) -> dict[str, Any]:
    """A message body as logic/notify.py writes it, with every detail key a transition may carry."""
    detail: dict[str, Any] = {"reasons": ["error rate: canary 32 of 2,078 requests " * 30, "second", "third",
                                          "fourth"],
                              "release_report": {"html_uri": "s3://bucket/reports/rel-1.html"}}
    if event == "blocked":
        detail["blocked_by"] = ["prompt_regression"]
    if event in ("canary_step", "rolled_back", "promoted"):
        detail |= {"weight": 5.0, "metric": "errors"}
    if event == "failed":
        detail["cause"] = "TrafficShiftError: AppConfig deployment 4 is ROLLED_BACK"
    return {"event": event, "detail": detail, "ledger_head": {"seq": 3, "hash": "ab" * 32}, "release_id": "rel-1",
            "app": "support-bot", "environment": "prod", "change": ["prompt"], "execution_arn": ARN,
            "evidence": "s3://bucket/releases/rel-1/"}


@pytest.mark.parametrize("event", sorted(SUBJECTS))
def test_every_transition_has_a_card_in_the_documented_layout(event: str) -> None:
    card = chat_card(event, f"[genai-cicd] support-bot/prod: {SUBJECTS[event]}", body(event))
    jsonschema.validate(card, SCHEMA)
    assert card["metadata"]["threadId"] == "genai-cicd-rel-1"  # one thread per release in the channel
    assert card["content"]["title"].endswith(SUBJECTS[event])
    assert "… and 1 more in the report" in card["content"]["description"]


def test_a_message_without_a_release_still_validates() -> None:
    card = chat_card("locked", "[genai-cicd] release refused", {"event": "locked", "detail": {}})
    jsonschema.validate(card, SCHEMA)
    assert "threadId" not in card["metadata"]


def test_approval_and_failed_rollback_cards_say_what_to_run() -> None:
    waiting = chat_card("awaiting_approval", "s", body("awaiting_approval"))["content"]["nextSteps"]
    assert "genai-cicd approve rel-1 --by NAME --table TABLE" in waiting[0] and "--reject" in waiting[1]
    stop = chat_card("failed_rollback", "s", body("failed_rollback"))["content"]["nextSteps"]
    assert any(f"aws stepfunctions stop-execution --execution-arn {ARN}" in step for step in stop)


@mock_aws
def test_https_subscribers_get_the_card_and_sqs_subscribers_the_body() -> None:
    sns, sqs = boto3.client("sns", region_name="us-east-1"), boto3.client("sqs", region_name="us-east-1")
    events = boto3.client("events", region_name="us-east-1")
    topic = sns.create_topic(Name="releases")["TopicArn"]
    queue = sqs.create_queue(QueueName="subscriber")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    sent: dict[str, Any] = {}
    real_publish = sns.publish

    def capture(**kwargs: Any) -> Any:
        sent.update(kwargs)
        return real_publish(**kwargs)

    sns.publish = capture  # type: ignore[method-assign]
    message = body("promoted")
    card = chat_card("promoted", "[genai-cicd] support-bot/prod: PROMOTED to 100%", message)
    Notifier(sns, events, topic, "default").publish("promoted", "[genai-cicd] support-bot/prod: PROMOTED", message,
                                                    card)
    assert sent["MessageStructure"] == "json"
    per_protocol = json.loads(sent["Message"])
    assert json.loads(per_protocol["https"]) == card
    assert json.loads(per_protocol["default"]) == json.loads(json.dumps(message, default=str))
    envelope = json.loads(sqs.receive_message(QueueUrl=queue)["Messages"][0]["Body"])
    assert json.loads(envelope["Message"]) == json.loads(per_protocol["default"])  # the body, unchanged
    assert len(sent["Message"].encode()) < 256 * 1024  # SNS's message size limit
