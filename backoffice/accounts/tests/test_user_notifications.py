"""Notifications: each event tells each user once, in the event's database transaction, and the mail
goes out once after commit however often the hook or the task runs; a kind a user turned off is not
mailed, alerts always are; preferences refuse what is not a kind that may be turned off."""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client, override_settings
from django.urls import reverse
from eth_account import Account

from backoffice.accounts.models import MailStatus, Notification, NotificationKind, NotificationPreference
from backoffice.accounts.notices import alert_raised_notify, transaction_proposed_notify
from backoffice.accounts.notifications import notification_mail_send, notification_preferences_set, notify
from backoffice.accounts.tasks import notification_mail_task
from backoffice.chain.client import chain_client
from backoffice.core.errors import InvalidInput
from backoffice.multisig.models import MultisigTransaction, ReconciliationAlert, Signer, TxState
from backoffice.multisig.services import _abandon
from backoffice.multisig.tests.helpers import consent_and_execute, issue_propose, owners_sign
from issuance.services.proposals import proposal_draft, proposal_propose

pytestmark = [pytest.mark.integration]

User = get_user_model()


def user(username: str, *, email: bool = True) -> Any:
    found = User.objects.get(username=username)
    found.email = f"{username}@example.test" if email else ""
    found.save(update_fields=["email"])
    return found


def deliver(*, times: int = 1) -> None:
    """What the worker does with each pending mail's task, `times` over (a redelivered message)."""
    for _ in range(times):
        for pk in Notification.objects.filter(mail_status=MailStatus.PENDING).values_list("pk", flat=True):
            notification_mail_task.apply(args=[pk]).get()


def mails_to(address: str) -> list[Any]:
    return [m for m in mail.outbox if m.to == [address]]


def test_a_proposal_asks_each_signer_once_and_mails_once_with_its_reference_and_link(
    chain: Any, gold_backing: Any, django_capture_on_commit_callbacks: Any
) -> None:
    owner1, owner2, operator = user("owner1"), user("owner2"), user("operator")
    user("owner3", email=False)
    client = chain_client()
    draft = proposal_draft(client=client, kind="issue", actor=operator, amount="1000",
                           recipient=Account.create().address, deposits=[gold_backing.pk])
    with django_capture_on_commit_callbacks() as callbacks:
        proposal = proposal_propose(client=client, proposal_id=draft.pk, actor=operator)
    tx = proposal.transaction
    assert tx is not None
    signers = set(Signer.objects.filter(multisig=tx.multisig).values_list("user_id", flat=True))
    told = Notification.objects.filter(kind=NotificationKind.APPROVAL_REQUESTED, transaction=tx)
    assert set(told.values_list("user_id", flat=True)) == signers and operator.pk not in signers
    assert told.get(user=owner1).title == f"{proposal.reference}: awaits your approval"
    assert told.get(user__username="owner3").mail_status == MailStatus.NO_ADDRESS
    # Only the mails to send are handed to the worker, after commit.
    assert len(callbacks) == told.filter(mail_status=MailStatus.PENDING).count()

    transaction_proposed_notify(tx)  # the hook again (a retried service): nobody is told twice
    assert told.count() == len(signers)
    assert mail.outbox == []  # nothing is mailed by the request itself
    deliver(times=2)  # the task redelivered: still one mail each
    assert len(mails_to(owner1.email)) == 1 and len(mails_to(owner2.email)) == 1
    message = mails_to(owner1.email)[0]
    assert proposal.reference in message.subject and proposal.reference in message.body
    assert f"http://127.0.0.1:8000{reverse('multisig:sign', args=[tx.pk])}" in message.body
    assert told.get(user=owner1).sent_at is not None and told.get(user=owner1).mail_status == MailStatus.SENT
    assert not told.filter(mail_status=MailStatus.PENDING).exists()


def test_threshold_execution_and_failure_tell_the_proposer_and_the_signers(chain: Any, gold_backing: Any) -> None:
    operator, owner2 = user("operator"), user("owner2")
    executed = consent_and_execute(issue_propose(1_000_000, Account.create().address), ["owner1", "owner2", "owner3"])
    assert executed.state == TxState.EXECUTED, executed.failure_reason
    kinds = set(Notification.objects.filter(user=operator, transaction=executed).values_list("kind", flat=True))
    assert kinds == {NotificationKind.THRESHOLD_REACHED, NotificationKind.EXECUTED}
    assert Notification.objects.filter(user=owner2, transaction=executed, kind=NotificationKind.EXECUTED).exists()

    approved = owners_sign(issue_propose(2_000_000, Account.create().address))
    assert approved.state == TxState.APPROVED
    failed = _abandon(approved, "refused before sending: the collateral guard says no")
    assert failed.state == TxState.FAILED
    _abandon(MultisigTransaction.objects.get(pk=failed.pk), "again")  # a second run: refused, nothing new
    notice = Notification.objects.get(user=operator, transaction=failed, kind=NotificationKind.FAILED)
    assert "the collateral guard says no" in notice.subject and "the collateral guard says no" in notice.body
    deliver()
    failures = [m for m in mails_to(operator.email) if "failed" in m.subject]
    assert len(failures) == 1 and failed.reference in failures[0].subject
    assert len([m for m in mails_to(operator.email) if "executed" in m.subject]) == 1


