"""Login throttling: per account (a lock a superuser lifts) and per source (refused for a window).

- Account: LOGIN_LOCK_FAILURES consecutive wrong passwords lock it (LoginLock.locked_at). A locked account
  does not log in, whatever the password (it is not even checked, so the lock tells nobody whether a
  guess was right), until a superuser lifts the lock in the admin. Lock and lift are journalled.
- Source (the request's REMOTE_ADDR): LOGIN_SOURCE_FAILURES failures within LOGIN_SOURCE_WINDOW_SECONDS
  refuse that source for LOGIN_SOURCE_WINDOW_SECONDS, whatever the account; unknown API tokens are
  counted the same way, in a counter of their own (tokens.py). The block is journalled once; each
  failed login is already journalled in aggregate per source and minute (backoffice.journal.logins).

Counters are database rows with unique keys, incremented under `select_for_update` in one transaction,
so concurrent attempts (threads, processes, several web servers) are all counted, on PostgreSQL and on
SQLite (whose transactions take the write lock as they begin).

Wired as the only authentication backend (ThrottledModelBackend, settings.AUTHENTICATION_BACKENDS), so
every password login (the admin's and any other form) goes through it. Why a refusal happened is left on
the request for the login form (ThrottledAdminAuthenticationForm) to say.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone

from backoffice.core.errors import InvalidInput
from backoffice.journal.context import Origin
from backoffice.journal.services import journal_record

from .models import LoginLock, SourceThrottle, ThrottleKind

logger = logging.getLogger(__name__)

LOCKED_MESSAGE = ("This account is locked after too many failed logins. Ask an administrator to lift the lock "
                  "(admin: Login locks).")
SOURCE_MESSAGE = ("Too many failed attempts from your address (429): try again in {minutes} minutes "
                  "or ask an administrator.")
REFUSAL_ATTRIBUTE = "login_refusal"  # set on the request by the backend, read by the login form


def _window() -> timedelta:
    return timedelta(seconds=int(settings.LOGIN_SOURCE_WINDOW_SECONDS))


def request_source(request: Any) -> str:
    """The source counted for a request: REMOTE_ADDR (never a forwarded header a client can write)."""
    return (Origin.from_request(request).ip or "")[:64] if request is not None else ""


# --- per source --------------------------------------------------------------------------------------------


def source_blocked_until(*, kind: str, source: str, now: datetime | None = None) -> datetime | None:
    """When the source's refusal ends, or None when it is not refused."""
    now = now or timezone.now()
    return (SourceThrottle.objects.filter(kind=kind, source=source, blocked_until__gt=now)
            .values_list("blocked_until", flat=True).first())


def source_failure_record(*, kind: str, source: str, origin: Origin | None = None,
                          now: datetime | None = None) -> SourceThrottle:
    """Count one failure from `source`; block it for a window once the count reaches LOGIN_SOURCE_FAILURES.

    The count restarts when the window begun by its first failure is over. The block is journalled once
    (`auth.source_blocked`); failures while blocked are counted without extending it.
    """
    now = now or timezone.now()
    limit = int(settings.LOGIN_SOURCE_FAILURES)
    with transaction.atomic():
        # Rows of sources long quiet: removed, so a spray of addresses does not grow the table for ever.
        SourceThrottle.objects.filter(kind=kind, window_started_at__lt=now - 2 * _window()).filter(
            Q(blocked_until__isnull=True) | Q(blocked_until__lt=now)).delete()
        SourceThrottle.objects.get_or_create(kind=kind, source=source, defaults={"window_started_at": now})
        row = SourceThrottle.objects.select_for_update().get(kind=kind, source=source)
        blocked = row.blocked_until is not None and row.blocked_until > now
        if not blocked and row.window_started_at <= now - _window():
            row.window_started_at, row.failures, row.blocked_until = now, 0, None
        row.failures += 1
        if not blocked and row.failures >= limit:
            row.blocked_until = now + _window()
            journal_record(action="auth.source_blocked", origin=origin or Origin(ip=source or None),
                           data={"kind": kind, "source": source, "failures": row.failures,
                                 "window_seconds": int(settings.LOGIN_SOURCE_WINDOW_SECONDS),
                                 "blocked_until": row.blocked_until.isoformat()})
            logger.warning("source-blocked kind=%s source=%s failures=%s", kind, source, row.failures)
        row.save(update_fields=["window_started_at", "failures", "blocked_until"])
    return row


