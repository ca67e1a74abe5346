"""Follow chains and the sweep take database leases: one follower per transaction, one sweep at a time."""

from collections.abc import Iterator
from datetime import timedelta

import pytest
from celery.signals import after_task_publish
from django.utils import timezone

from backoffice.chain.client import chain_client
from backoffice.chain.devkeys import dev_account
from backoffice.core.leases import lease_acquire
from backoffice.core.models import Lease
from backoffice.multisig.models import MultisigTransaction, TxState
from backoffice.multisig.services import multisig_transaction_broadcast
from backoffice.multisig.tasks import multisig_sweep_task, multisig_transaction_follow_task
from backoffice.multisig.tests.helpers import issue_propose, owners_sign

# Not transactional: nothing commits, so no on-commit message reaches a worker; the tasks run here.
pytestmark = [pytest.mark.django_db, pytest.mark.integration]
RECIPIENT = dev_account(16).address


@pytest.fixture
def published() -> Iterator[list[str]]:
    """Names of the tasks this process sends to the broker during the test."""
    sent: list[str] = []

    def record(sender: str | None = None, **_: object) -> None:
        sent.append(str(sender))

    after_task_publish.connect(record, weak=False)
    yield sent
    after_task_publish.disconnect(record)


def _submitted_issue(amount: int) -> MultisigTransaction:
    tx = owners_sign(issue_propose(amount, RECIPIENT))
    sent = multisig_transaction_broadcast(client=chain_client(), transaction_id=tx.pk)
    assert sent.state == TxState.SUBMITTED
    return sent


def test_a_follow_chain_whose_lease_was_taken_over_stops_and_only_the_new_holder_settles(chain, gold_backing):
    tx = _submitted_issue(5_000_000)
    name = f"multisig-follow:{tx.pk}"
    stale = lease_acquire(name=name, seconds=90)
    Lease.objects.filter(name=name).update(expires_at=timezone.now() - timedelta(seconds=1))  # its run was slow
    current = lease_acquire(name=name, seconds=90)  # a second chain, started by the sweep
    assert stale and current and stale != current

    assert multisig_transaction_follow_task.apply(args=(tx.pk,), kwargs={"lease": stale}).get() == "lease lost"
    assert MultisigTransaction.objects.get(pk=tx.pk).state == TxState.SUBMITTED  # the stale chain did nothing
    assert Lease.objects.get(name=name).holder == current

    assert multisig_transaction_follow_task.apply(args=(tx.pk,), kwargs={"lease": current}).get() == "executed"
    assert MultisigTransaction.objects.get(pk=tx.pk).state == TxState.EXECUTED
    assert not Lease.objects.filter(name=name).exists()  # released once settled


def test_the_sweep_does_nothing_while_another_sweep_holds_its_lease(chain, gold_backing, published):
    tx = owners_sign(issue_propose(6_000_000, RECIPIENT))
    assert tx.state == TxState.APPROVED  # what the sweep would re-queue
    assert lease_acquire(name="multisig-sweep", seconds=100) is not None
    assert multisig_sweep_task() == 0
    assert published == []
    assert MultisigTransaction.objects.get(pk=tx.pk).state == TxState.APPROVED
