"""Thin tasks: re-fetch by primary key, call one service, retry only when the node is unreachable."""

from __future__ import annotations

import logging

from celery import Task, shared_task
from django.conf import settings
from django.db import IntegrityError

from backoffice.chain.client import ChainError, ChainUnavailable, chain_client

from .models import TxState
from .services import multisig_transaction_broadcast, multisig_transaction_follow

logger = logging.getLogger(__name__)


@shared_task(bind=True, autoretry_for=(ChainUnavailable,), retry_backoff=True, retry_backoff_max=60,
             max_retries=8, acks_late=True)
def multisig_transaction_broadcast_task(self: Task, transaction_id: int) -> str:
    try:
        tx = multisig_transaction_broadcast(client=chain_client(), transaction_id=transaction_id)
    except IntegrityError as exc:
        # Another broadcast claimed the same relayer nonce first: sign again with the next one.
        raise self.retry(exc=exc, countdown=1) from exc
    except ChainError as exc:
        if isinstance(exc, ChainUnavailable):
            raise
        # An earlier nonce is still pending: wait for it rather than fail.
        logger.info("multisig-tx=%s waiting reason=%s", transaction_id, exc)
        raise self.retry(exc=exc, countdown=5) from exc
    if tx.state in (TxState.BROADCASTING, TxState.SUBMITTED):
        multisig_transaction_follow_task.apply_async((transaction_id,), countdown=1)
    logger.info("multisig-tx=%s state=%s", transaction_id, tx.state)
    return str(tx.state)


@shared_task(bind=True, autoretry_for=(ChainUnavailable,), retry_backoff=True, retry_backoff_max=60,
             max_retries=8, acks_late=True)
def multisig_transaction_follow_task(self: Task, transaction_id: int) -> str:
    tx = multisig_transaction_follow(client=chain_client(), transaction_id=transaction_id,
                                     confirmations=settings.CHAIN_CONFIRMATIONS)
    if tx.state in (TxState.BROADCASTING, TxState.SUBMITTED):
        # Not final yet: look again shortly (bounded; the periodic sweep catches anything beyond).
        raise self.retry(countdown=2, max_retries=300)
    logger.info("multisig-tx=%s state=%s", transaction_id, tx.state)
    return str(tx.state)
