"""The manager's history pages, their JSON and CSV: an address's timeline (/history/address/<address>/,
GET /api/addresses/<address>/timeline/, .../export/) and an object's (/history/<app.model>/<id>/,
GET /api/timeline/<app.model>/<id>/, .../export/). Managers only; reads only, except that an export is
journalled."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backoffice.accounts.roles import user_is_manager
from backoffice.core.errors import InvalidInput
from backoffice.core.exports import csv_response
from backoffice.journal.services import journal_export_record

from .timeline import (
    TIMELINE_COLUMNS,
    TimelineItem,
    address_timeline,
    admin_url,
    object_timeline,
    timeline_address_parse,
    timeline_model,
)


class IsManager(BasePermission):
    message = "Only managers see the history."

    def has_permission(self, request: Request, view: Any) -> bool:
        return user_is_manager(request.user)


def _manager_required(request: HttpRequest) -> None:
    if not user_is_manager(request.user):
        raise PermissionDenied("Only managers see the history.")


def _object_get(label: str, pk: int) -> Any:
    try:
        model = timeline_model(label)
    except LookupError as exc:
        raise Http404(str(exc)) from exc
    return get_object_or_404(model, pk=pk)


def _render(request: HttpRequest, *, title: str, items: list[TimelineItem], **context: Any) -> HttpResponse:
    return render(request, "multisig/timeline.html", {
        **admin.site.each_context(request), "title": title, "items": items, **context})


@login_required
def address_timeline_page(request: HttpRequest, address: str = "") -> HttpResponse:
    """The address from the path, or from the search box (?address=); a bad one gets a message."""
    _manager_required(request)
    asked = address or request.GET.get("address", "").strip()
    if not asked:
        return _render(request, title="History of an address", items=[], asked="")
    try:
        checksummed = timeline_address_parse(asked)
    except InvalidInput as exc:
        return _render(request, title="History of an address", items=[], error=str(exc), asked=asked)
    if checksummed != address:  # one page per address, whatever case it was typed in
        return redirect("timeline-address", address=checksummed)
    return _render(request, title=f"History of {checksummed}", items=address_timeline(address=checksummed),
                   asked=checksummed, address=checksummed,
                   export_url=reverse("timeline-address-export", args=[checksummed]))


@login_required
def object_timeline_page(request: HttpRequest, label: str, pk: int) -> HttpResponse:
    _manager_required(request)
    obj = _object_get(label, pk)
    return _render(request, title=f"History of {obj._meta.verbose_name} {obj}", items=object_timeline(obj=obj),
                   obj=obj, obj_url=admin_url(obj), export_url=reverse("timeline-object-export", args=[label, pk]))


def _csv(request: HttpRequest, *, name: str, items: list[TimelineItem]) -> StreamingHttpResponse:
    return csv_response(filename=f"{name}-{timezone.now():%Y%m%dT%H%M%SZ}.csv", header=TIMELINE_COLUMNS,
                        rows=(item.as_row() for item in items))


@login_required
def address_timeline_export(request: HttpRequest, address: str) -> HttpResponse | StreamingHttpResponse:
    """The address's timeline as CSV (cells neutralised for spreadsheets); the export is journalled with
    the address, so it shows on that address's timeline too."""
    _manager_required(request)
    try:
        checksummed = timeline_address_parse(address)
    except InvalidInput as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain; charset=utf-8")
    items = address_timeline(address=checksummed)
    journal_export_record(actor=request.user, what="timeline", filters={"address": checksummed})
    return _csv(request, name=f"history-{checksummed}", items=items)


@login_required
def object_timeline_export(request: HttpRequest, label: str, pk: int) -> StreamingHttpResponse:
    _manager_required(request)
    obj = _object_get(label, pk)
    items = object_timeline(obj=obj)
    journal_export_record(actor=request.user, what="timeline", obj=obj, filters={"object": f"{label}:{pk}"})
    return _csv(request, name=f"history-{label}-{pk}", items=items)


class AddressTimelineView(APIView):
    permission_classes = [IsAuthenticated, IsManager]

    @extend_schema(operation_id="address_timeline", responses={200: OpenApiTypes.OBJECT},
                   summary="Everything that concerns an address, newest first: {address, items: [...]}")
    def get(self, request: Request, address: str) -> Response:
        try:
            checksummed = timeline_address_parse(address)
        except InvalidInput as exc:
            return Response({"detail": str(exc), "field": exc.field}, status=400)
        return Response({"address": checksummed,
                         "items": [i.as_dict() for i in address_timeline(address=checksummed)]})


class ObjectTimelineView(APIView):
    permission_classes = [IsAuthenticated, IsManager]

    @extend_schema(operation_id="object_timeline", responses={200: OpenApiTypes.OBJECT},
                   summary="An object's history (journal, approvals, on-chain transactions), newest first")
    def get(self, request: Request, label: str, pk: int) -> Response:
        obj = _object_get(label, pk)
        return Response({"object": label, "id": obj.pk, "url": admin_url(obj),
                         "items": [i.as_dict() for i in object_timeline(obj=obj)]})

