"""Withdrawing a multisig transaction on someone's request, for either multisig: cancel (by whoever may
propose its action) and reject (by a signer of its multisig), each moving the record it belongs to.

The rules of cancelling and rejecting are the kernel's (`multisig_transaction_cancel`,
`multisig_transaction_reject`: a reason, the states that allow it, a rejection at the nonce when
signatures or later nonces need one). These add who may ask, and tell the owning app through its
action in the registry (`ProposalAction.withdrawn`), inside the same database transaction, so the
proposal or case and the transaction never disagree. The kernel names no app.
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db import transaction

from backoffice.chain.client import ChainClient
from backoffice.chain.models import Deployment
from backoffice.core.errors import InvalidInput
from backoffice.journal.services import TransitionRefused

from .actions import transaction_cancel_permission, transaction_withdrawn
from .models import MultisigTransaction, Signer
from .services import multisig_transaction_cancel, multisig_transaction_reject


def _reason_require(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("reason: a reason is required", field="reason")
    return reason


def multisig_transaction_withdraw(
    *, client: ChainClient, transaction_id: int, reason: str, actor: User
) -> MultisigTransaction | None:
    """Cancel a transaction before it is sent, as the proposer side: returns the rejection proposed
    at its nonce, if one is needed (see multisig_transaction_cancel).

    Refuses, changing nothing: no reason (InvalidInput); an actor without the cancel permission its
    action's app declares, e.g. operators for owner proposals and officers for compliance ones
    (PermissionDenied); a rejection itself, which is what keeps a cancelled transaction from ever
    running, and a transaction already being sent or settled (TransitionRefused).
    """
    reason = _reason_require(reason)
    tx = MultisigTransaction.objects.select_related("replaces").get(pk=transaction_id)
    permission = transaction_cancel_permission(tx)
    if not (actor.is_superuser or (permission and actor.has_perm(permission))):
        raise PermissionDenied("your role may not cancel this transaction")
    if tx.replaces_id is not None:
        raise TransitionRefused("a rejection cannot be cancelled: it is what keeps the cancelled transaction "
                                "from ever running; the signers sign it or reject it")
    with transaction.atomic():
        rejection = multisig_transaction_cancel(client=client, transaction_id=tx.pk, reason=reason, actor=actor)
        transaction_withdrawn(MultisigTransaction.objects.get(pk=tx.pk), reason=reason, actor=actor,
                              how="cancelled", rejection=rejection)
    return rejection


def multisig_transaction_refuse(*, transaction_id: int, reason: str, actor: User) -> MultisigTransaction:
    """A signer of the transaction's multisig rejects it while it awaits signatures (see
    multisig_transaction_reject); the owning record is moved with it.

    Refuses, changing nothing: no reason (InvalidInput); an actor who signs for no, or another,
    multisig (PermissionDenied); a transaction no longer awaiting signatures (TransitionRefused).
    """
    reason = _reason_require(reason)
    tx = MultisigTransaction.objects.get(pk=transaction_id)
    if not Signer.objects.filter(user_id=actor.pk, multisig=tx.multisig).exists():
        raise PermissionDenied(f"only a signer of the {tx.multisig} multisig may reject it")
    with transaction.atomic():
        # The proposers' lock first, as cancelling and proposing take it: rejecting may propose a rejection.
        Deployment.objects.select_for_update().get(chain_id=tx.chain_id)
        rejected = multisig_transaction_reject(transaction_id=tx.pk, reason=reason, actor=actor)
        rejection = MultisigTransaction.objects.filter(replaces=rejected).order_by("-pk").first()
        transaction_withdrawn(rejected, reason=reason, actor=actor, how="rejected", rejection=rejection)
    return rejected
