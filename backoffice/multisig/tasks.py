"""Thin tasks: re-fetch by primary key, call one service, retry only when the node is unreachable."""

from __future__ import annotations

import logging

from celery import Task, shared_task
from django.conf import settings
from django.db import IntegrityError

from backoffice.chain.client import ChainClient, ChainError, ChainUnavailable, chain_client
from backoffice.core.leases import lease_acquire, lease_held, lease_release, lease_renew

from .models import SENDING_STATES, MultisigTransaction, TxState
from .onchain import raw_submission_process
from .services import (
    multisig_transaction_after_execution,
    multisig_transaction_broadcast,
    multisig_transaction_follow,
    multisig_transaction_reorg_check,
    multisig_transactions_recently_executed,
    multisig_transactions_unsettled,
)

logger = logging.getLogger(__name__)


def retry_countdown(retries: int, *, ceiling: float) -> float:
    """Seconds before the next look after `retries` earlier looks came too soon: 0.25, 0.5, 1, 2 ...
    doubling up to `ceiling`. Short at first, because on a fast chain (anvil automining, an L2) the answer
    is there almost at once; longer later, so a slow chain is not asked several times a second."""
    return min(0.25 * 2 ** min(retries, 16), ceiling)


# The follower's looks for a receipt: 0.25, 0.5, 1, then every 2 s, about ten minutes in all (the sweep
# starts a new chain for what is still unsettled after that).
FOLLOW_CEILING_SECONDS = 2.0
FOLLOW_MAX_RETRIES = 300
# Waiting for an earlier multisig nonce to be executed: the same start, never more than 3 s apart.
NONCE_WAIT_CEILING_SECONDS = 3.0


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
        raise self.retry(exc=exc, countdown=retry_countdown(self.request.retries, ceiling=NONCE_WAIT_CEILING_SECONDS),
                         max_retries=20) from exc
    if tx.state in SENDING_STATES:
        tx = follow_start(transaction_id) or tx
    logger.info("multisig-tx=%s state=%s", transaction_id, tx.state)
    return str(tx.state)


# One follow run never outlives the lease it renewed when it started: the lease is longer than the
# follow task's hard time limit, so no second chain can take it over while a run is under way.
FOLLOW_TIME_LIMIT = 75
FOLLOW_LEASE_SECONDS = FOLLOW_TIME_LIMIT + 15


def _follow_lease(transaction_id: int) -> str:
    return f"multisig-follow:{transaction_id}"


def _follow_once(client: ChainClient, transaction_id: int, lease: str) -> MultisigTransaction | None:
    """One look for the receipt by the holder of the follow lease: the settled row (the lease released, the
    after-execution step run once an execution is committed), or None while it is still being sent."""
    tx = multisig_transaction_follow(client=client, transaction_id=transaction_id,
                                     confirmations=settings.CHAIN_CONFIRMATIONS)
    if tx.state in SENDING_STATES:
        return None
    lease_release(name=_follow_lease(transaction_id), token=lease)
    if tx.state == TxState.EXECUTED:
        multisig_transaction_after_execution(client=client, transaction_id=transaction_id)
    return tx


def follow_start(transaction_id: int) -> MultisigTransaction | None:
    """Right after sending: take the follow lease and look once, here (on a chain that mines on receipt the
    receipt is already there, and a queued follow would wait behind whatever the queue holds); if it is not
    final, hand the lease to a follow chain that looks again after 0.25, 0.5, 1, then every 2 s. The settled
    row, or None (another chain follows it, or this one does now). The one look is a few node requests,
    each bounded by CHAIN_RPC_TIMEOUT, far inside the lease."""
    token = lease_acquire(name=_follow_lease(transaction_id), seconds=FOLLOW_LEASE_SECONDS)
    if token is None:
        return None  # a chain follows it already
    try:
        settled = _follow_once(chain_client(), transaction_id, token)
    except Exception as exc:  # noqa: BLE001 - whatever went wrong, the chain below looks again with its retries
        logger.info("multisig-tx=%s first-look-failed reason=%s", transaction_id, exc)
        settled = None
    if settled is not None:
        return settled
    try:
        multisig_transaction_follow_task.apply_async((transaction_id,), {"lease": token},
                                                     countdown=retry_countdown(0, ceiling=FOLLOW_CEILING_SECONDS))
    except Exception:
        lease_release(name=_follow_lease(transaction_id), token=token)  # no chain started: the next sweep starts one
        raise
    return None


