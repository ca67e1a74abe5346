"""The public proof of reserve: no login, nothing written. Each view reads, formats and renders."""

from __future__ import annotations

import logging
from typing import Any

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_safe
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backoffice.chain.client import ChainError, chain_client
from backoffice.core.exports import csv_response
from backoffice.journal.selectors import journal_anchor_figures, journal_anchor_last

from ..selectors import audit_last_accepted, bars_audited
from .chart import reserve_chart_svg
from .figures import audit_figures, history_figures, reserve_display, reserve_figures
from .selectors import (
    PublicReserve,
    bars_audited_page,
    bars_audited_rows,
    reserve_history_get,
    reserve_public_cached,
)
from .serializers import ReserveSerializer, ReserveUnavailableSerializer

logger = logging.getLogger(__name__)

CSV_HEADER = ("Bar Number", "Refiner", "Year of Manufacture", "Gross Weight", "Fineness", "Fine Weight", "Vault")
# Said to the public instead of the exception, whose text names the RPC endpoint (which may embed a key).
CHAIN_UNAVAILABLE = "The blockchain cannot be read right now, so the token supply and the reserve cannot be proven."
RETRY_AFTER_SECONDS = 30


def _reserve_or_none() -> PublicReserve | None:
    try:
        return reserve_public_cached(client=chain_client())
    except ChainError as exc:
        logger.warning("proof-of-reserve chain=unavailable error=%s", exc)
        return None


def _bars_csv_url(request: HttpRequest) -> str:
    return request.build_absolute_uri(reverse("reserve:bars-csv"))


@require_safe
def reserve_proof(request: HttpRequest) -> HttpResponse:
    """The page: live figures when the chain answers, and always the audit, the history and the bars."""
    public = _reserve_or_none()
    figures = reserve_figures(public) if public else None
    history = reserve_history_get()
    context: dict[str, Any] = {
        "figures": figures,
        "display": reserve_display(figures) if figures else None,
        "chain_unavailable": CHAIN_UNAVAILABLE if public is None else "",
        "audit": audit_figures(audit_last_accepted()),
        "chart": reserve_chart_svg(history),
        "history_count": len(history),
        "bars": bars_audited_page(number=request.GET.get("page")),
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
                    "`block_number`. Decimals and big integers are strings. 503 while the chain cannot be read.",
        tags=["public"],
        auth=[],
        responses={200: ReserveSerializer, 503: ReserveUnavailableSerializer},
    )
    def get(self, request: Request) -> Response:
        public = _reserve_or_none()
        if public is None:
            return Response({"error": "chain_unavailable", "detail": CHAIN_UNAVAILABLE}, status=503,
                            headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
        payload = {
            **reserve_figures(public),
            "last_accepted_audit": audit_figures(audit_last_accepted()),
            "bars_count": bars_audited().count(),
            "bars_csv_url": _bars_csv_url(request),
            "history": history_figures(reserve_history_get()),
            "journal_anchor": journal_anchor_figures(journal_anchor_last()),
        }
        return Response(ReserveSerializer(payload).data)
