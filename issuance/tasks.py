from __future__ import annotations

import logging

from celery import shared_task

from backoffice.chain.client import ChainUnavailable, chain_client

from .services import bar_list_import_run, reserve_snapshot_take

logger = logging.getLogger(__name__)


@shared_task(autoretry_for=(ChainUnavailable,), retry_backoff=True, max_retries=3)
def reserve_snapshot_task() -> int:
    """Periodic: one point of the reserve-versus-supply history."""
    snapshot = reserve_snapshot_take(client=chain_client())
    logger.info("reserve-snapshot id=%s supply=%s", snapshot.pk, snapshot.total_supply)
    return snapshot.pk


@shared_task(acks_late=True, soft_time_limit=600, time_limit=660)
def bar_list_import_task(job_id: int) -> str:
    job = bar_list_import_run(job_id=job_id)
    logger.info("bar-list-import id=%s state=%s bars=%s", job.pk, job.state, job.bars_saved)
    return str(job.state)
