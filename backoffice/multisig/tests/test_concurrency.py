"""Races and crashes: seven owners at once, and a worker that dies between storing and sending."""

import threading
import time

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from backoffice.chain.client import chain_client, relayer_account
from backoffice.chain.devkeys import dev_account
from backoffice.chain.selectors import deployment_get
from backoffice.journal.models import JournalEntry
from backoffice.multisig.models import Confirmation, MultisigTransaction, TxState
from backoffice.multisig.services import (
    SignatureRefused,
    _broadcast_prepare,
    confirmation_add,
)
from backoffice.multisig.tests.helpers import follow_settled, issue_propose, owner_signature, tx_wait

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]
RECIPIENT = dev_account(18).address


def _propose(amount: int) -> MultisigTransaction:
    return issue_propose(amount, RECIPIENT)


def test_seven_owners_confirming_at_once_produce_exactly_one_broadcast(chain, gold_backing, celery_worker):
    client = chain_client()
    tx = _propose(7_000_000)
    signatures = {n: owner_signature(tx, n) for n in range(1, 8)}
    owners = {n: get_user_model().objects.get(username=f"owner{n}") for n in range(1, 8)}
    relayer_nonce = client.account_nonce(relayer_account().address)
    start, outcomes = threading.Barrier(7), {}

    def sign(n: int) -> None:
        try:
            start.wait()
            confirmation_add(client=chain_client(), transaction_id=tx.pk, signature=signatures[n], actor=owners[n])
            outcomes[n] = "accepted"
        except SignatureRefused as exc:
            outcomes[n] = str(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=sign, args=(n,)) for n in range(1, 8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    accepted = [n for n, outcome in outcomes.items() if outcome == "accepted"]
    assert len(accepted) == 3, outcomes
    assert all("takes no more signatures" in o for o in outcomes.values() if o != "accepted"), outcomes
    assert Confirmation.objects.filter(transaction=tx).count() == 3

    tx = tx_wait(tx.pk, {TxState.EXECUTED, TxState.FAILED})
    assert tx.state == TxState.EXECUTED, tx.failure_reason
    time.sleep(1)  # let any stray second broadcast show itself
    assert client.account_nonce(relayer_account().address) == relayer_nonce + 1  # one relayer transaction
    journal = JournalEntry.objects.filter(object_id=str(tx.pk))
    assert journal.filter(action="multisig.multisigtransaction.broadcast").count() == 1
    assert journal.filter(action="multisig.multisigtransaction.approve").count() == 1


def test_two_broadcasters_racing_on_one_transaction_send_it_once(chain, gold_backing):
    """No worker here: two broadcasters (threads) take the same approved row at the same moment."""
    from backoffice.multisig.services import multisig_transaction_broadcast

    client, token = chain_client(), deployment_get().token
    supply, relayer_nonce = client.token_total_supply(token), client.account_nonce(relayer_account().address)
    tx = _propose(4_000_000)
    for n in (1, 2, 3):
        confirmation_add(client=client, transaction_id=tx.pk, signature=owner_signature(tx, n),
                         actor=get_user_model().objects.get(username=f"owner{n}"))
    start, errors = threading.Barrier(2), []

    def broadcast() -> None:
        try:
            start.wait()
            multisig_transaction_broadcast(client=chain_client(), transaction_id=tx.pk)
        except BaseException as exc:  # noqa: BLE001 - reported to the main thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=broadcast) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    done = follow_settled(tx.pk)
    assert done.state == TxState.EXECUTED, done.failure_reason
    assert client.account_nonce(relayer_account().address) == relayer_nonce + 1
    assert client.token_total_supply(token) == supply + 4_000_000


def test_a_stale_broadcaster_never_marks_an_executed_transaction_failed(chain, gold_backing):
    """A redelivered task holding an old view (approved) arrives after the transaction executed: the
    multisig nonce has moved, yet the row must stay executed."""
    from backoffice.multisig.services import multisig_transaction_broadcast

    client = chain_client()
    tx = _propose(5_000_000)
    for n in (1, 2, 3):
        confirmation_add(client=client, transaction_id=tx.pk, signature=owner_signature(tx, n),
                         actor=get_user_model().objects.get(username=f"owner{n}"))
    stale = MultisigTransaction.objects.get(pk=tx.pk)
    assert stale.state == TxState.APPROVED
    multisig_transaction_broadcast(client=client, transaction_id=tx.pk)
    assert follow_settled(tx.pk).state == TxState.EXECUTED

    after = _broadcast_prepare(client=client, tx=stale)
    assert after.state == TxState.EXECUTED and after.failure_reason == ""
