"""Admin bases shared by the apps (no models are registered here)."""

from __future__ import annotations

from typing import Any

from django import http
from django.contrib import admin
from django.urls import path, reverse
from django.utils.html import format_html

from backoffice.accounts.roles import user_is_manager

from .files import file_response


class FileDownloadAdminMixin(admin.ModelAdmin):
    """Stored files shown by the name they were uploaded with and downloaded through the admin, so only
    someone who may view the object gets its documents (uploads are never served as public media)."""

    file_fields: dict[str, str] = {}  # file field -> the field holding its original name

    def get_urls(self) -> list[Any]:
        meta = self.model._meta
        return [path("<path:object_id>/file/<str:field>/", self.admin_site.admin_view(self.file_download_view),
                     name=f"{meta.app_label}_{meta.model_name}_file"),
                *super().get_urls()]

    def file_download_view(self, request: http.HttpRequest, object_id: str, field: str) -> http.FileResponse:
        obj = self.get_object(request, object_id) if field in self.file_fields else None
        if obj is None or not self.has_view_permission(request, obj):
            raise http.Http404("no such document")
        return file_response(getattr(obj, field), getattr(obj, self.file_fields[field]))

    def file_link_html(self, obj: Any, field: str) -> str:
        stored = getattr(obj, field)
        if not stored:
            return "-"
        meta = self.model._meta
        url = reverse(f"admin:{meta.app_label}_{meta.model_name}_file", args=[obj.pk, field])
        name = getattr(obj, self.file_fields[field]) or stored.name.rsplit("/", 1)[-1]
        return format_html('<a href="{}" class="document-download">{}</a>', url, name)


class TimelineLinkAdminMixin(admin.ModelAdmin):
    """A "history" line on the change page, for managers: the object's timeline (journal entries,
    approvals or signatures, on-chain transactions; backoffice/multisig/timeline.py)."""

    def get_fields(self, request: http.HttpRequest, obj: Any = None) -> Any:
        fields = list(super().get_fields(request, obj))
        return [*fields, "history_link"] if obj is not None and user_is_manager(request.user) else fields

    def get_readonly_fields(self, request: http.HttpRequest, obj: Any = None) -> Any:
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, "history_link"] if obj is not None and user_is_manager(request.user) else fields

    @admin.display(description="history")
    def history_link(self, obj: Any) -> str:
        url = reverse("timeline-object", args=[obj._meta.label_lower, obj.pk])
        return format_html('<a class="history-link" href="{}">Timeline: journal, approvals, transactions</a>', url)
