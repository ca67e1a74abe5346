"""Shared by the multisig tests that wait on the real Celery worker."""

from __future__ import annotations

import time

from backoffice.multisig.models import MultisigTransaction


def tx_wait(tx_id: int, states: set[str], timeout: float = 60) -> MultisigTransaction:
    """Poll the row until it reaches one of `states` (or the timeout; the caller asserts the state)."""
    deadline = time.monotonic() + timeout
    while True:
        tx = MultisigTransaction.objects.get(pk=tx_id)
        if tx.state in states or time.monotonic() > deadline:
            return tx
        time.sleep(0.1)


def owner_signature(tx: MultisigTransaction, owner_number: int) -> bytes:
    """Owner N's EIP-712 signature over `tx`, made from the typed data a wallet is served."""
    from eth_account import Account

    from backoffice.chain.devkeys import OWNER_INDEXES, dev_account
    from backoffice.multisig.services import safe_tx_of

    typed = safe_tx_of(tx).typed_data(chain_id=tx.chain_id, safe_address=tx.safe_address)
    return bytes(Account.sign_typed_data(dev_account(OWNER_INDEXES[owner_number - 1]).key,
                                         full_message=typed).signature)


def owners_sign(tx: MultisigTransaction, owner_numbers: tuple[int, ...] = (1, 2, 3)) -> MultisigTransaction:
    """Owners sign `tx` through the service, as the demo users bound to their keys; returns it fresh."""
    from django.contrib.auth import get_user_model

    from backoffice.chain.client import chain_client
    from backoffice.multisig.services import confirmation_add

    for n in owner_numbers:
        confirmation_add(client=chain_client(), transaction_id=tx.pk, signature=owner_signature(tx, n),
                         actor=get_user_model().objects.get(username=f"owner{n}"))
    return MultisigTransaction.objects.get(pk=tx.pk)


def issue_propose(amount: int, recipient: str, *, decoded: dict[str, object] | None = None) -> MultisigTransaction:
    """An issue of `amount` base units to `recipient`, proposed by the demo operator."""
    from django.contrib.auth import get_user_model

    from backoffice.chain.client import chain_client
    from backoffice.chain.selectors import deployment_get
    from backoffice.multisig.models import MultisigRole
    from backoffice.multisig.services import multisig_transaction_propose

    client = chain_client()
    return multisig_transaction_propose(
        client=client, multisig=MultisigRole.ISSUANCE, to=deployment_get().token,
        data=client.token_calldata("issue", recipient, amount),
        decoded=decoded if decoded is not None else {"function": "issue", "to": recipient, "amount": str(amount)},
        actor=get_user_model().objects.get(username="operator"))