def test_a_kind_turned_off_is_not_mailed_but_alerts_always_are(chain: Any) -> None:
    owner1, owner2, manager = user("owner1"), user("owner2"), user("manager")
    notification_preferences_set(user=owner1, muted=[NotificationKind.APPROVAL_REQUESTED], actor=owner1)
    every_optional = [k for k in NotificationKind.values if k != NotificationKind.ALERT]
    notification_preferences_set(user=manager, muted=every_optional, actor=manager)
    tx = issue_propose(1_000_000, Account.create().address)
    assert Notification.objects.get(user=owner1, transaction=tx).mail_status == MailStatus.OFF
    alert = ReconciliationAlert.objects.create(key="check:test", kind="check", title="Supply differs", detail={},
                                               block_number=1)
    alert_raised_notify(alert)
    deliver()
    assert mails_to(owner1.email) == [] and len(mails_to(owner2.email)) == 1
    assert [m.subject for m in mails_to(manager.email)] == ["[USDKG back-office] Reconciliation alert: Supply differs"]
    # Still shown on owner 1's inbox, only not mailed.
    browser = Client()
    browser.force_login(owner1)
    assert f"{tx.reference}: awaits your approval" in browser.get("/admin/").content.decode()
    # A kind turned off after the notification was made, before its mail went out, is not mailed either.
    late = notify(users=[owner2], kind=NotificationKind.AUDIT_ASSIGNED, key="audit:test", subject="s", body="b")[0]
    assert late.mail_status == MailStatus.PENDING
    notification_preferences_set(user=owner2, muted=[NotificationKind.AUDIT_ASSIGNED], actor=owner2)
    assert notification_mail_send(notification_id=late.pk) is False
    late.refresh_from_db()
    assert late.mail_status == MailStatus.OFF and len(mails_to(owner2.email)) == 1


def test_bad_preferences_are_refused_and_change_nothing(chain: Any) -> None:
    owner1, owner2 = user("owner1"), user("owner2")
    notification_preferences_set(user=owner1, muted=[NotificationKind.EXECUTED], actor=owner1)
    for muted, message in (([NotificationKind.ALERT], "cannot be turned off"), (["bogus"], "unknown"),
                           ([NotificationKind.FAILED, "bogus"], "unknown")):
        with pytest.raises(InvalidInput, match=message):
            notification_preferences_set(user=owner1, muted=muted, actor=owner1)
    with pytest.raises(InvalidInput, match="only your own"):
        notification_preferences_set(user=owner1, muted=[], actor=owner2)
    assert NotificationPreference.objects.get(user=owner1).muted == [NotificationKind.EXECUTED]

    browser = Client()
    browser.force_login(owner1)
    url = reverse("accounts:notification-preferences")
    page = browser.get(url).content.decode()
    assert 'id="mailed-executed"' in page and 'id="mailed-alert"' in page
    refused = browser.post(url, {"mailed": ["threshold_reached", "nonsense"]})
    assert refused.status_code == 400 and "unknown notification kind nonsense" in refused.content.decode()
    assert NotificationPreference.objects.get(user=owner1).muted == [NotificationKind.EXECUTED]
    saved = browser.post(url, {"mailed": ["approval_requested", "executed", "failed", "audit_assigned"]})
    assert saved.status_code == 302
    assert NotificationPreference.objects.get(user=owner1).muted == [NotificationKind.THRESHOLD_REACHED]
    assert not NotificationPreference.objects.filter(user=owner2).exists()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_mail_server_that_fails_is_tried_again_and_the_mail_sent_once(chain: Any) -> None:
    owner1 = user("owner1")
    notice = notify(users=[owner1], kind=NotificationKind.AUDIT_ASSIGNED, key="audit:smtp", subject="Audit",
                    body="Yours")[0]
    with override_settings(EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend", EMAIL_HOST="127.0.0.1",
                           EMAIL_PORT=_closed_port(), EMAIL_USE_TLS=False, EMAIL_TIMEOUT=2):
        with pytest.raises(OSError):
            notification_mail_send(notification_id=notice.pk)
    notice.refresh_from_db()
    assert (notice.mail_status, notice.mail_claimed_at, notice.sent_at) == (MailStatus.PENDING, None, None)
    assert notification_mail_send(notification_id=notice.pk) is True
    assert notification_mail_send(notification_id=notice.pk) is False
    assert len(mails_to(owner1.email)) == 1


