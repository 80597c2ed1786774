"""The hash chain detects removed, reordered and altered entries."""

from __future__ import annotations

from genai_cicd.aws.ledger import GENESIS, LedgerEntry, entry_hash, verify_chain


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
