"""Thin periodic tasks of the journal."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from .logins import login_failures_summarise


@shared_task(acks_late=False, soft_time_limit=50, time_limit=60)
def login_failures_summarise_task() -> int:
    """Close the failed-login windows of past minutes, even when no further failure comes to do it."""
    return login_failures_summarise(before=timezone.now().replace(second=0, microsecond=0))
