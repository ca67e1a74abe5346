"""The follower on a real anvil: a stuck transaction is replaced, a receipt lost to a reorg is redone."""

from contextlib import contextmanager

import pytest

from backoffice.chain.client import chain_client, relayer_account
from backoffice.chain.devkeys import dev_account
from backoffice.chain.selectors import deployment_get
from backoffice.multisig.models import MultisigTransaction, TxState
from backoffice.multisig.services import (
    multisig_transaction_broadcast,
    multisig_transaction_follow,
    multisig_transaction_reorg_check,
)
from backoffice.multisig.tests.helpers import follow_settled, issue_propose, owners_sign

pytestmark = [pytest.mark.django_db, pytest.mark.integration]
RECIPIENT = dev_account(17).address


def _rpc(method: str, *params: object) -> object:
    response = chain_client().w3.provider.make_request(method, list(params))  # type: ignore[arg-type]
    return response.get("result")


@contextmanager
def _automine_off():
    _rpc("evm_setAutomine", False)
    try:
        yield
    finally:
        _rpc("evm_setAutomine", True)


def _approved_issue(amount: int) -> MultisigTransaction:
    return owners_sign(issue_propose(amount, RECIPIENT))


def test_a_stuck_transaction_is_replaced_at_the_same_nonce_with_higher_fees(chain, gold_backing, settings):
    client, token = chain_client(), deployment_get().token
    supply = client.token_total_supply(token)
    tx = _approved_issue(11_000_000)
    settings.MULTISIG_STUCK_SECONDS = 0
    with _automine_off():
        sent = multisig_transaction_broadcast(client=client, transaction_id=tx.pk)
        assert sent.state == TxState.SUBMITTED and client.receipt(sent.relayer_tx_hash) is None
        replaced = multisig_transaction_follow(client=client, transaction_id=tx.pk, confirmations=1)
        assert replaced.previous_tx_hashes == [sent.relayer_tx_hash]
        assert replaced.relayer_tx_hash != sent.relayer_tx_hash
        assert replaced.relayer_nonce == sent.relayer_nonce
        _rpc("evm_mine")
    done = multisig_transaction_follow(client=client, transaction_id=tx.pk, confirmations=1)
    assert done.state == TxState.EXECUTED, done.failure_reason
    assert client.receipt(replaced.relayer_tx_hash) is not None  # the replacement is the one mined
    assert client.receipt(sent.relayer_tx_hash) is None
    assert client.token_total_supply(token) == supply + 11_000_000
    assert client.account_nonce(relayer_account().address) == sent.relayer_nonce + 1


def test_a_receipt_lost_to_a_reorg_is_followed_again_and_lands_once(chain, gold_backing):
    client, token = chain_client(), deployment_get().token
    supply = client.token_total_supply(token)
    tx = _approved_issue(13_000_000)
    snapshot = _rpc("evm_snapshot")
    multisig_transaction_broadcast(client=client, transaction_id=tx.pk)
    first = follow_settled(tx.pk)
    assert first.state == TxState.EXECUTED
    assert _rpc("evm_revert", snapshot) is True  # the block holding the receipt is gone
    _rpc("evm_mine")  # a different block now stands at that height

    moved = multisig_transaction_reorg_check(client=client, transaction_id=tx.pk)
    assert moved.state == TxState.SUBMITTED and moved.block_hash == ""
    again = multisig_transaction_follow(client=client, transaction_id=tx.pk, confirmations=1)
    if again.state == TxState.SUBMITTED:  # re-sent into the pool; mined with the next block
        again = multisig_transaction_follow(client=client, transaction_id=tx.pk, confirmations=1)
    assert again.state == TxState.EXECUTED
    assert again.block_hash != first.block_hash
    assert client.token_total_supply(token) == supply + 13_000_000


def test_stored_bytes_the_node_refuses_are_replaced_by_the_follower(chain, gold_backing, settings):
    """The worker stored its transaction and died; meanwhile the base fee rose above the stored fee
    cap, so the node refuses those bytes. The broadcaster must not loop on them: the follower replaces
    the transaction at the same relayer nonce with fees that fit, and it lands once."""
    from backoffice.multisig.services import _broadcast_prepare

    client, token = chain_client(), deployment_get().token
    supply = client.token_total_supply(token)
    tx = _approved_issue(17_000_000)
    stored = _broadcast_prepare(client=client, tx=tx)  # stored and committed; the worker "died" here
    try:
        _rpc("anvil_setNextBlockBaseFeePerGas", hex(10**12))
        _rpc("evm_mine")
        refused = multisig_transaction_broadcast(client=client, transaction_id=tx.pk)
        assert refused.state == TxState.BROADCASTING  # no exception, no retry loop on refused bytes
        assert client.receipt(stored.relayer_tx_hash) is None
        settings.MULTISIG_STUCK_SECONDS = 0
        replaced = multisig_transaction_follow(client=client, transaction_id=tx.pk, confirmations=1)
        assert replaced.previous_tx_hashes == [stored.relayer_tx_hash]
        assert replaced.relayer_nonce == stored.relayer_nonce
        done = follow_settled(tx.pk)
    finally:
        _rpc("anvil_setNextBlockBaseFeePerGas", hex(10**9))
    assert done.state == TxState.EXECUTED, done.failure_reason
    assert client.token_total_supply(token) == supply + 17_000_000
