"""Reads the signing page and its JSON views share."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser, User

from backoffice.accounts.roles import Role

from .models import FINAL_STATES, MultisigRole, MultisigTransaction, Signer


def transaction_visible_to(user: User | AnonymousUser, tx: MultisigTransaction) -> bool:
    """Signers of the transaction's own multisig and managers (and superusers) see it; operators see
    the issuance multisig's, which they propose. Compliance stays hidden from everyone else."""
    if not user.is_authenticated:
        return False
    if user.is_superuser or Signer.objects.filter(user_id=user.pk, multisig=tx.multisig).exists():
        return True
    readers = [Role.MANAGER, *([Role.OPERATOR] if tx.multisig == MultisigRole.ISSUANCE else [])]
    return user.groups.filter(name__in=readers).exists()


def transaction_status(tx: MultisigTransaction) -> dict[str, Any]:
    """What the page refreshes while it waits: state, signatures, and the execution facts."""
    confirmations = list(tx.confirmations.select_related("signer__user", "event").order_by("created_at", "pk"))
    return {
        "id": tx.pk,
        "state": str(tx.state),
        "final": tx.state in FINAL_STATES,
        "confirmations": len(confirmations),
        "threshold": tx.threshold,
        # An on-chain approval by an owner no user is bound to has no username: it is shown as such.
        "signed_by": [{"username": c.signer.user.get_username() if c.signer else "", "address": c.owner_address,
                       "signed_at": c.created_at, "tx_hash": c.event.tx_hash if c.event else "",
                       "block_number": c.event.block_number if c.event else None} for c in confirmations],
        "relayer_tx_hash": tx.relayer_tx_hash,
        "block_number": tx.block_number,
        "failure_reason": tx.failure_reason,
        "cancel_reason": tx.cancel_reason,
    }


def transactions_visible_to(user: User | AnonymousUser, queryset: Any) -> Any:
    """`queryset` narrowed to the multisigs whose transactions `user` may see (as transaction_visible_to)."""
    if not user.is_authenticated:
        return queryset.none()
    if user.is_superuser or user.groups.filter(name=Role.MANAGER).exists():
        return queryset
    kinds = set(Signer.objects.filter(user_id=user.pk).values_list("multisig", flat=True))
    if user.groups.filter(name=Role.OPERATOR).exists():
        kinds.add(MultisigRole.ISSUANCE)
    return queryset.filter(multisig__in=kinds)
