"""Reads for the public proof of reserve. The reserve itself is `issuance.selectors.reserve_get`'s; what the
public is shown is what the worker last published (services.py), read from the cache."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet

from backoffice.chain.client import ChainClient, ChainError
from backoffice.chain.models import Deployment
from backoffice.chain.selectors import deployment_get

from ..models import Bar, ReserveSnapshot
from ..selectors import Reserve, bars_audited, reserve_at_supply, reserve_get

HISTORY_POINTS = 200
BARS_PER_PAGE = 50
# One row of the public CSV, in the order of its LBMA columns.
BarRow = tuple[str, str, int, Decimal, Decimal, Decimal, str]


@dataclass(frozen=True)
class PublicReserve:
    reserve: Reserve
    chain_id: int
    token: str  # checksummed: where anyone can read totalSupply for themselves


class ReadFrom:
    CHAIN = "chain"  # the worker read the supply at the block given, at `as_of`
    SNAPSHOT = "snapshot"  # the cache was cold: the supply of the last snapshot, taken at `as_of`


class Unavailable:
    CHAIN = "chain_unavailable"  # the worker's last attempt could not read the chain
    NOT_YET_PUBLISHED = "not_yet_published"  # nothing published yet and no snapshot to fall back on


@dataclass(frozen=True)
class Published:
    """The proof of reserve as the public is shown it, made once by the worker (or, on a cold cache, from
    the database) and served from the cache to every request: nothing here asks the node."""

    as_of: datetime  # when the supply was read (by the worker, or for the snapshot)
    read_from: str  # ReadFrom
    figures: dict[str, Any] | None  # figures.reserve_figures + as_of and read_from; None when unavailable
    unavailable: str  # "" or an Unavailable code: why there are no figures
    display: dict[str, str] | None  # figures.reserve_display
    audit: dict[str, str] | None
    chart: str  # the history's SVG; "" below two snapshots
    history_count: int
    # The GET /api/reserve/ body, rendered once, with BARS_CSV_URL_PLACEHOLDER where the absolute URL of the
    # CSV (it depends on the host the request came to) goes; None when unavailable.
    api_json: bytes | None


# Bumped whenever Published changes shape, so a deploy never unpickles the previous release's entries.
PUBLISHED_KEY_VERSION = 1
BARS_CSV_URL_PLACEHOLDER = "urn:usdkg:bars-csv-url"


def reserve_published_key() -> str:
    return f"reserve-published:v{PUBLISHED_KEY_VERSION}:{settings.CHAIN_ID}"


# Each process keeps what it last read for a second: a busy page then asks the cache (a round trip and a
# client object, ~0.2 ms: more than the rest of the request) once a second instead of on every request.
LOCAL_SECONDS = 1.0
_local: tuple[float, Published | None] = (0.0, None)  # (until, what) - replaced whole, so threads need no lock


def reserve_published_get() -> Published | None:
    """What the worker last published (at most LOCAL_SECONDS older than the cache); None when the cache
    holds nothing usable (cold, flushed, or an entry of an older shape)."""
    until, published = _local
    now = time.monotonic()
    if published is not None and now < until:
        return published
    try:
        found = cache.get(reserve_published_key())
    except Exception:  # noqa: BLE001 - an unreadable entry (a changed class) is a cold cache, not an error
        found = None
    published = found if isinstance(found, Published) else None
    reserve_published_remember(published)
    return published


def reserve_published_remember(published: Published | None) -> None:
    """This process's copy: what it read from the cache, or has just published itself (None: forget it)."""
    global _local
    _local = (time.monotonic() + LOCAL_SECONDS, published) if published is not None else (0.0, None)


def reserve_public_get(*, client: ChainClient) -> PublicReserve:
    """The reserve as `reserve_get` computes it, from the chain we are configured for and no other.

    Raises ChainError (shown as "chain unavailable") when nothing is deployed on CHAIN_ID, the node
    does not answer, it serves another chain id, or there is no code at the token address (the node
    was reset after `deploy_chain`): a published figure must never come from the wrong chain, and an
    empty answer from a missing contract must not read as a zero supply.
    """
    deployment = deployment_get()
    client.chain_id_check()
    if not client.code_exists(deployment.token):
        raise ChainError(f"no contract at the token address {deployment.token} on chain {deployment.chain_id}")
    return PublicReserve(reserve=reserve_get(client=client), chain_id=deployment.chain_id, token=deployment.token)


def reserve_public_from_snapshot() -> tuple[PublicReserve, datetime] | None:
    """The reserve from the database alone, for a cold cache: the gold, its price, the pending issues as
    they are now (the database is where they live), and the supply and block of the last snapshot (the
    last time the worker read the chain), with the time that snapshot was taken. None before any snapshot
    or deployment. Never asks the node."""
    snapshot = ReserveSnapshot.objects.order_by("-taken_at", "-id").first()
    deployment = Deployment.objects.filter(chain_id=settings.CHAIN_ID).first()
    if snapshot is None or deployment is None:
        return None
    reserve = reserve_at_supply(supply=int(snapshot.total_supply), block_number=snapshot.block_number)
    return PublicReserve(reserve=reserve, chain_id=deployment.chain_id, token=deployment.token), snapshot.taken_at


def reserve_history_get(*, limit: int = HISTORY_POINTS) -> list[ReserveSnapshot]:
    """The last `limit` snapshots, oldest first (the chart reads left to right)."""
    snapshots = list(ReserveSnapshot.objects.order_by("-taken_at", "-id")[:limit])
    snapshots.reverse()
    return snapshots


def bars_audited_listed() -> QuerySet[Bar]:
    """The bars backing tokens in a total order (pages never overlap), each with its vault."""
    return bars_audited().select_related("vault").order_by("refiner", "serial", "pk")


def bars_audited_page(*, number: int | str | None) -> Page[Bar]:
    """One page of the audited bars; a missing, malformed or out-of-range number gives the nearest page."""
    return Paginator(bars_audited_listed(), BARS_PER_PAGE).get_page(number)


def bars_audited_rows() -> Iterator[BarRow]:
    """Every audited bar as a CSV row, streamed from the database in chunks (never all in memory)."""
    rows = bars_audited_listed().values_list(
        "serial", "refiner", "year", "gross_oz", "fineness", "fine_oz", "vault__name"
    )
    return rows.iterator(chunk_size=2000)
