"""Notifications: one mechanism for telling users what happened, on their inbox and by e-mail.

`notify` is called by the code where the event happens, inside that event's database transaction:
the rows are created with it (or not at all), and the mails are handed to the worker only after it
commits. (user, kind, key) is unique, so an event raised twice (a redelivered task, a retried hook)
tells each user once. The worker claims a notification before sending it, so a duplicate delivery
of the task sends nothing; a worker that died after claiming leaves it to the sweep.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from backoffice.core.errors import InvalidInput
from backoffice.core.tasks import task_enqueue_on_commit
from backoffice.journal.services import journal_record

from .models import ALWAYS_MAILED, MailStatus, Notification, NotificationKind, NotificationPreference

logger = logging.getLogger(__name__)

SUBJECT_PREFIX = "[USDKG back-office] "
# A claim older than this is taken for a worker that died before sending: the sweep sends it again.
CLAIM_SECONDS = 600


def absolute_url(path: str) -> str:
    """`path` on this site, for a mail (settings.SITE_URL)."""
    return f"{settings.SITE_URL.rstrip('/')}{path}" if path.startswith("/") else path


def kinds_muted(user: User) -> set[str]:
    preference = NotificationPreference.objects.filter(user_id=user.pk).first()
    return set(preference.muted) if preference else set()


def notify(*, users: Iterable[User], kind: str, key: str, subject: str, body: str, url: str = "",
           transaction_id: int | None = None) -> list[Notification]:
    """Tell each of `users` about one event (kind + key), once: a user already told is skipped.

    Call it inside the event's database transaction. Returns the notifications created now; their
    mails are sent by the worker after commit, unless the user turned the kind off or has no address."""
    if kind not in NotificationKind.values:
        raise ValueError(f"unknown notification kind {kind}")
    wanted = {u.pk: u for u in users if u.is_active}
    if not wanted:
        return []
    muted = {p.user_id: set(p.muted) for p in NotificationPreference.objects.filter(user_id__in=list(wanted))}
    created: list[Notification] = []
    with transaction.atomic():
        told = set(Notification.objects.filter(user_id__in=list(wanted), kind=kind, key=key)
                   .values_list("user_id", flat=True))
        rows = []
        for pk, user in sorted(wanted.items()):
            if pk in told:
                continue
            status = MailStatus.PENDING
            if kind not in ALWAYS_MAILED and kind in muted.get(pk, set()):
                status = MailStatus.OFF
            elif not user.email:
                status = MailStatus.NO_ADDRESS
            rows.append(Notification(user=user, kind=kind, key=key[:200], subject=subject[:200], body=body, url=url,
                                     mail_status=status, transaction_id=transaction_id))
        # A concurrent run that told the same user first wins; this one's row is dropped.
        Notification.objects.bulk_create(rows, ignore_conflicts=True)
        created = list(Notification.objects.filter(user_id__in=[r.user_id for r in rows], kind=kind, key=key[:200]))
    from .tasks import notification_mail_task

    for notification in created:
        if notification.mail_status == MailStatus.PENDING:
            task_enqueue_on_commit(notification_mail_task, notification.pk)
    return created


def notification_mail_send(*, notification_id: int) -> bool:
    """Send one notification's mail, exactly once however often it is asked: the row is claimed
    first (a second delivery finds it claimed or sent and does nothing), marked sent after.
    A mail server that fails releases the claim and raises, for the task to retry. Returns whether
    a mail went out."""
    now = timezone.now()
    claimable = Q(mail_claimed_at__isnull=True) | Q(mail_claimed_at__lt=now - timedelta(seconds=CLAIM_SECONDS))
    if not Notification.objects.filter(claimable, pk=notification_id, mail_status=MailStatus.PENDING).update(
            mail_claimed_at=now):
        return False
    notification = Notification.objects.select_related("user", "transaction").get(pk=notification_id)
    user = notification.user
    if notification.kind not in ALWAYS_MAILED and notification.kind in kinds_muted(user):
        Notification.objects.filter(pk=notification.pk).update(mail_status=MailStatus.OFF)
        return False
    if not user.email:
        Notification.objects.filter(pk=notification.pk).update(mail_status=MailStatus.NO_ADDRESS)
        return False
    link = f"\n\n{absolute_url(notification.url)}" if notification.url else ""
    try:
        send_mail(subject=SUBJECT_PREFIX + notification.title, from_email=None, recipient_list=[user.email],
                  message=f"{notification.title}\n\n{notification.body}{link}\n")
    except Exception:
        Notification.objects.filter(pk=notification.pk).update(mail_claimed_at=None)
        raise
    Notification.objects.filter(pk=notification.pk).update(mail_status=MailStatus.SENT, sent_at=timezone.now())
    logger.info("notification=%s kind=%s user=%s mailed=true", notification.pk, notification.kind, user.pk)
    return True


def notifications_unsent() -> list[int]:
    """Pending mails no worker is sending: the message was lost, or its worker died after claiming."""
    stale = timezone.now() - timedelta(seconds=CLAIM_SECONDS)
    return list(Notification.objects.filter(Q(mail_claimed_at__isnull=True) | Q(mail_claimed_at__lt=stale),
                                            mail_status=MailStatus.PENDING,
                                            created_at__lt=timezone.now() - timedelta(seconds=30))
                .order_by("pk").values_list("pk", flat=True)[:500])


def notifications_recent(user: User, *, limit: int = 10) -> list[Notification]:
    return list(Notification.objects.filter(user_id=user.pk).select_related(
        "transaction__replaces", *_subjects("transaction"), *_subjects("transaction__replaces"))[:limit])


def _subjects(prefix: str) -> list[str]:
    """select_related paths to the records that own a transaction (its reference comes from them), found
    from the model, so the kernel names no app."""
    from backoffice.multisig.models import MultisigTransaction

    return [f"{prefix}__{r.get_accessor_name()}" for r in MultisigTransaction._meta.related_objects
            if r.one_to_one and r.get_accessor_name()]


def notifications_unread_count(user: User) -> int:
    return Notification.objects.filter(user_id=user.pk, read_at__isnull=True).count()


def notifications_mark_read(*, user: User) -> int:
    """Every notification of `user` read now; returns how many were unread."""
    return Notification.objects.filter(user_id=user.pk, read_at__isnull=True).update(read_at=timezone.now())


def preferences_kinds() -> list[tuple[str, str, bool]]:
    """(kind, label, may be turned off) of every kind, for the preferences page."""
    return [(value, str(label), value not in ALWAYS_MAILED) for value, label in NotificationKind.choices]


def notification_preferences_set(*, user: User, muted: Iterable[str], actor: User) -> NotificationPreference:
    """Set the kinds `user` gets no mail for. Refuses (InvalidInput, nothing changed) an unknown kind,
    a kind that is always mailed (alerts), and anyone but the user themself."""
    if actor.pk != user.pk:
        raise InvalidInput("you may change only your own notification preferences")
    chosen = sorted({str(k) for k in muted})
    unknown = [k for k in chosen if k not in NotificationKind.values]
    if unknown:
        raise InvalidInput(f"muted: unknown notification kind {', '.join(unknown)}", field="muted")
    forced = [k for k in chosen if k in ALWAYS_MAILED]
    if forced:
        raise InvalidInput(f"muted: {', '.join(forced)} cannot be turned off", field="muted")
    with transaction.atomic():
        preference, _ = NotificationPreference.objects.select_for_update().get_or_create(user=user)
        before = list(preference.muted)
        preference.muted = chosen
        preference.save(update_fields=["muted", "updated_at"])
        journal_record(action="notifications.preferences_set", actor=actor, obj=preference,
                       data={"muted": chosen, "before": before})
    return preference
