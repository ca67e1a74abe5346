"""Start-up checks: a process that would execute with a key that also approves does not start."""

from __future__ import annotations

import logging
from typing import Any

from django.core.checks import CheckMessage, Error
from django.db import DatabaseError

from backoffice.chain.client import ChainError

logger = logging.getLogger(__name__)


def executor_key_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """MULTISIG_EXECUTOR_KEY_FILE must be readable, hold private keys, and none of their addresses may
    be bound to a signer (the executor never approves). Django runs it before runserver and migrate;
    the Celery worker runs it when it starts (see apps.py)."""
    from .kinds import executor_accounts

    try:
        executor_accounts()
    except ChainError as exc:
        return [Error(str(exc), id="multisig.E001", hint="fix MULTISIG_EXECUTOR_KEY_FILE or the signer bindings")]
    except DatabaseError:
        return []  # no tables yet (before the first migrate): nothing can be bound
    return []


def worker_refuse_bad_executor(**kwargs: Any) -> None:
    """Celery `worker_init`: refuse to start (SystemExit, which Celery's signal dispatch does not
    swallow) when the executor key check fails."""
    errors = executor_key_check()
    if errors:
        logger.critical("worker refused to start: %s", errors[0].msg)
        raise SystemExit(f"worker refused to start: {errors[0].msg}")
