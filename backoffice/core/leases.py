"""Leases: named, expiring, exclusive claims kept in the database.

Periodic scanners and follow chains take one so two never run at once. They are not kept in the
cache: the demo's file cache `add` is not atomic (several processes "win" the same key), and the
database is the one store every configuration shares (SQLite in the demo, PostgreSQL elsewhere).

Exclusivity comes from the database alone:
- a new lease is an INSERT, and the primary key lets exactly one process make it;
- an expired lease is taken over by an UPDATE conditioned on its expiry, whose row count says who
  won (PostgreSQL re-checks the condition on the new row after waiting for a competing update;
  SQLite runs one writer at a time);
- renew and release are conditioned on the holder's token, so a holder whose lease expired and was
  taken over can no longer extend or drop the new holder's lease.
Times are the database's clock, so processes on hosts whose clocks differ still agree on expiry.

Call these outside any transaction (each statement then commits at once): inside one, the lease is
seen by others only when it commits, and until then a competitor's insert waits.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.db import IntegrityError, models, transaction
from django.db.models.functions import Now

from .models import Lease

logger = logging.getLogger(__name__)


def _expiry(seconds: float) -> models.Expression:
    return models.ExpressionWrapper(Now() + timedelta(seconds=seconds), output_field=models.DateTimeField())


def lease_acquire(*, name: str, seconds: float) -> str | None:
    """Take the lease `name` for `seconds` if nobody holds it (or its holder's time ran out).

    Returns the holder's token (needed to renew and release it), or None when someone else holds
    it. Never blocks waiting for the holder."""
    token = secrets.token_hex(16)
    expires_at = _expiry(seconds)
    if Lease.objects.filter(name=name, expires_at__lte=Now()).update(holder=token, expires_at=expires_at):
        logger.info("lease=%s taken-over-after-expiry", name)
        return token
    try:
        # A savepoint when called inside a transaction, so losing the race leaves it usable.
        with transaction.atomic():
            Lease.objects.create(name=name, holder=token, expires_at=expires_at)
    except IntegrityError:
        return None  # held, or a competitor inserted it first
    return token


def lease_renew(*, name: str, token: str, seconds: float) -> bool:
    """Extend the lease to `seconds` from now, only for its holder. False when the lease was
    released or taken over (after it expired): the caller no longer holds it and must stop."""
    return Lease.objects.filter(name=name, holder=token).update(expires_at=_expiry(seconds)) == 1


def lease_release(*, name: str, token: str) -> None:
    """Give the lease up, only for its holder (a lease taken over by another stays theirs)."""
    Lease.objects.filter(name=name, holder=token).delete()


@contextmanager
def lease_held(*, name: str, seconds: float) -> Iterator[bool]:
    """A non-blocking lock for the duration of the block: yields whether it was taken, and
    releases it after. `seconds` must exceed the longest the block can run (e.g. the task's hard
    time limit), so the lease never lapses while its holder still works."""
    token = lease_acquire(name=name, seconds=seconds)
    try:
        yield token is not None
    finally:
        if token is not None:
            lease_release(name=name, token=token)
