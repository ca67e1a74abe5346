"""The follower reacts to the receipt, not to a clock: it looks at once after sending, then backs off."""

from collections.abc import Iterator
from typing import Any

import pytest
from celery.signals import after_task_publish

from backoffice.chain.devkeys import dev_account
from backoffice.core.models import Lease
from backoffice.multisig.models import TxState
from backoffice.multisig.tasks import (
    FOLLOW_CEILING_SECONDS,
    FOLLOW_MAX_RETRIES,
    NONCE_WAIT_CEILING_SECONDS,
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
# and the follow it starts goes to a queue no worker consumes.
@pytest.mark.django_db
@pytest.mark.integration
def test_a_sent_transaction_is_followed_at_once_under_its_lease(chain, gold_backing, private_queue, published):
    tx = owners_sign(issue_propose(7_000_000, RECIPIENT))
    assert tx.state == TxState.APPROVED

    assert multisig_transaction_broadcast_task.apply(args=(tx.pk,)).get() == TxState.SUBMITTED
    follows = [headers for name, headers in published if name.endswith(".multisig_transaction_follow_task")]
    assert len(follows) == 1
    assert follows[0].get("eta") is None  # no countdown: it runs as soon as a worker takes it
    assert Lease.objects.filter(name=f"multisig-follow:{tx.pk}").exists()  # one chain, holding the lease
