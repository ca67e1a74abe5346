"""The chain watcher's periodic task: thin, never two at once."""

from __future__ import annotations

import logging

from celery import Task, shared_task
from django.conf import settings

from backoffice.core.leases import lease_held

from .client import ChainError, chain_client
from .watcher import chain_index_step

logger = logging.getLogger(__name__)

CHAIN_INDEX_TIME_LIMIT = 150
# Longer than the task's hard time limit, so a running step never loses its lease to the next one.
CHAIN_INDEX_LEASE_SECONDS = CHAIN_INDEX_TIME_LIMIT + 30


@shared_task(acks_late=False, soft_time_limit=CHAIN_INDEX_TIME_LIMIT - 30, time_limit=CHAIN_INDEX_TIME_LIMIT)
def chain_index_task() -> int:
    """Periodic: index the next batch of blocks; returns how many were indexed. Not retried: the
    next beat (CHAIN_INDEX_SECONDS) is the retry, and a missed beat loses nothing."""
    with lease_held(name="chain-index", seconds=CHAIN_INDEX_LEASE_SECONDS) as held:
        if not held:
            return 0
        try:
            progress = chain_index_step(client=chain_client(), max_blocks=settings.CHAIN_INDEX_BATCH_BLOCKS)
        except ChainError as exc:  # the node is down, or nothing is deployed yet: try again next beat
            logger.info("chain-index stopped reason=%s", exc)
            return 0
        return progress.indexed


@shared_task(bind=True, acks_late=False, soft_time_limit=CHAIN_INDEX_TIME_LIMIT - 30, time_limit=CHAIN_INDEX_TIME_LIMIT)
def chain_index_now_task(self: Task) -> int:
    """Asked for when someone says a transaction was sent (the signing page): index up to the head
    now instead of at the next beat. A run already under way may have read the head before that
    transaction was mined, so a busy lease means "look again in a second", a few times."""
    with lease_held(name="chain-index", seconds=CHAIN_INDEX_LEASE_SECONDS) as held:
        if not held:
            raise self.retry(countdown=1, max_retries=10)
        indexed, client = 0, chain_client()
        for _ in range(20):  # bounded: a long catch-up is the beat's work
            try:
                progress = chain_index_step(client=client, max_blocks=settings.CHAIN_INDEX_BATCH_BLOCKS)
            except ChainError as exc:
                logger.info("chain-index-now stopped reason=%s", exc)
                return indexed
            indexed += progress.indexed
            if progress.to_block < progress.from_block:
                break
        return indexed
