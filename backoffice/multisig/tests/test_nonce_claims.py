"""The relayer signs multisig executions and journal anchors, from different workers: a nonce is claimed
(chain.NonceClaim) in the database transaction that stores the signed bytes, so two transactions that
picked the same nonce at the same moment collide here, before either is sent, never on chain."""

import pytest
from django.utils import timezone

from backoffice.chain.client import chain_client, relayer_account
from backoffice.chain.devkeys import dev_account
from backoffice.chain.models import NonceClaim
from backoffice.chain.nonces import NonceTaken, nonce_next
from backoffice.journal.anchors import journal_anchor_publish
from backoffice.journal.models import JournalAnchor, JournalEntry
from backoffice.journal.services import journal_record
from backoffice.multisig.models import TxState
from backoffice.multisig.services import multisig_transaction_broadcast
from backoffice.multisig.tests.helpers import issue_propose, owners_sign

pytestmark = [pytest.mark.integration, pytest.mark.django_db]
RECIPIENT = dev_account(17).address


def test_the_next_nonce_is_past_a_claimed_transaction_not_yet_sent(chain):
    client, relayer = chain_client(), relayer_account().address
    pending = client.account_nonce(relayer)
    assert nonce_next(client, relayer) == pending
    anchor = JournalAnchor.objects.create(seq=1, entry_hash="b" * 64, chain_id=client.chain_id, sender=relayer,
                                          nonce=pending, tx_hash="0x" + "cd" * 32, raw_tx=b"stored, not yet sent",
                                          sent_at=timezone.now())
    NonceClaim.objects.create(chain_id=client.chain_id, address=relayer, nonce=pending,
                              purpose=f"journal.journalanchor {anchor.pk}")
    assert nonce_next(client, relayer) == pending + 1
    # Another chain's claims are not this chain's.
    NonceClaim.objects.create(chain_id=client.chain_id + 1, address=relayer, nonce=pending + 50, purpose="x")
    assert nonce_next(client, relayer) == pending + 1


def test_an_execution_that_picked_an_anchors_nonce_stores_and_sends_nothing_then_goes_out_at_the_next(
        chain, gold_backing, monkeypatch):
    client, relayer = chain_client(), relayer_account().address
    tx = owners_sign(issue_propose(1_000_000, RECIPIENT))
    assert tx.state == TxState.APPROVED
    journal_record(action="test.anchor-me")
    anchor = journal_anchor_publish(client=client)
    assert anchor is not None
    assert NonceClaim.objects.get(address=relayer, nonce=anchor.nonce).purpose == f"journal.journalanchor {anchor.pk}"

    # The broadcaster read the relayer's nonce a moment before the anchor was stored (the race).
    monkeypatch.setattr("backoffice.multisig.services.nonce_next", lambda client, address: anchor.nonce)
    entries = JournalEntry.objects.count()
    with pytest.raises(NonceTaken, match=f"nonce {anchor.nonce} of {relayer} was just taken by journal.journalanchor"):
        multisig_transaction_broadcast(client=client, transaction_id=tx.pk)
    tx.refresh_from_db()
    assert (tx.state, tx.relayer_tx_hash, tx.relayer_nonce) == (TxState.APPROVED, "", None)
    assert JournalEntry.objects.count() == entries
    assert client.transaction_get(anchor.tx_hash) is not None  # the anchor is what holds that nonce

    monkeypatch.undo()
    sent = multisig_transaction_broadcast(client=client, transaction_id=tx.pk)
    assert sent.state == TxState.SUBMITTED and sent.relayer_nonce == anchor.nonce + 1
    assert NonceClaim.objects.get(address=relayer, nonce=anchor.nonce + 1).purpose == (
        f"multisig.multisigtransaction {tx.pk}")
    assert client.transaction_get(sent.relayer_tx_hash) is not None
