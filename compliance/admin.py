"""Compliance in the admin: officers open cases, add evidence, propose actions to the compliance multisig and
close cases; managers read everything; every other role sees no compliance page at all.

Every write is one service call: `case_open` (while the add form is validated, so a refusal is a form error
and nothing is saved), `case_evidence_add`, `compliance_proposal_create`, `case_close` (the "Close case"
button) and `register_refresh`. Officers sign proposals on the multisig signing page, linked from the case.
"""

from __future__ import annotations

from typing import Any, cast

from django import forms, http
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.html import format_html

from backoffice.accounts.mfa import step_up_redirect
from backoffice.admin_fsm import ReasonForm, ServiceFSMAdmin, actor
from backoffice.chain.client import ChainError, chain_client
from backoffice.chain.selectors import deployment_get
from backoffice.core.admin import TimelineLinkAdminMixin
from backoffice.core.amounts import tokens_format
from backoffice.core.files import UploadField
from backoffice.journal.services import TransitionRefused
from backoffice.multisig.actions import action_find, actions_of
from backoffice.multisig.admin import ProposalExportAdminMixin, ReadOnlyAdmin, ReferenceAdminMixin
from backoffice.multisig.models import Confirmation, MultisigRole

from . import services
from .actions import ComplianceProposalAction
from .api.serializers import signing_url
from .models import (
    Case,
    CaseState,
    ComplianceProposal,
    FrozenAddress,
    ScreeningEntry,
    ScreeningImport,
)
from .models.cases import EVIDENCE
from .selectors import compliance_actions_available

ACT = "compliance.act_compliance"
# The service's refusals: input (InvalidInput is a ValueError), role or state, and a node that cannot be asked.
REFUSALS = (ValueError, TransitionRefused, ChainError)


