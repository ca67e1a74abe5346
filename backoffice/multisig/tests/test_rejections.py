"""A transaction that ends without using its nonce never leaves a gap nor live signatures behind."""

import pytest
from django.contrib.auth import get_user_model
from eth_account import Account

from backoffice.chain.client import chain_client
from backoffice.chain.devkeys import OWNER_INDEXES, dev_account
from backoffice.chain.selectors import deployment_get
from backoffice.multisig.models import Multisig, MultisigTransaction, TxState
from backoffice.multisig.services import (
    confirmation_add,
    multisig_transaction_broadcast,
    multisig_transaction_propose,
    multisig_transaction_reject,
    safe_tx_of,
)

pytestmark = [pytest.mark.django_db, pytest.mark.integration]
User = get_user_model()


def _issue(amount: int) -> MultisigTransaction:
    client = chain_client()
    return multisig_transaction_propose(
        client=client, multisig=Multisig.ISSUANCE, to=deployment_get().token,
        data=client.token_calldata("issue", dev_account(17).address, amount),
        decoded={"function": "issue", "to": dev_account(17).address, "amount": str(amount)},
        actor=User.objects.get(username="operator"))


def test_rejecting_a_transaction_that_later_nonces_wait_on_proposes_a_rejection(chain):
    first, second = _issue(1_000_000), _issue(2_000_000)
    assert second.nonce == first.nonce + 1
    multisig_transaction_reject(transaction_id=first.pk, reason="wrong recipient",
                                actor=User.objects.get(username="owner4"))
    rejection = MultisigTransaction.objects.get(replaces=first)
    assert (rejection.nonce, rejection.state, rejection.to, bytes(rejection.data)) == (
        first.nonce, TxState.AWAITING_SIGNATURES, first.safe_address, b"")


def test_rejecting_the_last_queued_transaction_frees_its_nonce_without_a_rejection(chain):
    only = _issue(1_000_000)
    multisig_transaction_reject(transaction_id=only.pk, reason="not needed",
                                actor=User.objects.get(username="owner4"))
    assert not MultisigTransaction.objects.filter(replaces=only).exists()
    assert _issue(1_000_000).nonce == only.nonce  # the freed nonce is used again


def test_an_approved_transaction_refused_by_a_guard_gets_its_nonce_burned(chain):
    """No gold: the collateral guard refuses the issue in the broadcaster, after 3 owners signed."""
    tx = _issue(10**12)
    typed = safe_tx_of(tx).typed_data(chain_id=tx.chain_id, safe_address=tx.safe_address)
    for n in (1, 2, 3):
        signature = Account.sign_typed_data(dev_account(OWNER_INDEXES[n - 1]).key, full_message=typed).signature
        confirmation_add(client=chain_client(), transaction_id=tx.pk, signature=signature,
                         actor=User.objects.get(username=f"owner{n}"))
    failed = multisig_transaction_broadcast(client=chain_client(), transaction_id=tx.pk)
    assert failed.state == TxState.FAILED and "exceeds the headroom" in failed.failure_reason
    assert failed.relayer_tx_hash == ""  # nothing was sent
    rejection = MultisigTransaction.objects.get(replaces=failed)
    assert (rejection.nonce, rejection.state) == (failed.nonce, TxState.AWAITING_SIGNATURES)


def test_the_collateral_guard_reads_the_signed_calldata_not_the_description(chain):
    """An issue described as something else is still an issue: the guard decodes what owners sign."""
    client = chain_client()
    tx = multisig_transaction_propose(
        client=client, multisig=Multisig.ISSUANCE, to=deployment_get().token,
        data=client.token_calldata("issue", dev_account(17).address, 10**12),
        decoded={"function": "pause"}, actor=User.objects.get(username="operator"))
    typed = safe_tx_of(tx).typed_data(chain_id=tx.chain_id, safe_address=tx.safe_address)
    for n in (1, 2, 3):
        signature = Account.sign_typed_data(dev_account(OWNER_INDEXES[n - 1]).key, full_message=typed).signature
        confirmation_add(client=client, transaction_id=tx.pk, signature=signature,
                         actor=User.objects.get(username=f"owner{n}"))
    refused = multisig_transaction_broadcast(client=client, transaction_id=tx.pk)
    assert refused.state == TxState.FAILED and "exceeds the headroom" in refused.failure_reason
