"""A transition as the card Amazon Q Developer in chat applications shows in Slack or Microsoft Teams.

Amazon Q Developer (formerly AWS Chatbot) renders an SNS message in its custom-notification layout
("Custom notifications using Amazon Q Developer in chat applications", event schema:
https://docs.aws.amazon.com/chatbot/latest/adminguide/custom-notifs.html): ``version`` "1.0",
``source`` "custom", ``content`` (``textType`` "client-markdown", ``title``, ``description``,
``nextSteps``, ``keywords``) and ``metadata`` (``threadId``, ``summary``, ``eventType``,
``relatedResources``, ``additionalContext`` of strings). Other payloads it does not render.

The notifier publishes with ``MessageStructure=json``: this card is the message for HTTPS
subscriptions (how Amazon Q Developer subscribes to a topic), and every other protocol (SQS,
Lambda, email) keeps receiving the JSON body it always did. Every transition of one release shares
its ``threadId``, so a channel shows a release as one thread. Like the body, the card carries ids,
verdicts, reasons and links, never prompts or answers.
"""

from __future__ import annotations

from typing import Any

from genai_cicd.shorten import shorten

MAX_TITLE = 250
MAX_DESCRIPTION = 4000
MAX_REASONS = 3

NEXT_STEPS: dict[str, list[str]] = {
    "blocked": ["Read the gate verdicts in the report; the candidate never received traffic",
                "Fix the candidate and release again (a re-run of the same candidate spends less alpha)"],
    "awaiting_approval": ["Approve: `genai-cicd approve {release_id} --by NAME --table TABLE`",
                          "Reject: `genai-cicd approve {release_id} --by NAME --table TABLE --reject`"],
    "rolled_back": ["All traffic is back on the baseline; the report names the metric that decided"],
    "failed": ["Traffic is on the baseline; the cause above says what failed"],
    "failed_rollback": ["Check the traffic by hand now: the rollback could not be verified",
                        "Stop the execution if it still runs: `aws stepfunctions stop-execution --execution-arn "
                        "{execution_arn}`"],
    "shadow_started": ["No user is served by the candidate; to stop: `aws stepfunctions stop-execution "
                       "--execution-arn {execution_arn}`"],
    "canary_step": ["To stop the canary and restore the baseline: `aws stepfunctions stop-execution "
                    "--execution-arn {execution_arn}`"],
    "promoted": ["The candidate serves all traffic; the report has the evidence"],
}


def _text(value: Any) -> str:
    return shorten(" ".join(str(value).split()), 500)


def chat_card(event: str, subject: str, body: dict[str, Any]) -> dict[str, Any]:
    """The custom-notification card for one transition (``body`` is the message every other subscriber gets)."""
    detail = body.get("detail") or {}
    release_id = str(body.get("release_id") or "")
    lines = [f"*Release* `{release_id}`" if release_id else "*genai-cicd*"]
    if body.get("app"):
        lines[0] += f" of *{body['app']}* in *{body.get('environment', '')}*"
    if detail.get("weight") is not None:
        lines.append(f"*Canary weight*: {detail['weight']}%")
    if detail.get("blocked_by"):
        lines.append(f"*Blocked by*: {', '.join(map(str, detail['blocked_by']))}")
    if detail.get("metric"):
        lines.append(f"*Decided on*: {detail['metric']}")
    reasons = detail.get("reasons") or []
    lines += [f"• {_text(r)}" for r in reasons[:MAX_REASONS]]
    if len(reasons) > MAX_REASONS:
        lines.append(f"… and {len(reasons) - MAX_REASONS} more in the report")
    if detail.get("cause"):
        lines.append(f"*Cause*: {_text(detail['cause'])}")
    for label, key in (("Report", "release_report"), ("Evidence", "evidence")):
        link = detail.get(key) or body.get(key)
        if isinstance(link, dict):
            link = link.get("html_uri") or link.get("report_uri")
        if link:
            lines.append(f"*{label}*: {link}")
    fill = {"release_id": release_id or "RELEASE_ID", "execution_arn": str(body.get("execution_arn") or "ARN")}
    content: dict[str, Any] = {
        "textType": "client-markdown",
        "title": shorten(subject, MAX_TITLE),
        "description": shorten("\n".join(lines), MAX_DESCRIPTION),
        "keywords": [str(k) for k in (body.get("app"), body.get("environment"), event) if k],
    }
    steps = [step.format(**fill) for step in NEXT_STEPS.get(event, [])]
    if steps:
        content["nextSteps"] = steps
    metadata: dict[str, Any] = {
        "summary": shorten(subject, MAX_TITLE),
        "eventType": event,
        "additionalContext": {k: str(body[k]) for k in ("release_id", "app", "environment") if body.get(k)},
    }
    if release_id:
        metadata["threadId"] = f"genai-cicd-{release_id}"
    if body.get("execution_arn"):
        metadata["relatedResources"] = [str(body["execution_arn"])]
    card: dict[str, Any] = {"version": "1.0", "source": "custom", "content": content, "metadata": metadata}
    head = body.get("ledger_head") or {}
    if release_id and head.get("seq") is not None:
        card["id"] = f"{release_id}-{head['seq']}"
    return card
