"""Publishing the proof of reserve: the worker computes it, the cache holds it, every request reads it.

Why: a public page anyone can reload must not turn each visit into node calls (four per visit before,
at a tenth of the speed of a plain page), nor wait on a node that is slow or down. So the worker reads the
chain and the database every RESERVE_PUBLISH_SECONDS (beat) and right after anything that moves the
figures commits (a snapshot, an executed issue or redeem, a gold price accepted, an audit accepted or
disputed: `reserve_publish_soon`), and stores the answer, down to the rendered JSON, under one key.

A cold cache (a fresh deployment, a flushed or restarted cache) is answered from the database alone,
never from the node: the gold, its price and the pending issues as the database holds them now, against
the supply and block of the last reserve snapshot, published with that snapshot's time as `as_of` and
`read_from: "snapshot"`; a refresh is queued at the same time. Serving figures the worker read a few
minutes ago, saying so, is better than an error, and better than making a visitor wait on the node. With
no snapshot at all there is nothing honest to publish yet: the API answers 503 `not_yet_published`.

When the worker cannot read the chain (node down, another chain, no token contract), it publishes that
(503 `chain_unavailable`, a notice on the page) rather than keep older figures: as before, a figure is
published only from a successful read of the right chain.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from rest_framework.renderers import JSONRenderer

from backoffice.chain.client import ChainClient, ChainError
from backoffice.core.tasks import task_enqueue_on_commit
from backoffice.journal.selectors import journal_anchor_figures, journal_anchor_last

from ..selectors import audit_last_accepted, bars_audited
from .chart import reserve_chart_svg
from .figures import audit_figures, history_figures, reserve_display, reserve_figures
from .selectors import (
    BARS_CSV_URL_PLACEHOLDER,
    PublicReserve,
    Published,
    ReadFrom,
    Unavailable,
    reserve_history_get,
    reserve_public_from_snapshot,
    reserve_public_get,
    reserve_published_key,
    reserve_published_remember,
)
from .serializers import ReserveSerializer

logger = logging.getLogger(__name__)

# While a refresh waits in the queue, more reasons to refresh need no second message: the waiting one reads
# what they committed. The task clears this as it starts; the timeout only frees a message the broker lost.
QUEUED_KEY = "reserve-publish-queued"
QUEUED_SECONDS = 60


def _published_make(public: PublicReserve | None, *, as_of: datetime, read_from: str, unavailable: str) -> Published:
    """Everything the page and the API show, from `public` (None: unavailable) and the database."""
    history = reserve_history_get()
    audit = audit_figures(audit_last_accepted())
    chart = reserve_chart_svg(history)
    figures = display = api_json = None
    if public is not None:
        figures = {**reserve_figures(public), "as_of": as_of, "read_from": read_from}
        display = reserve_display(figures)
        payload = {
            **figures,
            "last_accepted_audit": audit,
            "bars_count": bars_audited().count(),
            "bars_csv_url": BARS_CSV_URL_PLACEHOLDER,
            "history": history_figures(history),
            "journal_anchor": journal_anchor_figures(journal_anchor_last()),
        }
        # Rendered once here, so that a request only copies bytes; the serializer is the one the schema shows.
        api_json = JSONRenderer().render(ReserveSerializer(payload).data)
    return Published(as_of=as_of, read_from=read_from, figures=figures, unavailable=unavailable, display=display,
                     audit=audit, chart=str(chart or ""), history_count=len(history), api_json=api_json)


def reserve_publish(*, client: ChainClient) -> Published:
    """Worker: read the reserve now (chain and database) and publish it to every request that follows.
    A chain that cannot be read is published as unavailable (logged), never as figures."""
    cache.delete(QUEUED_KEY)  # from here on, a new reason to refresh needs a new message
    now = timezone.now()
    try:
        public: PublicReserve | None = reserve_public_get(client=client)
        unavailable = ""
    except ChainError as exc:
        logger.warning("reserve-publish chain=unavailable error=%s", exc)
        public, unavailable = None, Unavailable.CHAIN
    published = _published_make(public, as_of=now, read_from=ReadFrom.CHAIN, unavailable=unavailable)
    cache.set(reserve_published_key(), published, timeout=None)  # replaced by the next refresh, never expired
    reserve_published_remember(published)
    logger.info("reserve-publish block=%s unavailable=%s", public.reserve.block_number if public else None,
                unavailable or "no")
    return published


def reserve_published_fallback() -> Published:
    """A cold cache: the figures from the database and the last snapshot (module docstring), kept until the
    worker's refresh, which is queued now. Nothing here asks the node."""
    found = reserve_public_from_snapshot()
    if found is None:
        published = _published_make(None, as_of=timezone.now(), read_from=ReadFrom.SNAPSHOT,
                                    unavailable=Unavailable.NOT_YET_PUBLISHED)
    else:
        public, taken_at = found
        published = _published_make(public, as_of=taken_at, read_from=ReadFrom.SNAPSHOT, unavailable="")
    # `add`: never over what the worker has published meanwhile; expiring, so it is made again from newer
    # rows if the worker does not come.
    cache.add(reserve_published_key(), published, timeout=settings.RESERVE_PUBLISH_SECONDS)
    _publish_enqueue()
    return published


def reserve_published_forget() -> None:
    """Nothing published any more, here and in the cache, and no refresh waiting: a cold cache (tests, and
    an operator who wants the figures read afresh before anything else is served)."""
    cache.delete_many([reserve_published_key(), QUEUED_KEY])
    reserve_published_remember(None)


def reserve_publish_soon() -> None:
    """Have the worker publish the figures again once the current transaction commits (at once outside
    one): for the services whose changes move them."""
    transaction.on_commit(_publish_enqueue)


def _publish_enqueue() -> None:
    if cache.add(QUEUED_KEY, True, timeout=QUEUED_SECONDS):
        from ..tasks import reserve_publish_task  # here: the tasks module imports the services

        task_enqueue_on_commit(reserve_publish_task)
