from __future__ import annotations

import logging

from celery import shared_task

from backoffice.chain.client import ChainUnavailable, chain_client

from .services import register_refresh_all

logger = logging.getLogger(__name__)


@shared_task(autoretry_for=(ChainUnavailable,), retry_backoff=True, max_retries=3)
def register_refresh_task() -> int:
    """Periodic: re-read every register address from chain, so a mismatch shows without waiting."""
    count = register_refresh_all(client=chain_client())
    logger.info("frozen-register refreshed addresses=%s", count)
    return count