class CaseOpenForm(forms.ModelForm[Case]):
    """The case's fields; `case_open` is the only validator and the only writer."""

    actor: Any = None  # set per request by CaseAdmin.get_form

    address = forms.CharField(max_length=42, widget=forms.TextInput(attrs={"size": 46, "autocomplete": "off"}),
                              help_text="The EIP-55 checksummed address the case is about.")

    class Meta:
        model = Case
        fields = ["address", "category", "reference", "description"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data  # the service runs on well-formed input only
        # The service is the validation: it checks and opens in one go, so what the form accepts is exactly
        # what was saved, and a refusal (nothing saved) is shown as a form error.
        try:
            self.instance = services.case_open(address=data["address"], category=data["category"],
                                               reference=data["reference"], description=data["description"],
                                               actor=self.actor)
        except REFUSALS as exc:
            # A refusal naming an input is shown beside it; the others (role, text) on top.
            field = getattr(exc, "field", None)
            self.add_error(field if field in self.fields else None, str(exc))
        return data

    def _post_clean(self) -> None:
        """Nothing to copy or validate on the model: `clean` got the instance from the service."""


class EvidenceForm(forms.Form):
    file = UploadField(kind=EVIDENCE,
                       help_text="Kept with its SHA-256, so it can be shown later to be the file received.")
    description = forms.CharField(required=False, max_length=300, help_text="What this document is.")


class ProposeForm(forms.Form):
    """The inputs the action declares (none for blacklist and unblacklist; destroy funds: the typed balance)."""

    def __init__(self, *args: Any, action: ComplianceProposalAction, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in action.fields:
            self.fields[field.name] = forms.CharField(
                max_length=field.max_length, label=field.label, help_text=field.help_text,
                widget=forms.TextInput(attrs={"autocomplete": "off",
                                              **({"inputmode": "decimal"} if field.kind == "tokens" else {})}))


def _compliance_actions() -> list[ComplianceProposalAction]:
    return [a for a in actions_of(MultisigRole.COMPLIANCE) if isinstance(a, ComplianceProposalAction)]


def _actions_available(address: str) -> list[str]:
    try:
        return compliance_actions_available(client=chain_client(), address=address)
    except ChainError:
        return [a.name for a in _compliance_actions()]


@admin.register(Case)
class CaseAdmin(TimelineLinkAdminMixin, ServiceFSMAdmin):
    list_display = ("id", "address", "category", "reference", "state", "opened_by", "opened_at")
    list_filter = ("state", "category")
    search_fields = ("address", "reference", "description")
    list_select_related = ("opened_by",)
    change_form_template = "compliance/admin/case_change_form.html"
    refusals = REFUSALS
    fsm_forms = {"close": ReasonForm}
    transition_services = {
        "close": lambda r, o, d: services.case_close(client=chain_client(), case_id=o.pk, reason=d["reason"],
                                                 actor=actor(r)),
    }
    transition_labels = {"close": "Close case"}
    # Every compliance action (open, evidence, propose, close) needs a fresh second factor.
    step_up_transitions = frozenset({"close"})
    confirmations = {
        "close": lambda o: f"Close case {o.pk} about {o.address}: no proposal can be made on it any more, and its "
                           f"proposals not yet sent are withdrawn.",
    }
    add_form, add_permission = CaseOpenForm, ACT
    change_fields = ["address", "category", "reference", "description", "state", "opened_by", "opened_at",
                     "closed_reason"]

    def object_name(self, obj: Any) -> str:
        return f"Case {obj.pk}"

    def get_fsm_label_by_name(self, name: str) -> str:
        return {"close": "closed"}.get(name, name)

    def get_help_text(self, transition: Any) -> str:
        return {"close": "Close the case, with a reason kept in the journal. Its open proposals are withdrawn "
                         "(a signed one gets a rejection for the officers to sign); refused while one is "
                         "being sent."}.get(transition.name, "")

    def add_view(self, request: http.HttpRequest, form_url: str = "",
                 extra_context: dict[str, Any] | None = None) -> http.HttpResponse:
        # Opening always leads to the case's page (response_add): one button says so.
        if request.method == "POST" and (refusal := step_up_redirect(request)):
            return refusal
        context = {**(extra_context or {}), "show_save_and_add_another": False, "show_save_and_continue": False}
        return super().add_view(request, form_url, context)

    def save_model(self, request: http.HttpRequest, obj: Any, form: Any, change: bool) -> None:
        """The add form's validation already opened the case through the service; there is nothing to save."""

    def save_related(self, request: http.HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        """Nothing related is edited here."""

    def response_add(self, request: http.HttpRequest, obj: Any, post_url_continue: str | None = None) -> Any:
        # Straight to the case: evidence and proposals are added there.
        self.message_user(request, f"Case {obj.pk} opened.", level=messages.SUCCESS)
        return redirect("admin:compliance_case_change", object_id=obj.pk)

    def change_view(self, request: http.HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict[str, Any] | None = None) -> http.HttpResponse:
        case = cast(Case | None, self.get_object(request, object_id))
        # Nothing on the case is edited in place: the steps are the buttons below, not "Save".
        context = {**(extra_context or {}), "show_save": False, "show_save_and_add_another": False,
                   "show_save_and_continue": False}
        if case is not None:
            confirmations = Confirmation.objects.select_related("signer__user").order_by("created_at", "pk")
            proposals = case.proposals.select_related("transaction", "created_by").prefetch_related(
                Prefetch("transaction__confirmations", queryset=confirmations)).order_by("-created_at", "-id")
            may_act = request.user.has_perm(ACT)
            evidence = case.evidence.select_related("uploaded_by").order_by("uploaded_at", "pk")
            context |= {
                "evidence": [(e, e.file_name or e.file.name.rsplit("/", 1)[-1]) for e in evidence],
                "proposals": [(p, signing_url(p.transaction_id),
                               tokens_format(int(p.balance_confirmed)) if p.balance_confirmed is not None else "")
                              for p in proposals],
                "may_act": may_act,
                "evidence_url": reverse("admin:compliance_case_evidence", args=[case.pk]) if may_act else "",
                # The service refuses proposals on a closed case, and actions the chain state does not
                # allow; no button invites one (all are offered when the chain cannot be read).
                "propose_links": [
                    (f"propose-{a.replace('_', '-')}", label, reverse("admin:compliance_case_propose",
                                                                       args=[case.pk, a]))
                    for a, label in ((a.name, a.propose_label) for a in _compliance_actions())
                    if a in _actions_available(case.address)
                ] if may_act and case.state == CaseState.OPEN else [],
            }
        return super().change_view(request, object_id, form_url, context)

    # --- evidence and proposals: pages of their own, each calling one service -----------------
    def get_urls(self) -> list[Any]:
        return [
            path("<int:pk>/evidence/", self.admin_site.admin_view(self.evidence_view),
                 name="compliance_case_evidence"),
            path("<int:pk>/propose/<str:action>/", self.admin_site.admin_view(self.propose_view),
                 name="compliance_case_propose"),
            *super().get_urls(),
        ]

    def evidence_view(self, request: http.HttpRequest, pk: int) -> http.HttpResponse:
        if not request.user.has_perm(ACT):
            raise PermissionDenied("Only compliance officers may add evidence to a case; nothing was stored.")
        if request.method == "POST" and (refusal := step_up_redirect(request)):
            return refusal
        case = get_object_or_404(Case, pk=pk)
        form = EvidenceForm(data=request.POST or None, files=request.FILES or None)
        if request.method == "POST" and form.is_valid():
            try:
                evidence = services.case_evidence_add(case_id=case.pk, upload=form.cleaned_data["file"],
                                                      description=form.cleaned_data["description"],
                                                      actor=actor(request))
            except REFUSALS as exc:
                form.add_error(None, f"Refused, nothing stored: {exc}")
            else:
                self.message_user(request, f"Evidence added, SHA-256 {evidence.sha256}.", level=messages.SUCCESS)
                return redirect("admin:compliance_case_change", object_id=case.pk)
        return render(request, "admin/fsm_transition_form.html", {
            **self.admin_site.each_context(request), "opts": Case._meta, "original": case,
            "transition": {"label": "Add evidence"}, "transition_form": form})

    def propose_view(self, request: http.HttpRequest, pk: int, action: str) -> http.HttpResponse:
        if not request.user.has_perm(ACT):
            raise PermissionDenied("Only compliance officers may propose an action on a case; nothing was stored.")
        if request.method == "POST" and (refusal := step_up_redirect(request)):
            return refusal
        chosen = action_find(action, role=MultisigRole.COMPLIANCE)
        if not isinstance(chosen, ComplianceProposalAction):
            raise http.Http404
        case = get_object_or_404(Case, pk=pk)
        form = ProposeForm(data=request.POST if request.method == "POST" else None, action=chosen)
        if request.method == "POST" and form.is_valid():
            try:
                proposal = services.compliance_proposal_create(
                    client=chain_client(), case_id=case.pk, action=action, actor=actor(request), **form.cleaned_data)
            except REFUSALS as exc:
                field = getattr(exc, "field", None)
                form.add_error(field if field in form.fields else None, f"Refused, nothing stored: {exc}")
            else:
                self.message_user(request, format_html(
                    '{} proposed: {} {}. All five officers sign it on its <a href="{}">signing page</a>.',
                    proposal.reference, proposal.action_label, proposal.address, signing_url(proposal.transaction_id)),
                    level=messages.SUCCESS)
                return redirect("admin:compliance_case_change", object_id=case.pk)
        balance, balance_error = None, ""
        if chosen.shows_balance:
            # Read afresh on every showing: a blacklisted address can still receive tokens.
            try:
                balance = tokens_format(chain_client().token_balance(deployment_get().token, case.address))
            except ChainError as exc:
                balance_error = f"the balance could not be read from chain: {exc}"
        return render(request, "compliance/admin/propose.html", {
            **self.admin_site.each_context(request), "opts": Case._meta, "original": case, "form": form,
            "action": chosen.name, "label": chosen.propose_label, "function": chosen.function,
            "shows_balance": chosen.shows_balance, "balance": balance,
            "balance_error": balance_error, "title": f"{chosen.propose_label}: {case.address}"})


@admin.register(ComplianceProposal)
class ComplianceProposalAdmin(TimelineLinkAdminMixin, ReferenceAdminMixin, ProposalExportAdminMixin, ReadOnlyAdmin):
    list_display = ("reference_display", "action", "address", "case_link", "status_display", "signatures",
                    "signing_link",
                    "created_by", "created_at")
    list_filter = ("action", "transaction__state")
    search_fields = ("address", "transaction__safe_tx_hash", "case__reference")
    list_select_related = ("transaction", "case", "created_by")
    fields = ("case_link", "action", "address", "balance_tokens", "status_display", "signatures", "signing_link",
              "created_by", "created_at")
    readonly_fields = fields
    export_columns = ["proposal", "action", "address", "case", "case_reference", "balance_to_burn_tokens", "state",
                      "proposed_by", "created_at"]

    def get_queryset(self, request: http.HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).select_related("transaction", "case", "created_by").prefetch_related(
            "transaction__confirmations")

    def export_values(self, obj: ComplianceProposal) -> list[Any]:
        balance = tokens_format(int(obj.balance_confirmed)) if obj.balance_confirmed is not None else ""
        return [obj.reference, obj.action, obj.address, obj.case_id, obj.case.reference, balance, obj.status,
                obj.created_by.get_username(), obj.created_at.isoformat()]

    @admin.display(description="case")
    def case_link(self, obj: ComplianceProposal) -> str:
        return format_html('<a href="{}">case {}</a>', reverse("admin:compliance_case_change", args=[obj.case_id]),
                           obj.case_id)

    @admin.display(description="status", ordering="transaction__state")
    def status_display(self, obj: ComplianceProposal) -> str:
        return obj.status_label

    @admin.display(description="signatures")
    def signatures(self, obj: ComplianceProposal) -> str:
        return f"{len(obj.transaction.confirmations.all())} of {obj.transaction.threshold}"

    @admin.display(description="signing page")
    def signing_link(self, obj: ComplianceProposal) -> str:
        return format_html('<a class="signing-link" href="{}">sign / follow</a>', signing_url(obj.transaction_id))

    @admin.display(description="balance to burn (tokens)")
    def balance_tokens(self, obj: ComplianceProposal) -> str:
        return tokens_format(int(obj.balance_confirmed)) if obj.balance_confirmed is not None else "-"


def _flag(entry: FrozenAddress) -> str:
    if entry.on_chain_blacklisted is None:
        return format_html('<span class="{}">{}</span>', "register-unread", "not read yet")
    if entry.mismatch:
        return format_html('<strong class="{}" style="color:#ba2121">{}</strong>', "mismatch-flag", "MISMATCH")
    return format_html('<span class="{}" style="color:#1d5b25">{}</span>', "register-ok", "agrees")


@admin.register(FrozenAddress)
class FrozenAddressAdmin(ReadOnlyAdmin):
    list_display = ("address", "chain_check", "expected_blacklisted", "on_chain_blacklisted", "balance_tokens",
                    "case_link", "executed_transaction", "checked_at", "checked_block")
    list_filter = ("expected_blacklisted", "on_chain_blacklisted")
    search_fields = ("address",)
    list_select_related = ("case", "last_transaction")
    fields = ("address", "chain_check", "expected_blacklisted", "on_chain_blacklisted", "balance_tokens",
              "case_link", "executed_transaction", "checked_at", "checked_block")
    readonly_fields = fields
    # ReadOnlyAdmin switches actions off; this one only reads the chain into the register (officers only).
    actions = ["refresh_from_chain"]  # type: ignore[assignment]

    def has_act_permission(self, request: http.HttpRequest) -> bool:
        return request.user.has_perm(ACT)

    @admin.action(description="Refresh from chain", permissions=["act"])
    def refresh_from_chain(self, request: http.HttpRequest,
                           queryset: QuerySet[FrozenAddress]) -> http.HttpResponse | None:
        if refusal := step_up_redirect(request, reverse("admin:compliance_frozenaddress_changelist")):
            return refusal
        client, flagged = chain_client(), []
        addresses = list(queryset.order_by("address").values_list("address", flat=True))
        try:
            for address in addresses:
                if services.register_refresh(client=client, address=address).mismatch:
                    flagged.append(address)
        except ChainError as exc:
            self.message_user(request, f"The chain could not be read: {exc}", level=messages.ERROR)
            return None
        if flagged:
            self.message_user(request, f"{len(addresses)} read from chain; MISMATCH: {', '.join(flagged)}",
                              level=messages.WARNING)
        else:
            self.message_user(request, f"{len(addresses)} read from chain; all agree.", level=messages.SUCCESS)
        return None

    @admin.display(description="chain check")
    def chain_check(self, obj: FrozenAddress) -> str:
        return _flag(obj)

    @admin.display(description="balance (tokens)")
    def balance_tokens(self, obj: FrozenAddress) -> str:
        return tokens_format(int(obj.balance)) if obj.balance is not None else "-"

    @admin.display(description="case")
    def case_link(self, obj: FrozenAddress) -> str:
        if obj.case_id is None:
            return "-"
        return format_html('<a href="{}">case {}</a>', reverse("admin:compliance_case_change", args=[obj.case_id]),
                           obj.case_id)

    @admin.display(description="executed transaction")
    def executed_transaction(self, obj: FrozenAddress) -> str:
        if obj.last_transaction is None:
            return "-"
        tx = obj.last_transaction
        return format_html('<a href="{}">{}</a>', signing_url(tx.pk), tx.relayer_tx_hash or tx.safe_tx_hash)


@admin.register(ScreeningImport)
class ScreeningImportAdmin(ReadOnlyAdmin):
    list_display = ("id", "list_name", "source", "listed_on", "rows", "imported_by", "imported_at")
    list_filter = ("source", "list_name")
    list_select_related = ("imported_by",)
    fields = ("list_name", "source", "listed_on", "rows", "entries_link", "file_name", "sha256", "imported_by",
              "imported_at")
    readonly_fields = fields

    @admin.display(description="entries")
    def entries_link(self, obj: ScreeningImport) -> str:
        # A link, not an inline: a sanctions list can hold hundreds of thousands of addresses.
        url = reverse("admin:compliance_screeningentry_changelist") + f"?batch__id__exact={obj.pk}"
        return format_html('<a href="{}">{} addresses</a>', url, obj.rows)

    @admin.display(description="file")
    def file_name(self, obj: ScreeningImport) -> str:
        # The name only: uploads are not served as media, the SHA-256 below identifies the file.
        return obj.file_name or obj.file.name.rsplit("/", 1)[-1]


@admin.register(ScreeningEntry)
class ScreeningEntryAdmin(ReadOnlyAdmin):
    list_display = ("address", "name", "batch")
    list_filter = ("batch__list_name",)
    search_fields = ("address", "name")
    list_select_related = ("batch",)
