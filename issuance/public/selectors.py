"""Reads for the public proof of reserve. The reserve itself is `issuance.selectors.reserve_get`'s."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet

from backoffice.chain.client import ChainClient, ChainError
from backoffice.chain.selectors import deployment_get

from ..models import Bar, ReserveSnapshot
from ..selectors import Reserve, bars_audited, reserve_get

HISTORY_POINTS = 200
BARS_PER_PAGE = 50
# One row of the public CSV, in the order of its LBMA columns.
BarRow = tuple[str, str, int, Decimal, Decimal, Decimal, str]


@dataclass(frozen=True)
class PublicReserve:
    reserve: Reserve
    chain_id: int
    token: str  # checksummed: where anyone can read totalSupply for themselves


def reserve_public_cached(*, client: ChainClient) -> PublicReserve:
    """`reserve_public_get`, shared for RESERVE_PUBLIC_CACHE_SECONDS: a public page anyone can reload
    must not turn each visit into node calls. Failures are never cached."""
    seconds = settings.RESERVE_PUBLIC_CACHE_SECONDS
    if seconds <= 0:
        return reserve_public_get(client=client)
    key = f"reserve-public:{settings.CHAIN_ID}"
    cached = cache.get(key)
    if isinstance(cached, PublicReserve):
        return cached
    public = reserve_public_get(client=client)
    cache.set(key, public, timeout=seconds)
    return public


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
