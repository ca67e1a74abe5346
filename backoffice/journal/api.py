"""`GET /api/journal/` (cursor-paged) and `GET /api/journal/export/` (CSV), managers only, with the
filters of the admin's journal list (backoffice.journal.filters)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.urls import path
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response

from backoffice.core.api import REFUSALS, ServiceViewSet
from backoffice.core.exports import csv_response

from .filters import JournalFilterForm
from .models import JournalEntry
from .selectors import journal_entries_filter, journal_entries_stream
from .services import journal_export_record

READ = "journal.view_journalentry"  # the manager's (and a superuser's): no other role reads the journal
EXPORT_COLUMNS = ["seq", "created_at", "actor_username", "action", "object_type", "object_id", "state_before",
                  "state_after", "reason", "origin_ip", "data", "entry_hash"]


class JournalCursor(CursorPagination):
    """Keyset paging on `seq` (unique, so no entry is skipped or repeated as entries are appended)."""

    ordering = "-seq"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


class JournalEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = JournalEntry
        fields = ["seq", "created_at", "actor_username", "action", "object_type", "object_id", "state_before",
                  "state_after", "reason", "origin_ip", "data", "prev_hash", "entry_hash"]


def journal_filters_parse(params: Any) -> JournalFilterForm:
    """The query's filters, or a 400 naming each bad one (nothing is read or written)."""
    form = JournalFilterForm(params)
    if not form.is_valid():
        errors = {name: [str(message) for message in messages] for name, messages in form.errors.items()}
        raise ValidationError(errors)
    return form


FILTER_PARAMETERS = [OpenApiParameter(name, str, description=str(field.help_text or ""))
                     for name, field in JournalFilterForm.base_fields.items()]


def _export_rows(entries: QuerySet[JournalEntry]) -> Iterator[list[Any]]:
    for entry in journal_entries_stream(entries):
        yield [entry.seq, entry.created_at.isoformat(), entry.actor_username, entry.action, entry.object_type,
               entry.object_id, entry.state_before, entry.state_after, entry.reason, entry.origin_ip,
               json.dumps(entry.data, sort_keys=True, ensure_ascii=False), entry.entry_hash]


class JournalViewSet(ServiceViewSet):
    action_permissions = {"list": READ, "export": READ, "metadata": READ}
    serializer_class = JournalEntrySerializer
    pagination_class = JournalCursor

    def get_queryset(self) -> QuerySet[JournalEntry]:
        form = journal_filters_parse(self.request.query_params)
        return journal_entries_filter(filters=form.cleaned_data).select_related("actor")

    @extend_schema(parameters=FILTER_PARAMETERS, responses={200: JournalEntrySerializer(many=True), **REFUSALS})
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(parameters=FILTER_PARAMETERS, responses={(200, "text/csv"): str, **REFUSALS})
    def export(self, request: Request) -> StreamingHttpResponse:
        form = journal_filters_parse(request.query_params)
        entries = journal_entries_filter(filters=form.cleaned_data)
        journal_export_record(actor=request.user, filters=form.active())
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        return csv_response(filename=f"journal-{stamp}.csv", header=EXPORT_COLUMNS, rows=_export_rows(entries))


urlpatterns = [
    path("", JournalViewSet.as_view({"get": "list"}), name="api-journal"),
    path("export/", JournalViewSet.as_view({"get": "export"}), name="api-journal-export"),
]
