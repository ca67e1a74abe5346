from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import Confirmation, MultisigTransaction, Signer


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written only by services (which journal them); the admin shows them, never edits."""

    actions = None

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Signer)
class SignerAdmin(ReadOnlyAdmin):
    list_display = ("user", "address", "multisig", "created_at")
    list_filter = ("multisig",)
    search_fields = ("user__username", "address")
    list_select_related = ("user",)


class ConfirmationInline(admin.TabularInline):
    model = Confirmation
    fields = ("owner_address", "signer", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(MultisigTransaction)
class MultisigTransactionAdmin(ReadOnlyAdmin):
    list_display = ("id", "multisig", "nonce", "state", "safe_tx_hash", "relayer_tx_hash", "created_at")
    list_filter = ("multisig", "state")
    search_fields = ("safe_tx_hash", "relayer_tx_hash", "to")
    inlines = [ConfirmationInline]
    exclude = ("data", "relayer_raw_tx")

    def get_queryset(self, request: HttpRequest) -> Any:
        # Compliance transactions stay hidden from everyone but officers and managers.
        from .selectors import transactions_visible_to

        return transactions_visible_to(request.user, super().get_queryset(request))
