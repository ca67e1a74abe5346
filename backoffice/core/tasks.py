"""Celery messages sent after the database commits, never turning what it committed into an error.

A message is a side effect of a change already stored. When the broker cannot take it, the change
stands and the caller is answered success: the failure is logged, and the periodic sweeps, which work
from the database (approved transactions not yet sent, imports still queued), send the work later.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Task
from django.db import transaction
from kombu.exceptions import OperationalError

logger = logging.getLogger(__name__)

# What .delay() raises when the broker cannot be reached, after Celery's own publish retries: kombu
# wraps the transport's connection errors (Redis refusing or timing out) in OperationalError; OSError
# covers sockets and the filesystem transport's folders.
BROKER_UNREACHABLE: tuple[type[Exception], ...] = (OperationalError, OSError)


def task_enqueue_on_commit(task: Task, *args: Any) -> None:
    """Send `task(*args)` once the current transaction commits (at once outside a transaction).

    Never raises: a broker that cannot be reached is a warning, anything else an error with its
    traceback. Raising there would answer a server error for a change that is committed, and would
    skip the transaction's other on-commit callbacks."""
    transaction.on_commit(lambda: _enqueue(task, args))


def _enqueue(task: Task, args: tuple[Any, ...]) -> None:
    try:
        task.delay(*args)
    except BROKER_UNREACHABLE as exc:
        logger.warning("task=%s args=%s queued=false reason=broker-unreachable error=%r", task.name, list(args), exc)
    except Exception:
        # Deliberately broad: whatever failed, the commit has happened and cannot be undone by raising;
        # the traceback is logged as an error so a programming mistake is still seen.
        logger.exception("task=%s args=%s queued=false reason=unexpected-error", task.name, list(args))
