from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .models import AnchorState, JournalAnchor, JournalEntry, JournalHead
from .services import GENESIS_HASH, journal_entry_hash


@dataclass(frozen=True)
class JournalCheck:
    entries: int
    broken_seq: int | None
    problem: str

    @property
    def ok(self) -> bool:
        return self.broken_seq is None


def journal_verify() -> JournalCheck:
    """Walk the chain in order; report the first entry whose number, link or hash does not hold."""
    expected_seq, prev_hash, count = 1, GENESIS_HASH, 0
    for entry in JournalEntry.objects.order_by("seq").iterator(chunk_size=2000):
        if entry.seq != expected_seq:
            return JournalCheck(count, expected_seq, f"entry #{expected_seq} is missing (next is #{entry.seq})")
        if entry.prev_hash != prev_hash:
            return JournalCheck(count, entry.seq, f"entry #{entry.seq} does not link to the previous entry's hash")
        if journal_entry_hash(entry) != entry.entry_hash:
            return JournalCheck(count, entry.seq, f"entry #{entry.seq} content does not match its hash")
        prev_hash, expected_seq, count = entry.entry_hash, expected_seq + 1, count + 1
    head = JournalHead.objects.filter(id=1).first()
    if head is not None and (head.last_seq, head.last_hash) != (count, prev_hash):
        return JournalCheck(count, count + 1, f"the head names #{head.last_seq} but the chain ends at #{count}")
    return JournalCheck(count, None, "")


def journal_anchor_last() -> JournalAnchor | None:
    """The newest confirmed anchor: what the operator is publicly held to."""
    return JournalAnchor.objects.filter(state=AnchorState.CONFIRMED).order_by("-seq", "-pk").first()


def journal_anchor_figures(anchor: JournalAnchor | None) -> dict[str, Any] | None:
    """An anchor as published (the proof of reserve): enough to find the transaction and compare."""
    if anchor is None:
        return None
    return {"seq": anchor.seq, "entry_hash": anchor.entry_hash, "chain_id": anchor.chain_id,
            "sender": anchor.sender, "tx_hash": anchor.tx_hash, "block_number": anchor.block_number,
            "block_hash": anchor.block_hash, "anchored_at": anchor.confirmed_at}
