"""A transaction that ends without using its nonce never leaves a gap nor live signatures behind."""

import pytest
from django.contrib.auth import get_user_model

from backoffice.chain.client import chain_client
from backoffice.chain.devkeys import dev_account
from backoffice.multisig.models import MultisigTransaction, TxState
from backoffice.multisig.services import (
    multisig_transaction_broadcast,
    multisig_transaction_reject,
)
from backoffice.multisig.tests.helpers import issue_propose, owners_sign

pytestmark = [pytest.mark.django_db, pytest.mark.integration]
User = get_user_model()


def _issue(amount: int) -> MultisigTransaction:
    return issue_propose(amount, dev_account(17).address)


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


def _priced() -> None:
    """A gold price but no audited gold: what refuses the issues below is the collateral, not the price."""
    from issuance.tests.factories import price_record

    price_record(operator=User.objects.get(username="operator"), usd_per_oz="2650.0000")


def _collateral_refused(reason: str) -> bool:
    """The headroom, or (when earlier tests left tokens on the session's chain) the coverage floor."""
    return "exceeds the headroom" in reason or "below the floor" in reason


def test_an_approved_transaction_refused_by_a_guard_gets_its_nonce_burned(chain):
    """No gold: the collateral guard refuses the issue in the broadcaster, after 3 owners signed."""
    _priced()
    tx = owners_sign(_issue(10**12))
    failed = multisig_transaction_broadcast(client=chain_client(), transaction_id=tx.pk)
    assert failed.state == TxState.FAILED and _collateral_refused(failed.failure_reason)
    assert failed.relayer_tx_hash == ""  # nothing was sent
    rejection = MultisigTransaction.objects.get(replaces=failed)
    assert (rejection.nonce, rejection.state) == (failed.nonce, TxState.AWAITING_SIGNATURES)


def test_the_collateral_guard_reads_the_signed_calldata_not_the_description(chain):
    """An issue described as something else is still an issue: the guard decodes what owners sign."""
    _priced()
    tx = owners_sign(issue_propose(10**12, dev_account(17).address, decoded={"function": "pause"}))
    refused = multisig_transaction_broadcast(client=chain_client(), transaction_id=tx.pk)
    assert refused.state == TxState.FAILED and _collateral_refused(refused.failure_reason)
