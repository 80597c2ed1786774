"""The audit ledger's entries and how a chain is verified (pure: aws/ledger.py stores them in DynamoDB).

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
from typing import Any

from pydantic import BaseModel

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
