"""Announce a transition on SNS and as an EventBridge event on the project's bus.

Bodies carry ids, verdicts, reasons and links to evidence in S3, never raw
prompts, model outputs or customer text.
"""

from __future__ import annotations

import json
from typing import Any

SOURCE = "genai-cicd"
MAX_SUBJECT = 100  # SNS limit for email subjects


class Notifier:
    def __init__(self, sns: Any, events: Any, topic_arn: str, event_bus_name: str) -> None:
        self._sns = sns
        self._events = events
        self._topic = topic_arn
        self._bus = event_bus_name

    def publish(self, event: str, subject: str, body: dict[str, Any], chat: dict[str, Any] | None = None) -> str:
        message = json.dumps(body, sort_keys=True, default=str)
        clean_subject = "".join(ch for ch in subject if ch.isprintable())[:MAX_SUBJECT]
        extra: dict[str, Any] = {}
        sent = message
        if chat is not None:
            # One message per protocol (SNS Publish, MessageStructure=json): HTTPS subscribers, which is how
            # Amazon Q Developer in chat applications subscribes, get the card; SQS, Lambda and email get the body.
            sent = json.dumps({"default": message, "https": json.dumps(chat, default=str)})
            extra["MessageStructure"] = "json"
        response = self._sns.publish(
            TopicArn=self._topic,
            Subject=clean_subject,
            Message=sent,
            MessageAttributes={"event": {"DataType": "String", "StringValue": event}},
            **extra,
        )
        self._events.put_events(
            Entries=[{"Source": SOURCE, "DetailType": f"GenAI Release {event}", "Detail": message,
                      "EventBusName": self._bus}]
        )
        return str(response["MessageId"])
