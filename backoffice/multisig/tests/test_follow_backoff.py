"""The follower reacts to the receipt, not to a clock: it looks at once after sending, then backs off."""

from collections.abc import Iterator
from typing import Any

import pytest
from celery.signals import after_task_publish

from backoffice.chain.devkeys import dev_account
from backoffice.core.leases import lease_acquire
from backoffice.core.models import Lease
from backoffice.multisig.models import MultisigTransaction, TxState
from backoffice.multisig.tasks import (
    FOLLOW_CEILING_SECONDS,
    FOLLOW_MAX_RETRIES,
    NONCE_WAIT_CEILING_SECONDS,
    follow_start,
    multisig_transaction_broadcast_task,
    retry_countdown,
)
from backoffice.multisig.tests.helpers import issue_propose, owners_sign

RECIPIENT = dev_account(19).address


def test_the_follower_looks_again_after_a_quarter_second_then_backs_off_to_every_two_seconds():
    assert [retry_countdown(n, ceiling=FOLLOW_CEILING_SECONDS) for n in range(7)] == [0.25, 0.5, 1, 2, 2, 2, 2]


def test_the_follow_chain_stays_bounded_to_about_ten_minutes_before_the_sweep_takes_over():
    looks = [retry_countdown(n, ceiling=FOLLOW_CEILING_SECONDS) for n in range(FOLLOW_MAX_RETRIES)]
    assert 9 * 60 < sum(looks) < 11 * 60


def test_waiting_for_an_earlier_nonce_starts_short_and_never_exceeds_three_seconds():
    assert [retry_countdown(n, ceiling=NONCE_WAIT_CEILING_SECONDS) for n in range(6)] == [0.25, 0.5, 1, 2, 3, 3]


def test_a_retry_count_far_beyond_the_schedule_still_waits_the_ceiling():
    assert retry_countdown(10_000, ceiling=FOLLOW_CEILING_SECONDS) == FOLLOW_CEILING_SECONDS


@pytest.fixture
def published() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """(task name, message headers) of what this process sends to the broker during the test."""
    sent: list[tuple[str, dict[str, Any]]] = []

    def record(sender: str | None = None, headers: dict[str, Any] | None = None, **_: object) -> None:
        sent.append((str(sender), dict(headers or {})))

    after_task_publish.connect(record, weak=False)
    yield sent
    after_task_publish.disconnect(record)


# Not transactional: nothing commits, so no on-commit broadcast reaches a worker; the broadcast runs here
# and a follow it starts goes to a queue no worker consumes.
@pytest.mark.django_db
@pytest.mark.integration
def test_the_broadcaster_looks_once_right_after_sending_and_settles_what_is_mined(
        chain, gold_backing, private_queue, published):
    tx = owners_sign(issue_propose(7_000_000, RECIPIENT))
    assert tx.state == TxState.APPROVED

    # anvil mines on receipt: the broadcaster's own first look finds the receipt, no follow chain is needed
    assert multisig_transaction_broadcast_task.apply(args=(tx.pk,)).get() == TxState.EXECUTED
    assert MultisigTransaction.objects.get(pk=tx.pk).state == TxState.EXECUTED
    assert not [name for name, _ in published if name.endswith(".multisig_transaction_follow_task")]
    assert not Lease.objects.filter(name=f"multisig-follow:{tx.pk}").exists()  # released once settled


@pytest.mark.django_db
@pytest.mark.integration
def test_what_is_not_final_at_the_first_look_is_handed_to_one_follow_chain_a_quarter_second_later(
        chain, gold_backing, private_queue, published, settings):
    settings.CHAIN_CONFIRMATIONS = 3  # mined, but not deep enough yet: the first look cannot settle it
    tx = owners_sign(issue_propose(7_100_000, RECIPIENT))

    assert multisig_transaction_broadcast_task.apply(args=(tx.pk,)).get() == TxState.SUBMITTED
    follows = [headers for name, headers in published if name.endswith(".multisig_transaction_follow_task")]
    assert len(follows) == 1
    assert follows[0].get("eta") is not None  # 0.25 s on: the broadcaster has just looked
    assert Lease.objects.filter(name=f"multisig-follow:{tx.pk}").exists()  # one chain, holding the lease


@pytest.mark.django_db
def test_no_follow_starts_while_another_chain_holds_the_lease(published):
    holder = lease_acquire(name="multisig-follow:4242", seconds=90)
    assert follow_start(4242) is None
    assert published == []
    assert Lease.objects.get(name="multisig-follow:4242").holder == holder
