"""Thin tasks: re-fetch by primary key, call one service, retry only when the node is unreachable."""

from __future__ import annotations

import logging

from celery import Task, shared_task
from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError

from backoffice.chain.client import ChainError, ChainUnavailable, chain_client

from .models import TxState
from .services import (
    multisig_transaction_after_execution,
    multisig_transaction_broadcast,
    multisig_transaction_follow,
    multisig_transaction_reorg_check,
    multisig_transactions_recently_executed,
    multisig_transactions_unsettled,
)

logger = logging.getLogger(__name__)
UNSETTLED = (TxState.BROADCASTING, TxState.SUBMITTED)


@shared_task(bind=True, autoretry_for=(ChainUnavailable,), retry_backoff=True, retry_backoff_max=60,
             max_retries=8, acks_late=True)
def multisig_transaction_broadcast_task(self: Task, transaction_id: int) -> str:
    try:
        tx = multisig_transaction_broadcast(client=chain_client(), transaction_id=transaction_id)
    except IntegrityError as exc:
        # Another broadcast claimed the same relayer nonce first: sign again with the next one.
        raise self.retry(exc=exc, countdown=1) from exc
    except ChainUnavailable:
        raise
    except ChainError as exc:
        # An earlier nonce is still pending: wait for it (the sweep re-queues beyond the retries).
        logger.info("multisig-tx=%s waiting reason=%s", transaction_id, exc)
        raise self.retry(exc=exc, countdown=3, max_retries=20) from exc
    if tx.state in UNSETTLED:
        follow_schedule(transaction_id, countdown=1)
    logger.info("multisig-tx=%s state=%s", transaction_id, tx.state)
    return str(tx.state)


FOLLOW_LEASE_SECONDS = 30


def follow_schedule(transaction_id: int, *, countdown: int) -> bool:
    """Start a follow chain unless one holds the lease: sweeps and duplicate broadcasts must not
    multiply followers (each would replace fees and run the after-execution hooks on its own)."""
    if not cache.add(f"multisig-follow:{transaction_id}", "1", timeout=FOLLOW_LEASE_SECONDS):
        return False
    multisig_transaction_follow_task.apply_async((transaction_id,), countdown=countdown)
    return True


@shared_task(bind=True, autoretry_for=(ChainUnavailable,), retry_backoff=True, retry_backoff_max=60,
             max_retries=8, acks_late=True)
def multisig_transaction_follow_task(self: Task, transaction_id: int) -> str:
    client = chain_client()
    tx = multisig_transaction_follow(client=client, transaction_id=transaction_id,
                                     confirmations=settings.CHAIN_CONFIRMATIONS)
    if tx.state in UNSETTLED:
        # Not final yet: renew the lease and look again shortly (bounded; the sweep catches the rest).
        cache.set(f"multisig-follow:{transaction_id}", "1", timeout=FOLLOW_LEASE_SECONDS)
        raise self.retry(countdown=2, max_retries=300)
    cache.delete(f"multisig-follow:{transaction_id}")
    if tx.state == TxState.EXECUTED:
        multisig_transaction_after_execution(client=client, transaction_id=transaction_id)
    logger.info("multisig-tx=%s state=%s", transaction_id, tx.state)
    return str(tx.state)


@shared_task(acks_late=False, soft_time_limit=60, time_limit=90)
def multisig_sweep_task() -> int:
    """Periodic: re-queue approved-but-unsent and sent-but-unsettled transactions, so a lost message
    or a restarted worker loses nothing; re-check recent executions for reorgs. Never two at once."""
    if not cache.add("multisig-sweep-lock", "1", timeout=55):
        return 0
    try:
        client = chain_client()
        for pk in multisig_transactions_recently_executed(client=client, depth=settings.MULTISIG_REORG_DEPTH):
            multisig_transaction_reorg_check(client=client, transaction_id=pk)
        pending = multisig_transactions_unsettled()
        for pk in pending:
            multisig_transaction_broadcast_task.delay(pk)
        return len(pending)
    finally:
        cache.delete("multisig-sweep-lock")
