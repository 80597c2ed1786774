"""Every transition: one SNS message, one EventBridge event, one ledger entry."""

from __future__ import annotations

from typing import Any

from genai_cicd import s3_keys
from genai_cicd.deps import Deps
from genai_cicd.errors import domain_message
from genai_cicd.logic.chat_card import chat_card
from genai_cicd.models.tasks import NotifyInput, NotifyResult
from genai_cicd.shorten import shorten

SUBJECTS = {
    "started": "release started",
    "invalid": "release rejected: invalid input",
    "locked": "release refused: another release is running",
    "gates_passed": "gates passed",
    "blocked": "BLOCKED at the gates",
    "awaiting_approval": "waiting for approval",
    "approved": "approved",
    "rejected": "rejected (approval denied or timed out)",
    "shadow_started": "shadow evaluation started (no user on the candidate)",
    "shadow_passed": "shown non-inferior in shadow: canary starts",
    "canary_step": "canary step",
    "promoted": "PROMOTED to 100%",
    "rolled_back": "ROLLED BACK to baseline",
    "failed": "FAILED (traffic on baseline)",
    "failed_rollback": "ROLLBACK FAILED: traffic state unverified, act now",
    "cancelled": "cancelled by the pipeline (traffic on baseline)",
    "reconciled": "execution ended mid-release: traffic restored to baseline",
}
# Detail keys allowed in messages: ids, verdicts, reasons, pointers. Never prompts or outputs.
ALLOWED_DETAIL = {"reasons", "blocked_by", "report_uri", "weight", "step_index", "metric", "timeline_uri",
                  "error", "cause", "approver", "verdict", "receipt", "gates", "outcome", "release_report",
                  "evidence", "plan", "stream", "probe_requests", "probe_cost_usd", "judge_calls", "answers_scored",
                  "phase", "pairs"}


def _clip(value: Any) -> Any:
    if isinstance(value, str):
        return shorten(value, 2000)
    if isinstance(value, list):
        return [_clip(v) for v in value[:20]]
    if isinstance(value, dict):
        return {k: _clip(v) for k, v in list(value.items())[:40]}
    return value


def notify(event: NotifyInput, deps: Deps) -> NotifyResult:
    release = event.release
    given = dict(event.detail)
    if "release_report" in event.model_fields_set:
        given["release_report"] = event.release_report
    detail = {k: _clip(v) for k, v in given.items() if k in ALLOWED_DETAIL}
    if "cause" in detail:
        detail["cause"] = domain_message(event.detail["cause"])  # never a stack trace outside the log
    body: dict[str, Any] = {"event": event.event, "detail": detail}
    subject_tail = SUBJECTS[event.event]
    if event.event == "canary_step" and "weight" in detail:
        subject_tail = f"canary at {detail['weight']}%"
    if event.event == "blocked" and detail.get("phase") == "shadow":
        subject_tail = "BLOCKED in shadow evaluation (no user served by the candidate)"
    ledger_id = release.release_id if release is not None else event.release_id
    if ledger_id is not None:
        # The ledger's head travels with the message, outside the table: it anchors the hash chain.
        head_seq, head_hash = deps.ledger.head(ledger_id)
        body["ledger_head"] = {"seq": head_seq, "hash": head_hash}
    if release is not None:
        body.update({
            "release_id": release.release_id, "app": release.app, "environment": release.environment,
            "change": release.change_kinds, "manifest_uri": release.manifest_uri,
            "manifest_hash": release.manifest_hash, "execution_arn": release.execution_arn,
            "evidence": f"s3://{deps.config.artifact_bucket}/{s3_keys.release(release.release_id)}/",
        })
        subject = f"[genai-cicd] {release.app}/{release.environment}: {subject_tail}"
    else:
        subject = f"[genai-cicd] {subject_tail}"
        if event.release_id is not None:
            body["release_id"] = event.release_id
    message_id = deps.notifier.publish(event.event, subject, body, chat_card(event.event, subject, body))
    seq = None
    if release is not None:
        actor = release.started_by
        if event.event in ("approved", "rejected") and detail.get("approver"):
            actor = str(detail["approver"])
        record: dict[str, Any] = {"detail": detail, "manifest_hash": release.manifest_hash,
                                  "sns_message_id": message_id}
        if event.event == "started":
            record["change"] = {"kinds": release.change_kinds, "declared": release.declared_kinds,
                                "derived": release.derived_kinds, "disagreement": release.kinds_note,
                                "candidate_hash": release.candidate_hash, "variants": release.variants}
        seq = deps.ledger.append(release.release_id, event.event, actor, record).seq
    elif event.release_id is not None:
        seq = deps.ledger.append(event.release_id, event.event, "genai-cicd", {"detail": detail,
                                                                             "sns_message_id": message_id}).seq
    return NotifyResult(message_id=message_id, ledger_seq=seq)
