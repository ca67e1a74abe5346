"""The multisig's part of each user's inbox (settings.INBOX_SOURCES): transactions awaiting this
signer's approval or signature, with where each stands in its multisig's queue."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import User
from django.db.models import Min
from django.urls import reverse

from backoffice.accounts.inbox import InboxItem
from backoffice.chain.models import Multisig

from .actions import transaction_display
from .kinds import onchain_kinds
from .models import PENDING_STATES, MultisigRole, MultisigTransaction, Signer, TxState


def _owners(prefix: str) -> list[str]:
    """select_related paths to the records that own a transaction (its reference), found from the model."""
    return [f"{prefix}{r.get_accessor_name()}" for r in MultisigTransaction._meta.related_objects
            if r.one_to_one and r.get_accessor_name()]


def queue_note(tx: MultisigTransaction, head: int | None, onchain: bool) -> str:
    """Where the transaction stands in its multisig's queue, as the signing page says it. Only the
    USDKG multisig's head (its lowest pending nonce) can gather approvals on chain; a Safe's owners
    sign any nonce off chain."""
    if not onchain or head is None:
        return ""
    return "head of the queue" if tx.nonce <= head else f"waits for nonce {tx.nonce} (the head is {head})"


def awaiting_signature(user: User) -> list[InboxItem]:
    """Transactions awaiting signatures in the multisig `user` signs for, that `user` has not approved
    yet and may approve (four eyes: not what they proposed on the issuance multisig). Four queries."""
    signer = Signer.objects.filter(user_id=user.pk).first()
    if signer is None:
        return []
    pending = MultisigTransaction.objects.filter(multisig=signer.multisig, state=TxState.AWAITING_SIGNATURES)
    pending = pending.exclude(confirmations__signer=signer).exclude(confirmations__owner_address=signer.address)
    if settings.MULTISIG_FOUR_EYES and signer.multisig == MultisigRole.ISSUANCE:
        pending = pending.exclude(created_by_id=user.pk)
    txs = list(pending.select_related("replaces", *_owners(""), *_owners("replaces__"))
               .prefetch_related("confirmations").order_by("nonce", "pk"))
    if not txs:
        return []
    safes = {tx.safe_address for tx in txs}
    onchain = set(Multisig.objects.filter(address__in=safes, kind__in=onchain_kinds())
                  .values_list("address", flat=True))
    heads = dict(MultisigTransaction.objects.filter(safe_address__in=safes, state__in=PENDING_STATES)
                 .values_list("safe_address").annotate(head=Min("nonce")).values_list("safe_address", "head"))
    items = []
    for tx in txs:
        description = transaction_display(tx, details=False).get("description") or "multisig transaction"
        items.append(InboxItem(
            kind="signature", reference=tx.reference, title=f"{description} ({tx.get_multisig_display()}, nonce "
                                                                f"{tx.nonce})",
            status=tx.status_label, url=reverse("multisig:sign", args=[tx.pk]), at=tx.created_at,
            note=queue_note(tx, heads.get(tx.safe_address), tx.safe_address in onchain)))
    return items
