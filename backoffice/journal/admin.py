from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import JournalAnchor, JournalEntry


@admin.register(JournalEntry)
class JournalEntryAdmin(admin.ModelAdmin):
    """Read-only for everyone: the journal is appended to by services, never edited."""

    list_display = ("seq", "created_at", "actor_username", "action", "object_type", "object_id",
                    "state_before", "state_after", "origin_ip")
    list_filter = ("action", "object_type", "actor_username", "created_at")
    search_fields = ("actor_username", "action", "object_id", "reason")
    date_hierarchy = "created_at"
    list_select_related = ("actor",)
    actions = None

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
