"""What the multisig's events tell whom. Each function is the one hook of its event, called by the
service where the event happens, inside that event's database transaction.

- proposed: every signer of the multisig (but the proposer where four eyes keeps them from signing);
- threshold reached, executed, failed (with the reason): the proposer and the signers;
- a reconciliation alert: every manager (always mailed).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.urls import reverse

from backoffice.multisig.actions import transaction_display
from backoffice.multisig.models import MultisigRole, MultisigTransaction, ReconciliationAlert, Signer, TxState

from .models import NotificationKind
from .notifications import notify
from .roles import Role


def _signers(tx: MultisigTransaction) -> list[User]:
    return [s.user for s in Signer.objects.filter(multisig=tx.multisig).select_related("user")]


def _about(tx: MultisigTransaction) -> str:
    what = transaction_display(tx, details=False).get("description") or "a multisig transaction"
    return f"{what}\n{tx.get_multisig_display()} multisig, nonce {tx.nonce}. Status: {tx.status_label}."


def _tell(tx: MultisigTransaction, users: Iterable[User], kind: str, subject: str, body: str) -> None:
    notify(users=users, kind=kind, key=f"tx:{tx.pk}", subject=subject, body=f"{body}\n\n{_about(tx)}",
           url=reverse("multisig:sign", args=[tx.pk]), transaction_id=tx.pk)


def _proposer_and_signers(tx: MultisigTransaction) -> list[User]:
    users = _signers(tx)
    if tx.created_by is not None:
        users.append(tx.created_by)
    return users


def transaction_proposed_notify(tx: MultisigTransaction) -> None:
    """A transaction awaits signatures: its multisig's signers are asked to approve it."""
    four_eyes = settings.MULTISIG_FOUR_EYES and tx.multisig == MultisigRole.ISSUANCE
    users = [u for u in _signers(tx) if not (four_eyes and u.pk == tx.created_by_id)]
    _tell(tx, users, NotificationKind.APPROVAL_REQUESTED, "awaits your approval",
          "A proposal awaits your approval. Open the signing page to approve it (or reject it).")


def transaction_approved_notify(tx: MultisigTransaction) -> None:
    """The threshold of approvals is reached."""
    _tell(tx, _proposer_and_signers(tx), NotificationKind.THRESHOLD_REACHED, "threshold reached",
          f"The threshold of {tx.threshold} approvals is reached: the transaction is sent to the chain, or an "
          "owner executes it from the signing page.")


def transaction_settled_notify(tx: MultisigTransaction) -> None:
    """Executed or failed (with the reason); nothing for any other state."""
    if tx.state == TxState.EXECUTED:
        _tell(tx, _proposer_and_signers(tx), NotificationKind.EXECUTED, "executed",
              f"The transaction was executed on chain in block {tx.block_number} ({tx.relayer_tx_hash}).")
    elif tx.state == TxState.FAILED:
        _tell(tx, _proposer_and_signers(tx), NotificationKind.FAILED, f"failed: {tx.failure_reason}"[:150],
              f"The transaction failed: {tx.failure_reason or 'no reason given'}.")


def alert_raised_notify(alert: ReconciliationAlert) -> None:
    """A reconciliation finding, to every active manager; alerts cannot be turned off."""
    managers = get_user_model().objects.filter(groups__name=Role.MANAGER, is_active=True).distinct()
    notify(users=managers, kind=NotificationKind.ALERT, key=f"alert:{alert.pk}",
           subject=f"Reconciliation alert: {alert.title}",
           body=f"{alert.title}\n\nAt block {alert.block_number}.\n\n{alert.detail}\n\n"
                "Acknowledge it in the back-office once you know why.",
           url=reverse("reconciliation"))
