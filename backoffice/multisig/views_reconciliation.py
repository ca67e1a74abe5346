"""The reconciliation for managers: the page (checks, unauthorised events, alerts to acknowledge), its
JSON at /api/reconciliation/, and the banner every staff user sees while an alert is open."""

from __future__ import annotations

from typing import Any, cast

from django.contrib import admin, messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backoffice.accounts.roles import user_is_manager
from backoffice.chain.client import ChainError, chain_client
from backoffice.core.api import ErrorSerializer
from backoffice.core.errors import InvalidInput
from backoffice.journal.services import TransitionRefused

from .reconciliation import alert_acknowledge, alerts_open, reconciliation_compute


def reconciliation_banner(request: HttpRequest) -> dict[str, Any]:
    """Context processor: the open alerts, for every staff user, on every admin page."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_staff:
        return {}
    return {"reconciliation_alerts": list(alerts_open()[:5]), "reconciliation_alerts_count": alerts_open().count()}


@login_required
def reconciliation_page(request: HttpRequest) -> HttpResponse:
    if not user_is_manager(request.user):
        raise PermissionDenied("Only managers see the reconciliation.")
    report, error = None, ""
    try:
        report = reconciliation_compute(client=chain_client())
    except ChainError as exc:
        error = str(exc)
    return render(request, "multisig/reconciliation.html", {
        **admin.site.each_context(request), "title": "Reconciliation", "report": report, "error": error,
        "alerts": alerts_open(),
    })


@login_required
@require_POST
def alert_acknowledge_view(request: HttpRequest, alert_id: int) -> HttpResponse:
    try:
        alert_acknowledge(alert_id=alert_id, reason=request.POST.get("reason", ""), actor=cast(User, request.user))
    except (InvalidInput, TransitionRefused) as exc:
        if isinstance(exc, TransitionRefused) and not user_is_manager(request.user):
            raise PermissionDenied(str(exc)) from exc
        messages.error(request, f"Not acknowledged: {exc}")
    else:
        messages.success(request, "Alert acknowledged.")
    return redirect("reconciliation")


class IsManager(BasePermission):
    message = "Only managers see the reconciliation."

    def has_permission(self, request: Request, view: Any) -> bool:
        return user_is_manager(request.user)


class ReconciliationView(APIView):
    permission_classes = [IsAuthenticated, IsManager]

    @extend_schema(operation_id="reconciliation",
                   responses={200: OpenApiTypes.OBJECT,
                              503: OpenApiResponse(ErrorSerializer, description="The chain could not be read, or "
                                                   "the chain watcher has indexed nothing yet.")},
                   summary="The reconciliation at the indexed block: {block, ok, checks, unauthorised_events}")
    def get(self, request: Request) -> Response:
        try:
            report = reconciliation_compute(client=chain_client())
        except ChainError as exc:
            return Response({"detail": f"the reconciliation could not be computed: {exc}"}, status=503)
        return Response(report.as_dict())
