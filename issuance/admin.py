"""Each role sees exactly its transitions as buttons; managers read everything and change nothing."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

from django import forms, http
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Sum
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from backoffice.admin_fsm import ReasonForm, ServiceFSMAdmin, actor
from backoffice.core.admin import FileDownloadAdminMixin, TimelineLinkAdminMixin
from backoffice.core.amounts import decimal_parse
from backoffice.core.files import UploadField
from backoffice.multisig.admin import ReadOnlyAdmin

from . import services
from .barlist import bar_list_template_csv
from .models import (
    Audit,
    AuditState,
    Bar,
    BarListImport,
    Deposit,
    DepositState,
    Discrepancy,
    GoldPrice,
    ImportKind,
    ImportState,
    ReserveSnapshot,
    Vault,
)
from .models.audits import REPORT
from .models.deposits import RECEIPT
from .models.imports import BAR_LIST, UNFINISHED_IMPORT_STATES


class ReceiptForm(forms.Form):
    receipt = UploadField(kind=RECEIPT, help_text="The vault's signed receipt; its SHA-256 is kept with the deposit.")


class ReportForm(forms.Form):
    report = UploadField(kind=REPORT, help_text="The audit report; its SHA-256 is kept with the audit.")


class BarListForm(forms.Form):
    file = UploadField(kind=BAR_LIST, help_text="CSV (cells separated by commas, semicolons or tabs) with the LBMA "
                                     "columns: Bar Number, Refiner, Year of Manufacture, Gross Weight (troy oz), "
                                     "Fineness (parts per thousand), Fine Weight (troy oz, optional). All rows or "
                                     "none are saved.")

    def __init__(self, *args: Any, existing: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if existing:
            # Re-uploading replaces what is recorded: said, and ticked, before anything is replaced.
            self.fields["replace"] = forms.BooleanField(
                required=True, label=f"Replace the {existing} bars already recorded",
                help_text="The new list replaces them whole once it is imported; if it has an error, nothing changes.",
                error_messages={"required": f"{existing} bars are already recorded: tick 'Replace the {existing} "
                                            f"bars already recorded' to replace them. Nothing was changed."})


@admin.register(Vault)
class VaultAdmin(admin.ModelAdmin):
    list_display = ("name", "location")

    def has_delete_permission(self, request: http.HttpRequest, obj: Any = None) -> bool:
        return False  # bars and deposits point at vaults for ever

    def save_model(self, request: http.HttpRequest, obj: Any, form: Any, change: bool) -> None:
        services.vault_save(vault=obj, actor=actor(request))


def _bars_summary(deposit: Deposit) -> str:
    totals = deposit.bars.aggregate(count=Count("pk"), fine=Sum("fine_oz"))
    return f"{totals['count']} bars, {totals['fine'] or 0:,} fine troy oz"


def _verify_consequence(deposit: Deposit) -> str:
    return (f"Verify the weights of deposit {deposit.reference}: its {_bars_summary(deposit)} are recorded as "
            f"checked against the vault's receipt; an accepted audit covering them then lets them back tokens.")


def _accept_consequence(audit: Audit) -> str:
    return (f"Accept the audit of {audit.vault} as of {audit.as_of}: its {audit.counts.count()} counted bars become "
            f"audited, and the deposits they fully cover may back tokens.")


@admin.register(Deposit)
class DepositAdmin(TimelineLinkAdminMixin, FileDownloadAdminMixin, ServiceFSMAdmin):
    list_display = ("reference", "depositor", "vault", "state", "bars_link", "created_at")
    list_filter = ("state", "vault")
    search_fields = ("reference", "depositor")
    list_select_related = ("vault",)
    fsm_forms = {"receive": ReceiptForm, "reject": ReasonForm, "release": ReasonForm}
    file_fields = {"receipt_document": "receipt_name"}
    transition_services = {
        "receive": lambda r, o, d: services.deposit_receive(deposit_id=o.pk, receipt=d["receipt"], actor=actor(r)),
        "verify": lambda r, o, d: services.deposit_verify(deposit_id=o.pk, actor=actor(r)),
        "reject": lambda r, o, d: services.deposit_reject(deposit_id=o.pk, reason=d["reason"], actor=actor(r)),
        "release": lambda r, o, d: services.deposit_release(deposit_id=o.pk, reason=d["reason"], actor=actor(r)),
    }
    transition_labels = {"receive": "Record the vault's receipt", "verify": "Verify weights",
                         "reject": "Reject deposit", "release": "Release from custody"}
    confirmations = {
        "verify": _verify_consequence,
        "reject": lambda o: f"Reject deposit {o.reference}: its {_bars_summary(o)} will never back tokens.",
        "release": lambda o: f"Release deposit {o.reference} from custody: its {_bars_summary(o)} stop backing "
                             f"tokens at once.",
    }

    def object_name(self, obj: Any) -> str:
        return f"Deposit {obj.reference}"

    def get_fields(self, request: http.HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ["reference", "depositor", "vault"]
        return ["reference", "depositor", "vault", "state", "created_by", "created_at", "receipt_link",
                "receipt_sha256", "received_at", "verified_at", "audited_at", "rejection_reason", "bars_link",
                "upload_link"]

    def get_readonly_fields(self, request: http.HttpRequest, obj: Any = None) -> list[str]:
        return [*super().get_readonly_fields(request, obj), "bars_link", "upload_link", "receipt_link"] if obj else []

    @admin.display(description="receipt document")
    def receipt_link(self, obj: Deposit) -> str:
        return self.file_link_html(obj, "receipt_document")

    def get_queryset(self, request: http.HttpRequest) -> Any:
        return super().get_queryset(request).annotate(bar_count=Count("bars"))  # one query for the list

    @admin.display(description="bars")
    def bars_link(self, obj: Deposit) -> str:
        url = reverse("admin:issuance_bar_changelist") + f"?deposit__id__exact={obj.pk}"
        count = getattr(obj, "bar_count", None)
        return format_html('<a href="{}">{} bars</a>', url, obj.bars.count() if count is None else count)

    @admin.display(description="bar list")
    def upload_link(self, obj: Deposit) -> str:
        if obj.state != DepositState.DRAFT:
            return "-"
        url = reverse("admin:issuance_deposit_upload", args=[obj.pk])
        return format_html('<a class="button" id="upload-bar-list" href="{}">Upload bar list</a>', url)

    def create_with_service(self, request: http.HttpRequest, obj: Any, data: dict[str, Any]) -> None:
        created = services.deposit_create(reference=data["reference"], depositor=data["depositor"],
                                          vault=data["vault"], actor=actor(request))
        obj.pk = created.pk

    def get_urls(self) -> list[Any]:
        # Staff only, like the uploads it is for: custodians and auditors fill it in, and here it sits beside them.
        template = path("bar-list-template.csv", self.admin_site.admin_view(self.bar_list_template_view),
                        name="issuance_bar_list_template")
        return [template,
                path("<int:pk>/upload/", self.admin_site.admin_view(self.upload_view), name="issuance_deposit_upload"),
                *super().get_urls()]

    def bar_list_template_view(self, request: http.HttpRequest) -> http.HttpResponse:
        response = http.HttpResponse(bar_list_template_csv(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="bar-list-template.csv"'
        return response

    def upload_view(self, request: http.HttpRequest, pk: int) -> http.HttpResponse:
        deposit = get_object_or_404(Deposit, pk=pk)
        if not request.user.has_perm("issuance.add_deposit"):  # whom bar_list_import_start lets add bars
            raise PermissionDenied("Only an operator uploads a deposit's bar list.")
        return bar_list_upload(self, request, kind=ImportKind.DEPOSIT_BARS, target=deposit)


@admin.register(Audit)
class AuditAdmin(TimelineLinkAdminMixin, FileDownloadAdminMixin, ServiceFSMAdmin):
    list_display = ("id", "vault", "as_of", "auditor", "firm", "state", "discrepancy_count")
    list_filter = ("state", "vault")
    list_select_related = ("vault", "auditor")
    fsm_forms = {"dispute": ReasonForm}
    file_fields = {"report": "report_name"}
    transition_services = {
        "start_fieldwork": lambda r, o, d: services.audit_start_fieldwork(audit_id=o.pk, actor=actor(r)),
        "accept": lambda r, o, d: services.audit_accept(audit_id=o.pk, actor=actor(r)),
        "dispute": lambda r, o, d: services.audit_dispute(audit_id=o.pk, reason=d["reason"], actor=actor(r)),
    }
    transition_labels = {"start_fieldwork": "Start counting", "accept": "Accept audit", "dispute": "Dispute audit"}
    confirmations = {"accept": _accept_consequence}

    def object_name(self, obj: Any) -> str:
        return f"Audit {obj.pk} of {obj.vault} as of {obj.as_of}"

    def get_fields(self, request: http.HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ["vault", "as_of", "auditor", "firm"]
        return ["vault", "as_of", "auditor", "firm", "state", "created_by", "report_link", "report_sha256",
                "submitted_at", "concluded_at", "dispute_reason", "counts_summary", "discrepancy_list", "auditor_steps"]

    def get_readonly_fields(self, request: http.HttpRequest, obj: Any = None) -> list[str]:
        extra = ["counts_summary", "discrepancy_list", "auditor_steps", "report_link"]
        return [*super().get_readonly_fields(request, obj), *extra] if obj else []

    @admin.display(description="report")
    def report_link(self, obj: Audit) -> str:
        return self.file_link_html(obj, "report")

    def formfield_for_foreignkey(self, db_field: Any, request: http.HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "auditor":
            kwargs["queryset"] = get_user_model().objects.filter(groups__name="auditor")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_form(self, request: http.HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        if obj is None:
            def clean_as_of(self: forms.ModelForm[Audit]) -> Any:
                as_of = self.cleaned_data["as_of"]
                if as_of > timezone.localdate():
                    raise forms.ValidationError("an audit cannot be as of a future date")
                return as_of
            form.clean_as_of = clean_as_of
        return form

    def get_queryset(self, request: http.HttpRequest) -> Any:
        return super().get_queryset(request).annotate(discrepancy_total=Count("discrepancies"))

    @admin.display(description="discrepancies")
    def discrepancy_count(self, obj: Audit) -> int:
        count = getattr(obj, "discrepancy_total", None)
        return obj.discrepancies.count() if count is None else int(count)

    @admin.display(description="counted bars")
    def counts_summary(self, obj: Audit) -> str:
        return f"{obj.counts.count()} bars counted"

    @admin.display(description="discrepancies found")
    def discrepancy_list(self, obj: Audit) -> str:
        rows = [(d.get_kind_display(), d.refiner, d.serial, d.expected or "-", d.counted or "-")
                for d in obj.discrepancies.all()[:200]]
        if not rows:
            return "none"
        return format_html("<ul>{}</ul>", format_html_join("", "<li>{}: {} {} (books {}, counted {})</li>", rows))

    @admin.display(description="auditor's steps")
    def auditor_steps(self, obj: Audit) -> str:
        if obj.state != AuditState.FIELDWORK:
            return "-"
        upload = reverse("admin:issuance_audit_upload", args=[obj.pk])
        submit = reverse("admin:issuance_audit_submit", args=[obj.pk])
        return format_html('<a class="button" id="upload-counts" href="{}">Upload counted bar list</a> '
                           '<a class="button" id="submit-audit" href="{}">Submit report</a>', upload, submit)

    def has_change_permission(self, request: http.HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.state == AuditState.FIELDWORK and obj.auditor_id == request.user.pk:
            return True
        return super().has_change_permission(request, obj)

    def create_with_service(self, request: http.HttpRequest, obj: Any, data: dict[str, Any]) -> None:
        created = services.audit_plan(vault=data["vault"], as_of=data["as_of"], auditor=data["auditor"],
                                      firm=data["firm"], actor=actor(request))
        obj.pk = created.pk

    def get_urls(self) -> list[Any]:
        return [path("<int:pk>/upload/", self.admin_site.admin_view(self.upload_view), name="issuance_audit_upload"),
                path("<int:pk>/submit/", self.admin_site.admin_view(self.submit_view), name="issuance_audit_submit"),
                *super().get_urls()]

    def upload_view(self, request: http.HttpRequest, pk: int) -> http.HttpResponse:
        return bar_list_upload(self, request, kind=ImportKind.AUDIT_COUNTS, target=self._audit_conducted(request, pk))

    def _audit_conducted(self, request: http.HttpRequest, pk: int) -> Audit:
        """The audit, if the user is its named auditor (as the services require); otherwise 403, before any
        form is shown: the pages are for the one person who conducts it."""
        audit = get_object_or_404(Audit, pk=pk)
        if not (request.user.has_perm("issuance.conduct_audit") and audit.auditor_id == request.user.pk):
            raise PermissionDenied("Only the auditor named on this audit uploads its counts and submits its report.")
        return audit

    def submit_view(self, request: http.HttpRequest, pk: int) -> http.HttpResponse:
        audit = self._audit_conducted(request, pk)
        form = ReportForm(data=request.POST or None, files=request.FILES or None)
        if request.method == "POST" and form.is_valid():
            try:
                services.audit_submit(audit_id=audit.pk, report=form.cleaned_data["report"], actor=actor(request))
            except (services.TransitionRefused, ValueError) as exc:
                self.message_user(request, f"Refused, nothing changed: {exc}", level=messages.ERROR)
            else:
                self.message_user(request, "Submitted; the count was compared with the books.")
                return redirect("admin:issuance_audit_change", object_id=audit.pk)
        return render(request, "admin/fsm_transition_form.html", {
            **self.admin_site.each_context(request), "opts": Audit._meta, "original": audit,
            "transition": {"label": "Submit report"}, "transition_form": form})


def bar_list_upload(model_admin: admin.ModelAdmin[Any], request: http.HttpRequest, *, kind: str,
                    target: Deposit | Audit) -> http.HttpResponse:
    """Upload a bar list; a worker imports it and the job page shows its progress. A target that already has
    bars (or counts) needs the "replace" box ticked: the list replaces them."""
    # Deposit.bars, Audit.counts: what the new list would replace.
    existing = (target.counts if isinstance(target, Audit) else cast(Deposit, target).bars).count()
    form = BarListForm(data=request.POST or None, files=request.FILES or None, existing=existing)
    if request.method == "POST" and form.is_valid():
        try:
            job = services.bar_list_import_start(kind=kind, target_id=target.pk, upload=form.cleaned_data["file"],
                                                 actor=actor(request), replace=form.cleaned_data.get("replace", False))
        except (services.TransitionRefused, ValueError) as exc:
            model_admin.message_user(request, f"Refused, nothing changed: {exc}", level=messages.ERROR)
        else:
            return redirect("admin:issuance_barlistimport_change", object_id=job.pk)
    note = format_html('Start from the <a id="bar-list-template" href="{}">bar-list template (CSV)</a>: its columns, '
                       "their units (troy ounces; fineness in parts per thousand) and an example row to replace.",
                       reverse("admin:issuance_bar_list_template"))
    return render(request, "admin/fsm_transition_form.html", {
        **model_admin.admin_site.each_context(request), "opts": target._meta, "original": target,
        "transition": {"label": "Upload bar list"}, "transition_form": form, "extra_note": note})


def _when(moment: Any) -> str:
    return f"{timezone.localtime(moment):%Y-%m-%d %H:%M:%S %Z}"


@admin.register(BarListImport)
class BarListImportAdmin(FileDownloadAdminMixin, ReadOnlyAdmin):
    list_display = ("id", "kind", "deposit", "audit", "state", "progress", "bars_saved", "created_by", "created_at")
    list_select_related = ("deposit", "audit__vault", "created_by")
    list_filter = ("state", "kind")
    fields = ("kind", "deposit", "audit", "file_link", "sha256", "replace_existing", "state", "status", "progress",
              "attempts", "bars_saved", "error_list", "created_by", "created_at", "finished_at")
    readonly_fields = fields
    change_form_template = "admin/issuance/barlistimport/change_form.html"
    file_fields = {"file": "file_name"}

    @admin.display(description="file")
    def file_link(self, obj: BarListImport) -> str:
        return self.file_link_html(obj, "file")

    @admin.display(description="what is happening")
    def status(self, obj: BarListImport) -> str:
        """In words, so whoever uploaded the list knows whether to wait, and for what."""
        if obj.state == ImportState.QUEUED and obj.attempts:
            text = format_html("Re-queued at {} after the worker stopped during attempt {}; waiting for a worker "
                               "to start attempt {}.", _when(obj.queued_at), obj.attempts, obj.attempts + 1)
        elif obj.state == ImportState.QUEUED:
            text = format_html("Queued since {}, waiting for a worker.", _when(obj.queued_at))
        elif obj.state == ImportState.RUNNING:
            idle = int((timezone.now() - obj.heartbeat_at).total_seconds())
            checked = (format_html("all {} rows checked, saving them", obj.rows_total)
                       if obj.rows_total and obj.rows_done == obj.rows_total
                       else format_html("{} of {} rows checked", obj.rows_done, obj.rows_total or "?"))
            text = format_html("Running (attempt {}): {}; last progress at {} ({} s ago).",
                               obj.attempts, checked, _when(obj.heartbeat_at), idle)
            if idle > 60:
                text = format_html("{} If the worker stopped, the import is re-queued {} s after its last progress.",
                                   text, settings.BAR_LIST_IMPORT_STALE_SECONDS)
        elif obj.state == ImportState.SUCCEEDED:
            text = format_html("Succeeded at {}: {} bars saved.", _when(obj.finished_at), obj.bars_saved)
        else:
            text = format_html("Failed at {} with {} error(s), listed below; nothing was saved.",
                               _when(obj.finished_at), len(obj.errors))
        return format_html('<span id="import-status">{}</span>', text)

    @admin.display(description="progress")
    def progress(self, obj: BarListImport) -> str:
        return format_html('<progress id="import-progress" max="100" value="{}"></progress> {} of {} rows checked',
                           obj.percent, obj.rows_done, obj.rows_total or "?")

    @admin.display(description="errors")
    def error_list(self, obj: BarListImport) -> str:
        if not obj.errors:
            return "none"
        items = format_html_join("", "<li>{}</li>", ((e,) for e in obj.errors[:500]))
        return format_html('<ul id="import-errors">{}</ul>', items)

    def change_view(self, request: http.HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict[str, Any] | None = None) -> http.HttpResponse:
        job = self.get_object(request, object_id)
        running = job is not None and job.state in UNFINISHED_IMPORT_STATES
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), "refresh": running})


@admin.register(Bar)
class BarAdmin(ReadOnlyAdmin):
    list_display = ("refiner", "serial", "year", "gross_oz", "fineness", "fine_oz", "vault", "deposit", "audited")
    list_filter = ("vault", "refiner", "deposit__state")
    search_fields = ("serial", "refiner", "deposit__reference")
    list_select_related = ("vault", "deposit")
    list_per_page = 100

    @admin.display(boolean=True)
    def audited(self, obj: Bar) -> bool:
        return obj.is_audited


@admin.register(Discrepancy)
class DiscrepancyAdmin(ReadOnlyAdmin):
    list_display = ("audit", "kind", "refiner", "serial", "expected", "counted")
    list_filter = ("kind",)


class GoldPriceForm(forms.ModelForm):  # noqa: DJ008
    """Proposes a manual price (an operator); it counts only once a manager approves it."""

    actor: Any = None  # set per request by ServiceFSMAdmin.get_form
    # Typed as the pages show prices ("2,345.67") or plain: one grammar with the API (decimal_parse).
    usd_per_oz = forms.CharField(max_length=40, label="USD per oz",
                                 widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
                                 help_text="USD per fine troy ounce, e.g. 2345.67 or 2,345.67; at most 4 decimals.")

    class Meta:
        model = GoldPrice
        fields = ["usd_per_oz", "source", "as_of"]

    def clean_usd_per_oz(self) -> Decimal:
        try:
            return decimal_parse(self.cleaned_data["usd_per_oz"], field="price", places=4)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from exc

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        price, as_of = data.get("usd_per_oz"), data.get("as_of")
        if price is not None and price <= 0:
            self.add_error("usd_per_oz", "the price must be above zero")
        if as_of is not None and as_of > timezone.now():
            self.add_error("as_of", "the price time is in the future")
        if self.errors:
            return data  # the service runs on well-formed input only
        # The service is the validation (bounds included): a refusal, nothing saved, is a form error.
        try:
            self.instance = services.gold_price_propose(usd_per_oz=data["usd_per_oz"], source=data["source"],
                                                        as_of=data["as_of"], actor=self.actor)
        except (services.InvalidInput, services.TransitionRefused) as exc:
            raise forms.ValidationError(str(exc)) from exc
        return data

    def _post_clean(self) -> None:
        """Nothing to copy or validate on the model: `clean` got the instance from the service."""


@admin.register(GoldPrice)
class GoldPriceAdmin(ServiceFSMAdmin):
    """An operator proposes a manual price; a manager (not the proposer) approves or rejects it. Feed
    readings arrive from the worker, accepted or refused with the reason shown in the list."""

    add_form = GoldPriceForm
    add_permission = "issuance.add_goldprice"
    list_display = ("as_of", "usd_per_oz", "state", "origin", "source", "reason", "entered_by", "decided_by",
                    "created_at")
    list_filter = ("state", "origin")
    list_select_related = ("entered_by", "decided_by")
    change_fields = ["usd_per_oz", "as_of", "state", "origin", "source", "round_id", "reason", "entered_by",
                     "decided_by", "decided_at", "created_at"]
    fsm_forms = {"reject": ReasonForm}
    transition_services = {
        "approve": lambda r, o, d: services.gold_price_approve(price_id=o.pk, actor=actor(r)),
        "reject": lambda r, o, d: services.gold_price_reject(price_id=o.pk, reason=d["reason"], actor=actor(r)),
    }
    transition_labels = {"approve": "Approve price", "reject": "Reject price"}
    confirmations = {
        "approve": lambda o: f"Approve {o.usd_per_oz:,} USD/oz (proposed by {o.entered_by}): it becomes the gold "
                             f"price that values the reserve and limits issues.",
    }

    def object_name(self, obj: Any) -> str:
        return f"Gold price {obj.usd_per_oz:,} USD/oz"

    def create_with_service(self, request: http.HttpRequest, obj: Any, data: dict[str, Any]) -> None:
        # GoldPriceForm.clean proposed it already (obj is that row); nothing more to save.
        self.message_user(request, "Proposed: the price counts once a manager approves it.", level=messages.INFO)


@admin.register(ReserveSnapshot)
class ReserveSnapshotAdmin(ReadOnlyAdmin):
    list_display = ("taken_at", "audited_oz", "pending_oz", "usd_per_oz", "value_usd", "total_supply", "block_number")
from . import admin_proposals  # noqa: E402,F401 - owner proposals' admin lives beside this one
