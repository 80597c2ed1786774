"""The hash chain detects removed, reordered and altered entries."""

from __future__ import annotations

from genai_cicd.models.ledger import GENESIS, LedgerEntry, entry_hash, verify_anchors, verify_chain


def chain(n: int) -> list[LedgerEntry]:
    entries, prev = [], GENESIS
    for seq in range(1, n + 1):
        detail = {"step": seq}
        digest = entry_hash("r1", seq, f"e{seq}", "2026-11-26T00:00:00", "me", detail, prev)
        entries.append(LedgerEntry(release_id="r1", seq=seq, event=f"e{seq}", at="2026-11-26T00:00:00", actor="me",
                                   detail=detail, prev_hash=prev, hash=digest))
        prev = digest
    return entries


def test_intact_chain_verifies() -> None:
    assert verify_chain(chain(5)) == []


def test_removed_entry_is_detected() -> None:
    entries = chain(5)
    del entries[2]
    assert verify_chain(entries)


def test_altered_entry_is_detected() -> None:
    entries = chain(5)
    entries[1] = entries[1].model_copy(update={"actor": "mallory"})
    assert any("altered" in p for p in verify_chain(entries))


def rehash(entry: LedgerEntry, **changes: object) -> LedgerEntry:
    e = entry.model_copy(update=changes)
    return e.model_copy(update={"hash": entry_hash(e.release_id, e.seq, e.event, e.at, e.actor, e.detail,
                                                    e.prev_hash)})


def test_a_forgery_that_rehashes_the_edited_entry_and_relinks_the_next_is_detected() -> None:
    """Catches a chain whose hash leaves out prev_hash: entry 3's own hash must cover its link."""
    entries = chain(5)
    entries[1] = rehash(entries[1], actor="mallory")
    entries[2] = entries[2].model_copy(update={"prev_hash": entries[1].hash})
    problems = verify_chain(entries)
    assert problems == ["entry 3: content was altered (hash mismatch)"]


def test_a_relinked_entry_whose_own_hash_was_recomputed_is_detected_by_its_link() -> None:
    """Catches verify_chain dropping its prev_hash comparison: every hash is right, one link is not."""
    entries = chain(5)
    entries[2] = rehash(entries[2], prev_hash="f" * 64)
    assert verify_chain(entries) == ["entry 3: prev_hash does not match entry 2",
                                     "entry 4: prev_hash does not match entry 3"]


def test_a_rewrite_to_the_end_passes_the_chain_but_not_the_published_heads() -> None:
    """What a hash chain alone cannot prove, and what anchors it: heads published with each notification."""
    original = chain(5)
    published = [(0, GENESIS)] + [(e.seq, e.hash) for e in original[:4]]  # the head before each notification
    forged, prev = [], GENESIS
    for e in original:
        e = rehash(e.model_copy(update={"prev_hash": prev}), actor="mallory" if e.seq == 2 else e.actor)
        forged.append(e)
        prev = e.hash
    assert verify_chain(forged) == []  # the chain alone is fooled
    assert verify_anchors(original, published) == []
    problems = verify_anchors(forged, published)
    assert problems and all("rewritten" in p for p in problems) and problems[0].startswith("entry 2")
    assert verify_anchors(original[:2], published) == ["entry 3 was published as the ledger head but is missing",
                                                       "entry 4 was published as the ledger head but is missing"]