@shared_task(bind=True, autoretry_for=(ChainUnavailable,), retry_backoff=True, retry_backoff_max=60,
             max_retries=8, acks_late=True, soft_time_limit=FOLLOW_TIME_LIMIT - 15, time_limit=FOLLOW_TIME_LIMIT)
def multisig_transaction_follow_task(self: Task, transaction_id: int, lease: str = "") -> str:
    # Renewed before any work: a chain whose lease expired and was taken over (or a message from
    # before leases, without a token) stops here, so two chains never follow the same transaction.
    if not lease_renew(name=_follow_lease(transaction_id), token=lease, seconds=FOLLOW_LEASE_SECONDS):
        logger.info("multisig-tx=%s follow-stopped reason=lease-held-by-another-chain", transaction_id)
        return "lease lost"
    tx = _follow_once(chain_client(), transaction_id, lease)
    if tx is None:
        # Not final yet: look again soon, then less often, under the same lease (bounded; the sweep
        # catches the rest). `retries` also counts the node's outages, after which 2 s apart is right.
        # The broadcaster's own first look counts as the first: this chain starts at 0.25 s.
        raise self.retry(countdown=retry_countdown(self.request.retries + 1, ceiling=FOLLOW_CEILING_SECONDS),
                         max_retries=FOLLOW_MAX_RETRIES)
    logger.info("multisig-tx=%s state=%s", transaction_id, tx.state)
    return str(tx.state)


# Longer than the sweep's hard time limit, so a running sweep never loses its lock to the next one.
SWEEP_LEASE_SECONDS = 100


@shared_task(acks_late=False, soft_time_limit=60, time_limit=90)
def multisig_sweep_task() -> int:
    """Periodic: re-queue approved-but-unsent and sent-but-unsettled transactions, so a lost message
    or a restarted worker loses nothing; re-check recent executions for reorgs. Never two at once."""
    with lease_held(name="multisig-sweep", seconds=SWEEP_LEASE_SECONDS) as held:
        if not held:
            return 0
        client = chain_client()
        for pk in multisig_transactions_recently_executed(client=client, depth=settings.MULTISIG_REORG_DEPTH):
            multisig_transaction_reorg_check(client=client, transaction_id=pk)
        pending = multisig_transactions_unsettled()
        for pk in pending:
            multisig_transaction_broadcast_task.delay(pk)
        return len(pending)


@shared_task(autoretry_for=(ChainUnavailable,), retry_backoff=True, retry_backoff_max=60, max_retries=8,
             acks_late=True)
def multisig_after_execution_task(transaction_id: int) -> None:
    """The after-execution hooks of a transaction the watcher saw executed (sent by an owner)."""
    multisig_transaction_after_execution(client=chain_client(), transaction_id=transaction_id)


@shared_task(autoretry_for=(ChainUnavailable,), retry_backoff=True, retry_backoff_max=60, max_retries=8,
             acks_late=True, soft_time_limit=30, time_limit=45)
def raw_submission_process_task(submission_id: int) -> str:
    return str(raw_submission_process(client=chain_client(), submission_id=submission_id).state)


@shared_task(acks_late=False, soft_time_limit=90, time_limit=120)
def reconcile_task() -> int:
    """Periodic: the reconciliation at the indexed block; new findings raise alerts. Never two at once;
    the next beat is the retry. Returns the number of new alerts."""
    from .reconciliation import reconciliation_run

    with lease_held(name="reconcile", seconds=150) as held:
        if not held:
            return 0
        try:
            _, alerts = reconciliation_run(client=chain_client())
        except ChainError as exc:
            logger.info("reconcile stopped reason=%s", exc)
            return 0
        return len(alerts)
