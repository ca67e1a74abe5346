from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings

from backoffice.chain.client import ChainUnavailable, chain_client
from backoffice.core.leases import lease_held

from .public.services import reserve_publish
from .services import bar_list_import_run, bar_list_imports_recover, gold_price_feed_read, reserve_snapshot_take

logger = logging.getLogger(__name__)


@shared_task(autoretry_for=(ChainUnavailable,), retry_backoff=True, max_retries=3)
def reserve_snapshot_task() -> int:
    """Periodic: one point of the reserve-versus-supply history."""
    snapshot = reserve_snapshot_take(client=chain_client())
    logger.info("reserve-snapshot id=%s supply=%s", snapshot.pk, snapshot.total_supply)
    return snapshot.pk


# No retry: a chain that cannot be read is published as such, and beat asks again within seconds.
@shared_task(acks_late=False, soft_time_limit=30, time_limit=45)
def reserve_publish_task() -> str:
    """Periodic (RESERVE_PUBLISH_SECONDS), and after whatever moves the figures: the public proof of
    reserve read afresh and published to the cache every request reads."""
    published = reserve_publish(client=chain_client())
    return published.unavailable or "published"


# The sweep re-queues an import only after BAR_LIST_IMPORT_STALE_SECONDS without progress, which the
# settings keep above this hard limit: by then the worker that had it is certainly gone.
@shared_task(acks_late=True, soft_time_limit=settings.BAR_LIST_IMPORT_TIME_LIMIT - 60,
             time_limit=settings.BAR_LIST_IMPORT_TIME_LIMIT)
def bar_list_import_task(job_id: int) -> str:
    job = bar_list_import_run(job_id=job_id)
    logger.info("bar-list-import id=%s state=%s attempt=%s bars=%s", job.pk, job.state, job.attempts, job.bars_saved)
    return str(job.state)


# Longer than the sweep's hard time limit, so a running sweep never loses its lock to the next one.
SWEEP_LEASE_SECONDS = 100


@shared_task(acks_late=False, soft_time_limit=60, time_limit=90)
def bar_list_import_sweep_task() -> int:
    """Periodic: send again the imports nothing works on (a lost message, a killed worker), so no
    upload stays queued or running for ever. Never two at once."""
    with lease_held(name="bar-list-import-sweep", seconds=SWEEP_LEASE_SECONDS) as held:
        if not held:
            return 0
        return bar_list_imports_recover()


# Longer than the feed task's hard time limit, so a slow read never loses its lock to the next one.
GOLD_FEED_LEASE_SECONDS = 60


@shared_task(autoretry_for=(ChainUnavailable,), retry_backoff=True, max_retries=3, soft_time_limit=30,
             time_limit=45)
def gold_price_feed_task() -> str:
    """Periodic (GOLD_PRICE_POLL_SECONDS): read the XAU/USD feed and record the reading, accepted or
    refused with its reason. Never two at once."""
    with lease_held(name="gold-price-feed", seconds=GOLD_FEED_LEASE_SECONDS) as held:
        if not held:
            return ""
        entry = gold_price_feed_read(client=chain_client())
    logger.info("gold-price-feed id=%s state=%s usd_per_oz=%s", entry.pk, entry.state, entry.usd_per_oz)
    return str(entry.state)
