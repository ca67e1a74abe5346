"""Anchors: the journal's head published on chain, so a rewrite of the database cannot go unnoticed.

Hashes alone prove nothing against whoever can write the database: they can rewrite an entry and
recompute every hash after it, and the head. So the worker periodically (JOURNAL_ANCHOR_SECONDS, and
`python manage.py journal_anchor` on demand) publishes the current head (seq and entry hash) in the
data of a transaction from the relayer to itself, and records it as a JournalAnchor. `verify_journal`
reads each confirmed anchor's transaction back from the node and compares what the chain says with
the journal: an anchored entry that changed, disappeared or moved is reported, whatever the database
says about itself. The data is plain text, readable in any explorer:
`usdkg-journal-anchor/1 seq=<n> sha256=<hex>`.

The relayer's nonce is shared with the multisig broadcaster, so each side signs past the other's
highest stored nonce as well as the node's pending count.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from backoffice.chain.client import ChainClient, ChainError, ChainUnavailable, relayer_account
from backoffice.chain.nonces import nonce_claim, nonce_next

from .models import AnchorState, JournalAnchor, JournalEntry, JournalHead
from .services import TransitionRefused, journal_record, transition_apply

logger = logging.getLogger(__name__)

ANCHOR_OBJECT_TYPE = JournalAnchor._meta.label_lower
_DATA = re.compile(rb"usdkg-journal-anchor/1 seq=(\d{1,20}) sha256=([0-9a-f]{64})")


def anchor_data(seq: int, entry_hash: str) -> bytes:
    return f"usdkg-journal-anchor/1 seq={seq} sha256={entry_hash}".encode()


def anchor_data_parse(data: bytes) -> tuple[int, str] | None:
    """(seq, entry hash) from an anchor transaction's data; None when it is not an anchor."""
    match = _DATA.fullmatch(data)
    return (int(match.group(1)), match.group(2).decode()) if match else None


def _settle(anchor: JournalAnchor, transition: str, **kwargs: Any) -> JournalAnchor:
    """A system transition another run may have taken first: then the row already says what happened."""
    try:
        return transition_apply(model=JournalAnchor, pk=anchor.pk, transition=transition, actor=None,
                                check_permission=False, **kwargs)
    except TransitionRefused:
        return JournalAnchor.objects.get(pk=anchor.pk)


def journal_anchor_pending() -> JournalAnchor | None:
    return JournalAnchor.objects.filter(state=AnchorState.SENT).first()


def _anything_new_since(anchor: JournalAnchor | None) -> bool:
    """Whether the journal gained entries other than the anchors' own since `anchor`."""
    if anchor is None:
        return True
    return JournalEntry.objects.filter(seq__gt=anchor.seq).exclude(object_type=ANCHOR_OBJECT_TYPE).exists()


def journal_anchor_publish(*, client: ChainClient, force: bool = False) -> JournalAnchor | None:
    """Publish the current head on chain, or hand back the anchor still in flight (its stored bytes sent
    again, which is harmless).

    Signs a transaction from the relayer to itself with the head in its data, stores it with its hash
    and a journal entry, commits, and only then sends it. Returns None, publishing nothing, when the
    journal is empty or (unless `force`) gained nothing but anchor entries since the last confirmed
    anchor. A failing simulation or an unreachable node raises ChainError before anything is stored.
    """
    pending = journal_anchor_pending()
    if pending is not None:
        _resend(client, pending)
        return pending
    head = JournalHead.objects.filter(id=1).first()
    last = JournalAnchor.objects.filter(state=AnchorState.CONFIRMED).order_by("-seq").first()
    if head is None or head.last_seq == 0 or not (force or _anything_new_since(last)):
        return None
    relayer = relayer_account()
    signed = client.transaction_sign(
        account=relayer, tx={"to": relayer.address, "value": 0, "data": anchor_data(head.last_seq, head.last_hash)},
        nonce=nonce_next(client, relayer.address))
    try:
        with transaction.atomic():
            anchor = JournalAnchor.objects.create(
                seq=head.last_seq, entry_hash=head.last_hash, chain_id=client.chain_id, sender=relayer.address,
                nonce=signed.nonce, tx_hash=signed.tx_hash, raw_tx=signed.raw, sent_at=timezone.now())
            nonce_claim(chain_id=client.chain_id, address=relayer.address, nonce=signed.nonce,
                        purpose=f"journal.journalanchor {anchor.pk}")
            journal_record(action="journal.anchor_sent", obj=anchor, actor_username="system", state_after="sent",
                           data={"seq": anchor.seq, "entry_hash": anchor.entry_hash, "tx_hash": anchor.tx_hash,
                                 "nonce": anchor.nonce})
    except IntegrityError:
        # Another run stored its anchor first (one in flight at a time): ours is never sent.
        return journal_anchor_pending()
    _resend(client, anchor)
    logger.info("journal-anchor=%s seq=%s tx=%s sent", anchor.pk, anchor.seq, anchor.tx_hash)
    return anchor


