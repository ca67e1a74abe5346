"""What the hot paths cost in node requests, counted on a real anvil (a count is deterministic, unlike a
time): accepting a signature asks one eth_call, a broadcast at most six, settling from a receipt one."""

import pytest
from django.contrib.auth import get_user_model

from backoffice.chain.client import chain_client
from backoffice.chain.devkeys import dev_account
from backoffice.multisig.models import TxState
from backoffice.multisig.services import (
    confirmation_add,
    multisig_transaction_broadcast,
    multisig_transaction_follow,
)
from backoffice.multisig.tests.helpers import issue_propose, owner_signature, owners_sign

pytestmark = [pytest.mark.django_db, pytest.mark.integration]
RECIPIENT = dev_account(17).address


def test_accepting_a_signature_asks_the_node_one_eth_call(chain):
    client, tx = chain_client(), issue_propose(1_000_000, RECIPIENT)
    with client.request_count() as counted:
        confirmation_add(client=client, transaction_id=tx.pk, signature=owner_signature(tx, 1),
                         actor=get_user_model().objects.get(username="owner1"))
    assert counted.methods == ["eth_call"]


def test_proposing_reads_the_multisig_nonce_and_threshold_in_one_request(chain):
    client = chain_client()
    with client.request_count() as counted:
        issue_propose(1_000_000, RECIPIENT)
    assert (counted.round_trips, counted.methods) == (1, ["eth_call", "eth_call"])


def test_a_broadcast_makes_at_most_six_node_requests_and_settling_it_one(chain, gold_backing):
    client = chain_client()
    tx = owners_sign(issue_propose(1_000_000, RECIPIENT))
    client.chain_id_check()  # asked once per client, before its first write: not part of every broadcast
    with client.request_count() as counted:
        sent = multisig_transaction_broadcast(client=client, transaction_id=tx.pk)
    assert sent.state == TxState.SUBMITTED
    # The multisig nonce, the guard's supply at the head (block number, totalSupply), the relayer's nonce,
    # one batch (gas, base fee, tip), the raw transaction.
    assert counted.round_trips <= 6, counted.methods
    assert "eth_chainId" not in counted.methods
    assert counted.methods.count("eth_sendRawTransaction") == 1

    with client.request_count() as counted:
        done = multisig_transaction_follow(client=client, transaction_id=tx.pk, confirmations=1)
    assert done.state == TxState.EXECUTED, done.failure_reason
    assert counted.methods == ["eth_getTransactionReceipt"]
