"""The audit ledger: an append-only, hash-chained history per release (DynamoDB).

Each entry stores the SHA-256 of the previous entry; appends use a
conditional write on the next sequence number, so two writers can never both
claim the same position and nothing is overwritten.

What a hash chain alone cannot prove: someone who can write the table can edit
an entry and recompute every hash after it, and the forged chain verifies.
What anchors it: every SNS notification (and its EventBridge copy) carries the
ledger's head, the (seq, hash) of the last entry before it, and those messages
are stored outside the table (subscribers, an EventBridge archive). A chain is
trusted when it verifies *and* agrees with every head published for it
(``verify_anchors``; ``genai-cicd audit --anchors``).
"""

from __future__ import annotations

import hashlib
import json
import time
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel

from genai_cicd.aws import table_keys

GENESIS = "0" * 64


class LedgerEntry(BaseModel):
    release_id: str
    seq: int
    event: str
    at: str
    actor: str
    detail: dict[str, Any]
    prev_hash: str
    hash: str


def entry_hash(release_id: str, seq: int, event: str, at: str, actor: str, detail: dict[str, Any],
               prev_hash: str) -> str:
    canonical = json.dumps(
        {"release_id": release_id, "seq": seq, "event": event, "at": at, "actor": actor, "detail": detail,
         "prev_hash": prev_hash},
        sort_keys=True, separators=(",", ":"), default=str,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def verify_chain(entries: list[LedgerEntry]) -> list[str]:
    """Problems found (empty when the chain verifies)."""
    problems: list[str] = []
    prev = GENESIS
    for expected_seq, e in enumerate(entries, start=1):
        if e.seq != expected_seq:
            problems.append(f"entry {expected_seq} is missing (found seq {e.seq})")
            break
        if e.prev_hash != prev:
            problems.append(f"entry {e.seq}: prev_hash does not match entry {e.seq - 1}")
        recomputed = entry_hash(e.release_id, e.seq, e.event, e.at, e.actor, e.detail, e.prev_hash)
        if recomputed != e.hash:
            problems.append(f"entry {e.seq}: content was altered (hash mismatch)")
        prev = e.hash
    return problems


def verify_anchors(entries: list[LedgerEntry], anchors: list[tuple[int, str]]) -> list[str]:
    """Problems found comparing the chain with heads published outside the table."""
    by_seq = {e.seq: e.hash for e in entries}
    problems = []
    for seq, digest in anchors:
        if seq == 0:
            continue  # published before the first entry: nothing to compare
        if seq not in by_seq:
            problems.append(f"entry {seq} was published as the ledger head but is missing")
        elif by_seq[seq] != digest:
            problems.append(f"entry {seq} differs from the head published with a notification: rewritten")
    return problems


def anchors_in(messages: list[dict[str, Any]], release_id: str) -> list[tuple[int, str]]:
    """The (seq, hash) heads carried by notification bodies of one release."""
    found = []
    for body in messages:
        head = body.get("ledger_head")
        if body.get("release_id") == release_id and isinstance(head, dict):
            found.append((int(head["seq"]), str(head["hash"])))
    return found


# Every finished release ends with one of these; a chain that stops short of one lost its tail.
OUTCOMES = frozenset({"promoted", "blocked", "rolled_back", "failed", "failed_rollback", "rejected", "invalid",
                      "locked", "cancelled", "reconciled"})


def audit(entries: list[LedgerEntry], finished: bool) -> list[str]:
    """verify_chain, plus completeness: a release whose execution has ended must end in an outcome.

    The hash chain catches an altered or removed entry anywhere before the last; removing
    the last entries leaves a valid shorter chain, caught here because the outcome is gone.
    """
    problems = verify_chain(entries)
    if not entries:
        problems.append("no ledger entries")
    elif entries[0].event not in ("started", "invalid", "failed"):
        problems.append(f"the first entry is {entries[0].event!r}, not the start of the release")
    if finished and entries and entries[-1].event not in OUTCOMES:
        problems.append(f"the release has ended but its ledger stops at {entries[-1].event!r}: entries removed")
    return problems


class Ledger:
    def __init__(self, dynamodb: Any, table_name: str) -> None:
        self._ddb = dynamodb
        self._table = table_name

    @staticmethod
    def _pk(release_id: str) -> str:
        return table_keys.ledger_pk(release_id)

    def entries(self, release_id: str) -> list[LedgerEntry]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :entry)",
            "ExpressionAttributeValues": {":pk": {"S": self._pk(release_id)}, ":entry": {"S": table_keys.LEDGER_ENTRY}},
            "ConsistentRead": True,
        }
        while True:
            page = self._ddb.query(**kwargs)
            items.extend(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return [
            LedgerEntry(
                release_id=release_id, seq=int(i["seq"]["N"]), event=i["event"]["S"], at=i["at"]["S"],
                actor=i["actor"]["S"], detail=json.loads(i["detail"]["S"]), prev_hash=i["prev_hash"]["S"],
                hash=i["hash"]["S"],
            )
            for i in items
        ]

    def head(self, release_id: str) -> tuple[int, str]:
        """(seq, hash) of the last entry; (0, GENESIS) before the first."""
        return self._last(release_id)

    def _last(self, release_id: str) -> tuple[int, str]:
        page = self._ddb.query(
            TableName=self._table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :entry)",
            ExpressionAttributeValues={":pk": {"S": self._pk(release_id)}, ":entry": {"S": table_keys.LEDGER_ENTRY}},
            ScanIndexForward=False, Limit=1, ConsistentRead=True,
        )
        items = page.get("Items", [])
        if not items:
            return 0, GENESIS
        return int(items[0]["seq"]["N"]), items[0]["hash"]["S"]

    def append(self, release_id: str, event: str, actor: str, detail: dict[str, Any],
               attempts: int = 5) -> LedgerEntry:
        for _ in range(attempts):
            seq, prev = self._last(release_id)
            seq += 1
            at = datetime.now(UTC).isoformat(timespec="milliseconds")
            digest = entry_hash(release_id, seq, event, at, actor, detail, prev)
            try:
                self._ddb.put_item(
                    TableName=self._table,
                    Item={
                        **table_keys.ledger_entry(release_id, seq),
                        "seq": {"N": str(seq)}, "event": {"S": event}, "at": {"S": at}, "actor": {"S": actor},
                        "detail": {"S": json.dumps(detail, sort_keys=True, default=str)},
                        "prev_hash": {"S": prev}, "hash": {"S": digest},
                    },
                    ConditionExpression="attribute_not_exists(pk)",
                )
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                    time.sleep(0.01)
                    continue  # another writer took this seq; read again
                raise
            return LedgerEntry(release_id=release_id, seq=seq, event=event, at=at, actor=actor, detail=detail,
                               prev_hash=prev, hash=digest)
        raise RuntimeError(f"ledger append for {release_id} lost {attempts} races in a row")
