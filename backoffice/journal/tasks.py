"""Thin periodic tasks of the journal."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from backoffice.chain.client import ChainUnavailable, chain_client
from backoffice.core.leases import lease_held

from .anchors import journal_anchor_run
from .logins import login_failures_summarise
from .models import AnchorState


@shared_task(acks_late=False, soft_time_limit=50, time_limit=60)
def login_failures_summarise_task() -> int:
    """Close the failed-login windows of past minutes, even when no further failure comes to do it."""
    return login_failures_summarise(before=timezone.now().replace(second=0, microsecond=0))


# Longer than the task's hard time limit, so a run never loses the lease to the next one.
ANCHOR_LEASE_SECONDS = 150


@shared_task(autoretry_for=(ChainUnavailable,), retry_backoff=True, retry_backoff_max=60, max_retries=8,
             acks_late=True, soft_time_limit=90, time_limit=120)
def journal_anchor_task() -> str:
    """Periodic (JOURNAL_ANCHOR_SECONDS): publish the journal's head on chain, or follow the anchor in
    flight; while it is not deep enough yet, look again shortly. Never two runs at once."""
    with lease_held(name="journal-anchor", seconds=ANCHOR_LEASE_SECONDS) as held:
        if not held:
            return "busy"
        anchor = journal_anchor_run(client=chain_client(), confirmations=settings.CHAIN_CONFIRMATIONS,
                                    wait_seconds=30)
    if anchor is None:
        return "nothing new"
    if anchor.state == AnchorState.SENT:
        journal_anchor_task.apply_async(countdown=10)
    return str(anchor.state)