def source_refusal_message(until: datetime) -> str:
    minutes = max(1, -(-int((until - timezone.now()).total_seconds()) // 60))
    return SOURCE_MESSAGE.format(minutes=minutes)


# --- per account -------------------------------------------------------------------------------------------


def account_is_locked(user: AbstractBaseUser) -> bool:
    return LoginLock.objects.filter(user_id=user.pk, locked_at__isnull=False).exists()


def account_failure_record(*, user: AbstractBaseUser, origin: Origin | None = None,
                           now: datetime | None = None) -> LoginLock:
    """Count one wrong password for `user`; lock the account when the count reaches LOGIN_LOCK_FAILURES.

    The lock is journalled once (`auth.account_locked`), with the count and the source of the last failure.
    """
    now = now or timezone.now()
    with transaction.atomic():
        LoginLock.objects.get_or_create(user_id=user.pk)
        lock = LoginLock.objects.select_for_update().get(user_id=user.pk)
        lock.failures += 1
        lock.last_failure_at = now
        if lock.locked_at is None and lock.failures >= int(settings.LOGIN_LOCK_FAILURES):
            lock.locked_at = now
            journal_record(action="auth.account_locked", obj=user, state_before="unlocked", state_after="locked",
                           origin=origin, data={"user": user.get_username(), "failures": lock.failures})
            logger.warning("account-locked user=%s failures=%s", user.pk, lock.failures)
        lock.save(update_fields=["failures", "last_failure_at", "locked_at"])
    return lock


def account_success_record(*, user: AbstractBaseUser) -> None:
    """A right password on an unlocked account: its consecutive failures start again from 0.
    Conditional, so it never unlocks an account a concurrent failure has just locked."""
    LoginLock.objects.filter(user_id=user.pk, locked_at__isnull=True, failures__gt=0).update(failures=0)


def user_is_lock_admin(user: User | AnonymousUser | AbstractBaseUser) -> bool:
    """Who lifts locks: superusers only (managers read and never act, roles.py)."""
    return bool(user.is_authenticated and user.is_active and getattr(user, "is_superuser", False))


def login_lock_lift(*, user_id: int, actor: User, reason: str = "") -> LoginLock:
    """Lift the lock on an account: it logs in again with its password, its failures counted from 0.

    Refuses (InvalidInput, nothing changed) an actor who is not a superuser and an account that is
    not locked (or unknown). Journalled as `auth.account_lock_lifted` by the actor.
    """
    if not user_is_lock_admin(actor):
        raise InvalidInput("Only a superuser may lift a login lock.")
    with transaction.atomic():
        lock = LoginLock.objects.select_for_update().select_related("user").filter(user_id=user_id).first()
        if lock is None or lock.locked_at is None:
            raise InvalidInput("This account is not locked: there is no lock to lift.")
        locked_at, failures = lock.locked_at, lock.failures
        lock.locked_at, lock.failures = None, 0
        lock.save(update_fields=["locked_at", "failures"])
        journal_record(action="auth.account_lock_lifted", actor=actor, obj=lock.user, state_before="locked",
                       state_after="unlocked", reason=reason,
                       data={"user": lock.user.get_username(), "locked_at": locked_at.isoformat(),
                             "failures": failures})
    logger.info("account-lock-lifted user=%s by=%s", user_id, actor.pk)
    return lock


# --- wiring --------------------------------------------------------------------------------------------------


def _refuse(request: Any, message: str) -> None:
    if request is not None:
        setattr(request, REFUSAL_ATTRIBUTE, message)
    # PermissionDenied stops django.contrib.auth.authenticate at this backend (no other backend is tried)
    # and still sends user_login_failed, so the journal's per-minute aggregate counts the attempt.
    raise PermissionDenied(message)


class ThrottledModelBackend(ModelBackend):
    """ModelBackend behind the per-source limit and the account lock."""

    def authenticate(
            self, request: HttpRequest | None, username: str | None = None, password: str | None = None,
            **kwargs: Any) -> User | None:
        user_model = get_user_model()
        if username is None:
            username = kwargs.get(user_model.USERNAME_FIELD)
        if username is None or password is None:
            return None
        source = request_source(request)
        origin = Origin.from_request(request) if request is not None else None
        until = source_blocked_until(kind=ThrottleKind.LOGIN, source=source) if request is not None else None
        if until is not None:
            source_failure_record(kind=ThrottleKind.LOGIN, source=source, origin=origin)
            _refuse(request, source_refusal_message(until))
        account = user_model._default_manager.filter(
            **{user_model.USERNAME_FIELD: str(username).replace("\x00", "")}).first()
        if account is not None and account_is_locked(account):
            if request is not None:
                source_failure_record(kind=ThrottleKind.LOGIN, source=source, origin=origin)
            _refuse(request, LOCKED_MESSAGE)
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            if account is not None:
                account_failure_record(user=account, origin=origin)
            if request is not None:
                source_failure_record(kind=ThrottleKind.LOGIN, source=source, origin=origin)
            return None
        account_success_record(user=user)
        return user

    async def aauthenticate(
            self, request: HttpRequest | None, username: str | None = None, password: str | None = None,
            **kwargs: Any) -> User | None:
        # ModelBackend's own async version would skip the throttle: the sync one, in a thread, instead.
        return await sync_to_async(self.authenticate)(request, username=username, password=password, **kwargs)


class ThrottledAdminAuthenticationForm(AdminAuthenticationForm):
    """The admin's login form, saying why a login was refused when it was locked or throttled."""

    def get_invalid_login_error(self) -> ValidationError:
        refusal = getattr(self.request, REFUSAL_ATTRIBUTE, None)
        if refusal:
            return ValidationError(refusal, code="throttled")
        return super().get_invalid_login_error()