def _resend(client: ChainClient, anchor: JournalAnchor) -> None:
    """The stored bytes again. A refusal (fees below the base fee, say) is cured by the replacement."""
    try:
        client.raw_send(bytes(anchor.raw_tx))
    except ChainUnavailable:
        raise
    except ChainError as exc:
        logger.warning("journal-anchor=%s tx=%s refused=%s", anchor.pk, anchor.tx_hash, exc)


def journal_anchor_follow(*, client: ChainClient, anchor_id: int, confirmations: int) -> JournalAnchor:
    """Settle an anchor in flight from its receipt once it is `confirmations` blocks deep.

    No receipt: if the relayer's mined nonce is past the anchor's, another transaction took the nonce
    and the anchor is `failed` (the next run publishes anew); if it waited longer than
    JOURNAL_ANCHOR_STUCK_SECONDS it is replaced at the same nonce with fees 25 % higher per attempt
    (a stuck anchor would hold up every later transaction of the relayer); otherwise its bytes are
    sent again. Returns the row unchanged while not final.
    """
    anchor = JournalAnchor.objects.get(pk=anchor_id)
    if anchor.state != AnchorState.SENT:
        return anchor
    mined_nonce = client.account_nonce(anchor.sender, block="latest")  # read before the receipts: no race
    receipt, tx_hash = None, ""
    for candidate in [anchor.tx_hash, *reversed(anchor.previous_tx_hashes)]:
        found = client.receipt(candidate)
        if found is not None and found.get("blockNumber") is not None:
            receipt, tx_hash = found, candidate
            break
    if receipt is None:
        if mined_nonce > anchor.nonce:
            return _settle(anchor, "fail", reason="its nonce was used by another transaction",
                           params={"reason": f"nonce {anchor.nonce} was used by another transaction of the relayer"})
        if (timezone.now() - anchor.sent_at).total_seconds() > settings.JOURNAL_ANCHOR_STUCK_SECONDS:
            return _replace(client, anchor)
        _resend(client, anchor)
        return anchor
    block = int(receipt["blockNumber"])
    if client.block_number() - block + 1 < confirmations:
        return anchor
    if receipt["status"] != 1:
        return _settle(anchor, "fail", reason="reverted", params={"reason": f"transaction {tx_hash} reverted"})
    facts = {"tx_hash": tx_hash, "block_number": block, "block_hash": "0x" + bytes(receipt["blockHash"]).hex()}
    confirmed = _settle(anchor, "confirm", data=facts, params={**facts, "at": timezone.now()})
    logger.info("journal-anchor=%s seq=%s state=%s block=%s", anchor.pk, anchor.seq, confirmed.state, block)
    return confirmed


