"""GET /api/multisig/transactions/ (the list) from rows, not models: the same JSON as `TransactionSerializer`,
at two queries for the page whatever its size, without per-row ORM or serializer machinery.

Through the serializers a page of 100 cost a model instance for every transaction and confirmation (and
its signer, user and event) and ~25 DRF fields each. Here the columns shown come as dicts and plain
functions build the answer; the call is read from the signed bytes through the action registry as
everywhere (`call_read`; the ABI decoding is remembered per process). The detail, the actions and the
OpenAPI schema keep the serializers; `test_transactions_list.py` proves the two give the same JSON.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, tzinfo
from typing import Any

from django.urls import reverse
from django.utils import timezone

from .actions import call_display, call_read
from .models import FINAL_STATES, Confirmation

COLUMNS = ("id", "multisig", "safe_address", "chain_id", "to", "operation", "data", "nonce", "safe_tx_hash", "state",
           "threshold", "replaces_id", "replaces__safe_tx_hash", "created_at")
_SENTINEL = 987654321  # a number no other part of a path holds


def url_template(name: str) -> str:
    """The URL of `name` for any object id, as a str.format template: one reverse() per page, not per row."""
    return reverse(name, args=[_SENTINEL]).replace(str(_SENTINEL), "{}")


def when(value: datetime | None, tz: tzinfo) -> str | None:
    """As DRF's DateTimeField writes it: in the current time zone `tz` (looked up once per page, not per
    value), ISO 8601, UTC as "Z"."""
    if value is None:
        return None
    text = value.astimezone(tz).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def transaction_rows_present(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """A page of transactions (dicts of COLUMNS) as `TransactionSerializer(many=True).data`: one more query."""
    rows = list(rows)
    confirmations: dict[int, list[Any]] = defaultdict(list)
    for c in Confirmation.objects.filter(transaction_id__in=[r["id"] for r in rows]).order_by("created_at", "pk") \
            .values("transaction_id", "owner_address", "signer__user__username", "created_at", "event_id",
                    "event__tx_hash", "event__block_number"):
        confirmations[c["transaction_id"]].append(c)
    api_url, page_url = url_template("multisig-api:transaction-detail"), url_template("multisig:sign")
    tz = timezone.get_current_timezone()
    presented = []
    for row in rows:
        signed = confirmations.get(row["id"], [])
        call = call_read(multisig=row["multisig"], to=row["to"], safe_address=row["safe_address"],
                         operation=row["operation"], nonce=row["nonce"], data=bytes(row["data"] or b""))
        presented.append({
            "id": row["id"],
            "url": api_url.format(row["id"]),
            "page_url": page_url.format(row["id"]),
            "multisig": row["multisig"],
            "safe_address": row["safe_address"],
            "chain_id": row["chain_id"],
            "nonce": row["nonce"],
            "safe_tx_hash": row["safe_tx_hash"],
            "state": row["state"],
            "final": row["state"] in FINAL_STATES,
            "call": call_display(call, nonce=row["nonce"], replaced_hash=row["replaces__safe_tx_hash"]),
            "replaces": row["replaces_id"],
            "threshold": row["threshold"],
            "confirmations_count": len(signed),
            "confirmations": [{
                "username": c["signer__user__username"] or "",
                "address": c["owner_address"],
                "signed_at": when(c["created_at"], tz),
                "tx_hash": c["event__tx_hash"] if c["event_id"] is not None else "",
                "block_number": c["event__block_number"] if c["event_id"] is not None else None,
            } for c in signed],
            "created_at": when(row["created_at"], tz),
        })
    return presented
