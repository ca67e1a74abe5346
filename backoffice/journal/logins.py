"""Failed logins in the journal, without letting anonymous traffic grow it without bound.

Each failure increments a counter for its source (the request's IP) and minute (LoginFailureWindow).
Only the first failure of a (source, minute) is journalled as `auth.login_failed`, with its username
and origin; once the minute is over, a window that saw more than one failure is journalled once as
`auth.login_failed_summary` (source, minute, count) and the counter row is removed. So a source adds
at most two entries a minute however fast it guesses, and beyond LOGIN_FAILURE_SOURCES_PER_MINUTE
sources in one minute the rest share one window ("*"), so the journal gains at most
2 x (cap + 1) entries a minute. No failure goes uncounted: the summaries are written by the next
failure after the minute and by a periodic task (`login_failures_summarise_task`), whichever is first.

The username is kept only when it names an existing user. Anything else may well be a password typed
into the wrong field, so it is replaced by UNKNOWN_USERNAME: the journal never holds it, in any form.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from .context import Origin
from .models import JournalEntry, LoginFailureWindow
from .services import journal_record

logger = logging.getLogger(__name__)

UNKNOWN_USERNAME = "(not a user: not stored)"
OVERFLOW_SOURCE = "*"


def login_username_kept(typed: str) -> str:
    """The typed username if it names a user (NULs removed, as PostgreSQL refuses them); else the marker."""
    name = str(typed).replace("\x00", "")[:150]
    if name and get_user_model().objects.filter(username=name).exists():
        return name
    return UNKNOWN_USERNAME


def _window_count(source: str, minute: datetime) -> bool:
    """Count one failure; True when it is the first of its window. A window the summariser removed
    meanwhile (it was taken for a past minute) is created again, so the failure is still counted."""
    for _ in range(3):
        window, created = LoginFailureWindow.objects.get_or_create(source=source, minute=minute)
        if LoginFailureWindow.objects.filter(pk=window.pk).update(failures=F("failures") + 1):
            return created
    raise RuntimeError(f"failed login from {source!r} could not be counted")  # never seen: the window keeps vanishing


def login_failure_record(*, username: str, origin: Origin, now: datetime | None = None) -> JournalEntry | None:
    """Count a failed login; journal it if it is the first from its source this minute.

    Returns the entry written, or None when the failure was only counted (it appears in the
    window's summary). Past windows are summarised first.
    """
    now = now or timezone.now()
    minute = now.replace(second=0, microsecond=0)
    login_failures_summarise(before=minute)
    source = origin.ip or ""
    with transaction.atomic():
        known = LoginFailureWindow.objects.filter(source=source, minute=minute).exists()
        if not known and LoginFailureWindow.objects.filter(minute=minute).count() >= \
                settings.LOGIN_FAILURE_SOURCES_PER_MINUTE:
            source = OVERFLOW_SOURCE
        if not _window_count(source, minute):
            return None
        kept = login_username_kept(username)
        return journal_record(
            action="auth.login_failed",
            actor_username="" if kept == UNKNOWN_USERNAME else kept,
            data={"username": kept, "minute": minute.isoformat(), "source": source},
            origin=origin,
        )


def login_failures_summarise(*, before: datetime) -> int:
    """Journal one summary per window of a minute before `before` that counted more than one failure,
    and remove those windows. Windows another process is counting into or summarising are skipped
    (the next call takes them). Returns the number of windows closed."""
    with transaction.atomic():
        windows = list(LoginFailureWindow.objects.select_for_update(skip_locked=True)
                       .filter(minute__lt=before).order_by("minute", "source")[:500])
        for window in windows:
            if window.failures > 1:
                journal_record(
                    action="auth.login_failed_summary",
                    data={"source": window.source, "minute": window.minute.isoformat(), "failures": window.failures},
                    origin=Origin(ip=window.source if window.source not in ("", OVERFLOW_SOURCE) else None),
                )
        LoginFailureWindow.objects.filter(pk__in=[w.pk for w in windows]).delete()
    if windows:
        logger.info("login-failure-windows closed=%s", len(windows))
    return len(windows)
