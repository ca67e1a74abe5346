"""Thin tasks: send one notification's mail (retried with backoff while the mail server fails), and
the sweep that sends what a lost message or a dead worker left pending."""

from __future__ import annotations

import smtplib

from celery import shared_task

from backoffice.core.leases import lease_held

from .notifications import notification_mail_send, notifications_unsent

# What a mail server that is down, refuses for now or times out raises: worth trying again.
MAIL_TRANSIENT = (smtplib.SMTPException, OSError)


@shared_task(autoretry_for=MAIL_TRANSIENT, retry_backoff=True, retry_backoff_max=600, max_retries=10,
             acks_late=True, soft_time_limit=60, time_limit=90)
def notification_mail_task(notification_id: int) -> bool:
    return notification_mail_send(notification_id=notification_id)


@shared_task(acks_late=False, soft_time_limit=60, time_limit=90)
def notifications_sweep_task() -> int:
    """Periodic: re-queue pending mails no worker is sending. Never two at once."""
    with lease_held(name="notifications-sweep", seconds=100) as held:
        if not held:
            return 0
        pending = notifications_unsent()
        for pk in pending:
            notification_mail_task.delay(pk)
        return len(pending)
