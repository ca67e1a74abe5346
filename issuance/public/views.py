"""The public proof of reserve: no login, nothing written, never a node call. The figures are what the
worker published (services.py); each view reads them, adds the bars and renders."""

from __future__ import annotations

import json
import logging
from typing import Any

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import SimpleLazyObject
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_safe
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backoffice.core.exports import csv_response
from backoffice.journal.selectors import journal_head_mark

from .selectors import (
    BARS_CSV_URL_PLACEHOLDER,
    Published,
    ReadFrom,
    Unavailable,
    bars_audited_page,
    bars_audited_rows,
    reserve_published_get,
)
from .serializers import ReserveSerializer, ReserveUnavailableSerializer
from .services import reserve_published_fallback

logger = logging.getLogger(__name__)

CSV_HEADER = ("Bar Number", "Refiner", "Year of Manufacture", "Gross Weight", "Fineness", "Fine Weight", "Vault")
# Said to the public instead of the exception, whose text names the RPC endpoint (which may embed a key).
CHAIN_UNAVAILABLE = "The blockchain cannot be read right now, so the token supply and the reserve cannot be proven."
NOT_YET_PUBLISHED = "The reserve has not been read from the blockchain yet; the figures appear within a minute."
NOTICES = {
    Unavailable.CHAIN: ("chain-unavailable", "Chain unavailable", CHAIN_UNAVAILABLE),
    Unavailable.NOT_YET_PUBLISHED: ("figures-pending", "Figures not published yet", NOT_YET_PUBLISHED),
}
RETRY_AFTER_SECONDS = 30


def _published() -> Published:
    """What the worker published, or on a cold cache what the database alone says (never the node)."""
    return reserve_published_get() or reserve_published_fallback()


@require_safe
def reserve_proof(request: HttpRequest) -> HttpResponse:
    """The page: the published figures (the worker's), and always the audit, the history and the bars."""
    published = _published()
    notice = NOTICES.get(published.unavailable)
    page = request.GET.get("page", "")[:20]
    context: dict[str, Any] = {
        "figures": published.figures,
        "display": published.display,
        "from_snapshot": published.read_from == ReadFrom.SNAPSHOT,
        "notice": {"id": notice[0], "title": notice[1], "text": notice[2]} if notice else None,
        "audit": published.audit,
        "chart": mark_safe(published.chart) if published.chart else None,  # noqa: S308 - our own SVG, escaped
        "history_count": published.history_count,
        # The bars table is the page's costliest part (fifty rows of seven cells): drawn once per change of the
        # journal's head (every change to the audited bars is journaled) and page, then served from the cache.
        # Lazy, so a page served from the cache reads no bar at all.
        "bars": SimpleLazyObject(lambda: bars_audited_page(number=page)),
        "bars_mark": journal_head_mark(),
        "bars_page": page,
        "bars_csv_url": reverse("reserve:bars-csv"),
        "api_url": reverse("reserve:api"),
    }
    return render(request, "reserve/proof.html", context)


@require_safe
def bars_csv(request: HttpRequest) -> StreamingHttpResponse:
    """Every audited bar in the LBMA columns, streamed: the list can hold a hundred thousand bars. Every
    cell (serials, refiners and vault names come from uploads and the admin) is neutralised against
    spreadsheet formulas; no column names a person."""
    return csv_response(filename=f"usdkg-audited-bars-{timezone.now():%Y-%m-%d}.csv", header=list(CSV_HEADER),
                        rows=bars_audited_rows())


class ReserveApi(APIView):
    """GET /api/reserve/: the proof of reserve as JSON, open to anyone."""

    # Public and read-only: no authentication at all (so no session, no CSRF), JSON only.
    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    renderer_classes = [JSONRenderer]

    @extend_schema(
        operation_id="reserve_proof",
        summary="Proof of reserve (public, no authentication)",
        description="Audited gold, its value at the latest gold price, and the token supply read on chain at "
                    "`block_number` at `as_of`. Decimals and big integers are strings. Published by the worker "
                    "every few seconds: `read_from` is `snapshot` when the last reserve snapshot stood in for it. "
                    "503 while the chain cannot be read, or before anything was published.",
        tags=["public"],
        auth=[],
        responses={200: ReserveSerializer, 503: ReserveUnavailableSerializer},
    )
    def get(self, request: Request) -> HttpResponse:
        published = _published()
        if published.api_json is None:
            detail = CHAIN_UNAVAILABLE if published.unavailable == Unavailable.CHAIN else NOT_YET_PUBLISHED
            return Response({"error": published.unavailable, "detail": detail}, status=503,
                            headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
        # The body was rendered by the worker; only the CSV's absolute URL depends on this request's host.
        url = json.dumps(request.build_absolute_uri(reverse("reserve:bars-csv")))[1:-1]
        body = published.api_json.replace(BARS_CSV_URL_PLACEHOLDER.encode(), url.encode(), 1)
        return HttpResponse(body, content_type="application/json")
