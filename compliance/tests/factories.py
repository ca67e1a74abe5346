"""Compliance test helpers: everything through the real services and a real anvil node."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from eth_account import Account

from backoffice.chain.client import chain_client
from backoffice.chain.devkeys import OFFICER_INDEXES, dev_account
from backoffice.multisig.models import MultisigTransaction, TxState
from backoffice.multisig.services import (
    confirmation_add,
    multisig_transaction_after_execution,
    multisig_transaction_broadcast,
    safe_tx_of,
)
from backoffice.multisig.tests.helpers import follow_settled
from compliance.models import Case
from compliance.services import case_open


def officer(n: int) -> User:
    return get_user_model().objects.get(username=f"officer{n}")


def case_for(address: str, *, by: int = 1) -> Case:
    return case_open(address=address, category="court_order", reference=f"CO-{address[-6:]}",
                     description="Freeze order from the district court", actor=officer(by))


def officer_sign(tx: MultisigTransaction, n: int) -> None:
    typed = safe_tx_of(tx).typed_data(chain_id=tx.chain_id, safe_address=tx.safe_address)
    signature = Account.sign_typed_data(dev_account(OFFICER_INDEXES[n - 1]).key, full_message=typed).signature
    confirmation_add(client=chain_client(), transaction_id=tx.pk, signature=signature, actor=officer(n))


def execute_here(tx: MultisigTransaction) -> MultisigTransaction:
    """The broadcaster, follower and after-execution hooks, run in the test process (the Celery path
    is proven by the spine and browser tests)."""
    client = chain_client()
    multisig_transaction_broadcast(client=client, transaction_id=tx.pk)
    done = follow_settled(tx.pk)
    assert done.state == TxState.EXECUTED, done.failure_reason
    multisig_transaction_after_execution(client=client, transaction_id=tx.pk)
    return done


def holder_fresh() -> str:
    """A fresh address no other test touches (the session's chain is shared), which anvil lets the test send
    from: impersonated, with gas money."""
    address = Account.create().address
    provider: Any = chain_client().w3.provider
    provider.make_request("anvil_impersonateAccount", [address])
    provider.make_request("anvil_setBalance", [address, hex(10**18)])
    return address


def transfer_from(sender: str, to: str, amount: int) -> dict[str, object]:
    """A plain ERC-20 transfer sent by an unlocked (or impersonated) anvil account; returns the receipt, raises
    on revert."""
    from backoffice.chain.selectors import deployment_get

    client = chain_client()
    token = client.contract("USDKG", deployment_get().token)
    tx_hash = token.functions.transfer(to, amount).transact({"from": sender})
    return dict(client.w3.eth.wait_for_transaction_receipt(tx_hash))