@pytest.mark.django_db(transaction=True)
def test_the_worker_mails_after_commit(chain: Any, celery_worker: str) -> None:
    auditor = user("auditor")
    notice = notify(users=[auditor], kind=NotificationKind.AUDIT_ASSIGNED, key="audit:worker", subject="Audit",
                    body="Yours")[0]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        notice.refresh_from_db()
        if notice.sent_at is not None:
            break
        time.sleep(0.2)
    assert notice.mail_status == MailStatus.SENT and notice.sent_at is not None
    assert notification_mail_send(notification_id=notice.pk) is False  # a redelivery sends nothing more


def test_an_audit_assigned_tells_its_auditor_who_reads_it_on_the_inbox(chain: Any, gold_backing: Any) -> None:
    from django.utils import timezone

    from issuance import services as issuance

    auditor, operator = user("auditor"), user("operator")
    audit = issuance.audit_plan(vault=gold_backing.vault, as_of=timezone.localdate(), auditor=auditor,
                                firm="Assay LLP", actor=operator)
    notice = Notification.objects.get(user=auditor, kind=NotificationKind.AUDIT_ASSIGNED, key=f"audit:{audit.pk}")
    assert notice.url == reverse("admin:issuance_audit_change", args=[audit.pk])
    assert not Notification.objects.filter(user=operator, kind=NotificationKind.AUDIT_ASSIGNED).exists()
    deliver()
    # Two: the backing fixture's audit was assigned to the same auditor just before (its demo address).
    mailed = [m for m in mail.outbox if "assigned to you" in m.subject]
    assert [m.to for m in mailed] == [[auditor.email]] * 2
    assert sum(f"/admin/issuance/audit/{audit.pk}/change/" in m.body for m in mailed) == 1

    browser = Client()
    browser.force_login(auditor)
    page = browser.get("/admin/").content.decode()
    # Two: the backing fixture's audit was assigned to the same auditor.
    assert f"Audit #{audit.pk} of" in page and "(2 unread)" in page
    assert browser.post(reverse("accounts:notifications-read")).status_code == 302
    notice.refresh_from_db()
    assert notice.read_at is not None and "unread" not in browser.get("/admin/").content.decode()


def test_the_sweep_finds_mails_a_lost_message_or_a_dead_worker_left(chain: Any) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from backoffice.accounts.notifications import notifications_unsent

    owner1 = user("owner1")
    lost, claimed, sent = (notify(users=[owner1], kind=NotificationKind.AUDIT_ASSIGNED, key=f"audit:sweep{n}",
                                  subject="s", body="b")[0] for n in range(3))
    long_ago = timezone.now() - timedelta(hours=1)
    Notification.objects.filter(pk__in=[lost.pk, claimed.pk, sent.pk]).update(created_at=long_ago)
    Notification.objects.filter(pk=claimed.pk).update(mail_claimed_at=timezone.now())  # a worker sends it now
    assert notification_mail_send(notification_id=sent.pk)
    assert notifications_unsent() == [lost.pk]
    Notification.objects.filter(pk=claimed.pk).update(mail_claimed_at=long_ago)  # that worker died
    assert notifications_unsent() == [lost.pk, claimed.pk]


@pytest.mark.parametrize("chain", ["usdkg"], indirect=True)
def test_on_chain_approvals_and_an_owners_execution_tell_the_proposer_once(chain: Any, gold_backing: Any) -> None:
    """The production multisig: the watcher counts the approvals and sees the owner's execution."""
    operator = user("operator")
    tx = consent_and_execute(issue_propose(1_000_000, Account.create().address), ["owner1", "owner2", "owner3"])
    assert tx.state == TxState.EXECUTED, tx.failure_reason
    told = Notification.objects.filter(user=operator, transaction=tx)
    assert sorted(told.values_list("kind", flat=True)) == [NotificationKind.EXECUTED,
                                                           NotificationKind.THRESHOLD_REACHED]
    deliver(times=2)
    assert sorted(m.subject.split(": ", 1)[1] for m in mails_to(operator.email)) == ["executed", "threshold reached"]