def _replace(client: ChainClient, anchor: JournalAnchor) -> JournalAnchor:
    relayer = relayer_account()
    if relayer.address != anchor.sender:
        return _settle(anchor, "fail", reason="relayer changed",
                       params={"reason": f"the relayer {anchor.sender} is no longer configured: cannot replace it"})
    bump = 25 * (len(anchor.previous_tx_hashes) + 1)
    signed = client.transaction_sign(
        account=relayer, tx={"to": relayer.address, "value": 0, "data": anchor_data(anchor.seq, anchor.entry_hash)},
        nonce=anchor.nonce, fee_bump_percent=bump)
    replaced = _settle(anchor, "replace", reason=f"stuck: replaced with fees +{bump} %",
                       data={"tx_hash": signed.tx_hash, "replaced": anchor.tx_hash},
                       params={"tx_hash": signed.tx_hash, "raw": signed.raw, "at": timezone.now()})
    if replaced.tx_hash == signed.tx_hash:
        _resend(client, replaced)
    return replaced


def journal_anchor_run(*, client: ChainClient, confirmations: int, wait_seconds: float,
                       force: bool = False) -> JournalAnchor | None:
    """Publish (or take the anchor in flight) and follow it for up to `wait_seconds`.

    Returns the anchor (still `sent` if not yet deep enough; a later run settles it), or None when
    there was nothing new to anchor."""
    anchor = journal_anchor_publish(client=client, force=force)
    deadline = time.monotonic() + wait_seconds
    while anchor is not None and anchor.state == AnchorState.SENT:
        anchor = journal_anchor_follow(client=client, anchor_id=anchor.pk, confirmations=confirmations)
        if anchor.state != AnchorState.SENT or time.monotonic() >= deadline:
            break
        time.sleep(1)
    return anchor


@dataclass(frozen=True)
class AnchorProblem:
    anchor_id: int
    seq: int
    problem: str


def journal_anchors_verify(*, client: ChainClient) -> tuple[int, list[AnchorProblem]]:
    """(anchors checked, problems): every confirmed anchor read back from the chain and compared with
    the journal. The chain's copy is the one trusted: the transaction must be mined and sent by the
    anchor's relayer to itself, and the entry it names must be in the journal at that seq with that
    hash. Raises ChainUnavailable when the node does not answer (nothing can be said then)."""
    problems: list[AnchorProblem] = []
    anchors = list(JournalAnchor.objects.filter(state=AnchorState.CONFIRMED).order_by("seq", "pk"))
    for anchor in anchors:
        def report(text: str, anchor: JournalAnchor = anchor) -> None:
            problems.append(AnchorProblem(anchor.pk, anchor.seq, text))

        found = client.transaction_get(anchor.tx_hash)
        if found is None or found["block_number"] is None:
            report(f"the anchor transaction {anchor.tx_hash} of entry #{anchor.seq} is not on chain")
            continue
        if found["from"] != anchor.sender or found["to"] != anchor.sender:
            report(f"the anchor transaction {anchor.tx_hash} is not from the relayer {anchor.sender} to itself")
            continue
        published = anchor_data_parse(found["input"])
        if published is None:
            report(f"the transaction {anchor.tx_hash} holds no journal anchor")
            continue
        seq, entry_hash = published
        if (seq, entry_hash) != (anchor.seq, anchor.entry_hash):
            report(f"anchor row #{anchor.pk} says entry #{anchor.seq}, but its transaction anchors entry #{seq}")
        entry = JournalEntry.objects.filter(seq=seq).first()
        if entry is not None and entry.entry_hash == entry_hash:
            continue
        elsewhere = JournalEntry.objects.filter(entry_hash=entry_hash).first()
        if elsewhere is not None:
            report(f"anchored entry #{seq} moved to #{elsewhere.seq} (block {found['block_number']}, "
                   f"tx {anchor.tx_hash})")
        elif entry is None:
            report(f"anchored entry #{seq} disappeared (block {found['block_number']}, tx {anchor.tx_hash})")
        else:
            # The hash covers the seq and the previous hash: an entry shifted to another place (one
            # before it removed, say) and rehashed looks like this too.
            report(f"anchored entry #{seq} changed or moved: the chain says {entry_hash}, the journal has "
                   f"{entry.entry_hash} (block {found['block_number']}, tx {anchor.tx_hash})")
    return len(anchors), problems
