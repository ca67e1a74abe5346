from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from .filters import JournalFilterForm
from .models import JournalAnchor, JournalEntry
from .selectors import journal_entries_filter, journal_filter_choices, journal_page


def _cursor(value: str | None) -> int | None:
    """An entry number from the query, or None when absent; ValueError when it is no number."""
    if not value:
        return None
    if not (value.isascii() and value.isdigit()):
        raise ValueError(value)
    return int(value)


@admin.register(JournalEntry)
class JournalEntryAdmin(admin.ModelAdmin):
    """Read-only for everyone: the journal is appended to by services, never edited."""

    list_select_related = ("actor",)
    actions = None

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        """The journal list at any size: the filters of JournalFilterForm, keyset pages on `seq` (no COUNT,
        no OFFSET) and filter choices from the index, so every page costs the same few queries. Django's
        changelist would count the whole table and page by OFFSET."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = JournalFilterForm(request.GET)
        page = None
        if form.is_valid():
            try:
                before, after = _cursor(request.GET.get("before")), _cursor(request.GET.get("after"))
            except ValueError:
                form.add_error(None, "'before' and 'after' are entry numbers")
            else:
                page = journal_page(journal_entries_filter(filters=form.cleaned_data),
                                    before=before, after=after, oldest="oldest" in request.GET)
        filters = request.GET.copy()
        for key in ("before", "after", "oldest"):
            filters.pop(key, None)
        context = {
            **self.admin_site.each_context(request),
            "title": "Journal",
            "opts": self.model._meta,
            "form": form,
            "page": page,
            "choices": journal_filter_choices(),
            "filter_query": filters.urlencode(),
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/journal/journalentry/journal_list.html", context,
                                status=200 if page is not None else 400)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(JournalAnchor)
class JournalAnchorAdmin(admin.ModelAdmin):
    """Read-only: anchors are published by the worker (`journal_anchor`), checked by `verify_journal`."""

    list_display = ("seq", "state", "block_number", "tx_hash", "sent_at", "confirmed_at")
    list_filter = ("state",)
    exclude = ("raw_tx",)
    actions = None

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in self.model._meta.fields if f.name != "raw_tx"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
