from collections.abc import Iterator
from typing import Any

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.urls import path
from django.utils import timezone

from backoffice.core.exports import csv_response
from backoffice.journal.services import journal_export_record

from .models import Confirmation, MultisigTransaction, Signer

# One row per approval or signature (a proposal nobody approved yet still has its row, with the
# approval columns empty), so a spreadsheet can count, filter and pivot them.
SIGNATURE_COLUMNS = ["nonce", "safe_tx_hash", "multisig", "transaction_state", "executed_at", "executed_block",
                     "executed_tx_hash", "approval", "signer", "owner_address", "approved_at", "approval_block",
                     "approval_tx_hash"]


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written only by services (which journal them); the admin shows them, never edits."""

    actions = None

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReferenceAdminMixin(admin.ModelAdmin):
    """Proposals and transactions are named by their one public number (ISS-0003, CMP-0002, TX-0004): the
    first column of the list (the link to the page), the page's title, and the state said in words."""

    @admin.display(description="reference", ordering="pk")
    def reference_display(self, obj: Any) -> str:
        return str(obj.reference)

    @admin.display(description="status")
    def status_label_display(self, obj: Any) -> str:
        return str(obj.status_label)

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict[str, Any] | None = None) -> HttpResponse:
        obj = self.get_object(request, object_id)
        context = dict(extra_context or {})
        if obj is not None:
            context.setdefault("title", str(obj.reference))
            context.setdefault("subtitle", str(obj))
        return super().change_view(request, object_id, form_url, context)


class ProposalExportAdminMixin(admin.ModelAdmin):
    """"Export as CSV" on a proposal list: what the list shows with its current filters and search, each
    proposal with its multisig transaction and every approval or signature, streamed with no row limit
    (cells neutralised for spreadsheets). The export is journalled with its filters before a row is sent.

    The app names its own columns (`export_columns`, `export_values(obj)`) and where the transaction is
    (`export_transaction(obj)`); the kernel adds the transaction's and the signatures' columns."""

    change_list_template = "admin/export_change_list.html"
    export_columns: list[str] = []

    def export_values(self, obj: Any) -> list[Any]:
        raise NotImplementedError

    def export_transaction(self, obj: Any) -> MultisigTransaction | None:
        return getattr(obj, "transaction", None)

    def get_urls(self) -> list[Any]:
        meta = self.model._meta
        return [path("export/", self.admin_site.admin_view(self.export_view),
                     name=f"{meta.app_label}_{meta.model_name}_export"), *super().get_urls()]

    def export_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        """The changelist's own queryset: the same filters, search and visibility as the page."""
        queryset: QuerySet[Any] = self.get_changelist_instance(request).get_queryset(request)
        return queryset.select_related("transaction").prefetch_related(
            "transaction__confirmations__signer__user", "transaction__confirmations__event").order_by("pk")

    def export_view(self, request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            queryset = self.export_queryset(request)
        except IncorrectLookupParameters as exc:
            return HttpResponse(f"Refused, nothing exported: bad filter ({exc})", status=400,
                                content_type="text/plain; charset=utf-8")
        meta = self.model._meta
        filters = {name: str(value) for name, value in request.GET.items()}
        journal_export_record(actor=request.user, what=meta.label_lower, filters=filters)
        return csv_response(filename=f"{meta.model_name}s-{timezone.now():%Y%m%dT%H%M%SZ}.csv",
                            header=[*self.export_columns, *SIGNATURE_COLUMNS], rows=self._export_rows(queryset))

    def _export_rows(self, queryset: QuerySet[Any]) -> Iterator[list[Any]]:
        for obj in queryset.iterator(chunk_size=500):
            own, tx = self.export_values(obj), self.export_transaction(obj)
            if tx is None:
                yield [*own, *[""] * len(SIGNATURE_COLUMNS)]
                continue
            head = [tx.nonce, tx.safe_tx_hash, tx.multisig, tx.state,
                    tx.executed_at.isoformat() if tx.executed_at else "", tx.block_number or "",
                    tx.relayer_tx_hash]
            confirmations = sorted(tx.confirmations.all(), key=lambda c: (c.created_at, c.pk))
            if not confirmations:
                yield [*own, *head, *[""] * (len(SIGNATURE_COLUMNS) - len(head))]
            for c in confirmations:
                yield [*own, *head, "on chain" if c.event is not None else "signature",
                       c.signer.user.get_username() if c.signer is not None else "(owner bound to no user)",
                       c.owner_address, c.created_at.isoformat(),
                       c.event.block_number if c.event is not None else "",
                       c.event.tx_hash if c.event is not None else ""]


@admin.register(Signer)
class SignerAdmin(ReadOnlyAdmin):
    list_display = ("user", "address", "multisig", "created_at")
    list_filter = ("multisig",)
    search_fields = ("user__username", "address")
    list_select_related = ("user",)

    def get_queryset(self, request: HttpRequest) -> Any:
        # Who signs a multisig is as confidential as its transactions: the compliance officers' identities
        # are shown to officers and managers only, never to owners or operators (same rule, same selector).
        from .selectors import transactions_visible_to

        return transactions_visible_to(request.user, super().get_queryset(request))


class ConfirmationInline(admin.TabularInline):
    model = Confirmation
    fields = ("owner_address", "signer", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(MultisigTransaction)
class MultisigTransactionAdmin(ReferenceAdminMixin, ReadOnlyAdmin):
    list_display = ("reference_display", "multisig", "nonce", "status_label_display", "safe_tx_hash",
                    "relayer_tx_hash", "created_at")
    list_filter = ("multisig", "state")
    search_fields = ("safe_tx_hash", "relayer_tx_hash", "to")
    inlines = [ConfirmationInline]
    exclude = ("data", "relayer_raw_tx")

    def get_queryset(self, request: HttpRequest) -> Any:
        # Compliance transactions stay hidden from everyone but officers and managers.
        from .selectors import transactions_visible_to

        # The reference is the proposal's (whichever app's model carries the transaction, found through
        # its one-to-one): fetched with the row, not once per row.
        subjects = [r.get_accessor_name() or "" for r in MultisigTransaction._meta.related_objects if r.one_to_one]
        queryset = super().get_queryset(request).select_related(*subjects, "replaces")
        return transactions_visible_to(request.user, queryset.prefetch_related("confirmations"))
