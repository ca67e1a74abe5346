"""Owner proposals in the admin: operators draft, propose and cancel; owners and managers read.

Every write is one service call: `proposal_draft` (while the add form is validated, so a refusal is
a form error and nothing is saved), `proposal_propose` (the "Propose to the owners" button) and
`proposal_cancel` (a reason is required). The change page links to the multisig signing page.
Proposing cannot be undone, so its button leads to a page saying what the owners will be asked;
the add form's "Save and propose" drafts and proposes in one go (the draft stays if proposing is refused).
"""

from __future__ import annotations

from typing import Any

from django import forms, http
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from backoffice.accounts.mfa import step_up_redirect
from backoffice.admin_fsm import ReasonForm, ServiceFSMAdmin, actor
from backoffice.chain.client import ChainError, chain_client
from backoffice.chain.selectors import deployment_get
from backoffice.core.admin import TimelineLinkAdminMixin
from backoffice.core.amounts import tokens_format
from backoffice.core.errors import InvalidInput
from backoffice.journal.services import TransitionRefused
from backoffice.multisig.actions import ActionField, action_find, actions_of
from backoffice.multisig.admin import ProposalExportAdminMixin, ReferenceAdminMixin
from backoffice.multisig.models import UNSENT_STATES, MultisigRole, MultisigTransaction

from .models import Deposit, DepositState, OwnerProposal, ProposalState
from .services.proposals import (
    deposit_backing_capacity,
    proposal_call,
    proposal_cancel,
    proposal_draft,
    proposal_propose,
)

PROPOSE_PERMISSION = "issuance.propose_ownerproposal"
SAVE_AND_PROPOSE = "_saveandpropose"


def propose_consequence(proposal: OwnerProposal) -> str:
    """What proposing asks the owners, read from the call the proposal would make, e.g. "Propose ISS-0004 to
    the owners: issue 1,000.000000 USDKG to 0x…; 3 of 7 owners must approve"."""
    client = chain_client()
    try:
        _data, decoded = proposal_call(proposal, client)
        safe = deployment_get().multisig(MultisigRole.ISSUANCE).address
        owners = f"{client.safe_threshold(safe)} of {len(client.safe_owners(safe))} owners must approve"
        what = str(decoded.get("description") or proposal.kind)
    except (ChainError, ValueError) as exc:
        action = action_find(proposal.kind)
        what = str(action.label if action else proposal.kind)
        owners = f"the owners must approve (the chain could not be read just now: {exc})"
    what = what[:1].lower() + what[1:]
    return (f"Propose {proposal.reference} to the owners: {what}; {owners}. Its nonce and transaction are then "
            f"fixed: it can still be cancelled, but no longer changed.")


class BackingDepositsField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Deposit) -> str:
        return f"{obj.reference}: {obj.depositor}, may back {tokens_format(deposit_backing_capacity(obj))} more tokens"


def _form_field(field: ActionField) -> forms.Field:
    """The form input of an action field; `proposal_draft` (the action) is the only validator."""
    if field.name == "deposits":
        return BackingDepositsField(
            required=False, label=field.label, widget=forms.CheckboxSelectMultiple, help_text=field.help_text,
            queryset=Deposit.objects.filter(state=DepositState.AUDITED).order_by("reference"))
    if field.kind == "integer":
        return forms.IntegerField(required=False, label=field.label, help_text=field.help_text)
    attrs = {"autocomplete": "off"}
    if field.kind == "tokens":
        attrs |= {"inputmode": "decimal", "placeholder": "1234.5"}
    if field.kind == "address":
        attrs |= {"size": "46"}
    return forms.CharField(required=False, max_length=field.max_length, label=field.label,
                           help_text=field.help_text, widget=forms.TextInput(attrs=attrs))


class OwnerProposalAddFormBase(forms.ModelForm[OwnerProposal]):
    """The fields of every registered action; the chosen action (through `proposal_draft`) is the only
    validator, and its refusals name the field they are shown beside."""

    actor: Any = None  # set per request by OwnerProposalAdmin.get_form

    class Meta:
        model = OwnerProposal
        fields: list[str] = ["memo"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data  # the service runs on well-formed input only
        inputs = {name: value for name, value in data.items() if name not in ("kind", "memo")}
        if "deposits" in inputs:
            inputs["deposits"] = [d.pk for d in inputs["deposits"] or []]
        # The service is the validation: it checks and drafts in one go, so what the form accepts
        # is exactly what was saved, and a refusal (nothing saved) is shown as a form error.
        try:
            self.instance = proposal_draft(client=chain_client(), kind=data["kind"], actor=self.actor,
                                           memo=data.get("memo", ""), **inputs)
        except InvalidInput as exc:
            self.add_error(exc.field if exc.field in self.fields else None, str(exc))
        except TransitionRefused as exc:
            raise forms.ValidationError(str(exc)) from exc
        except ChainError as exc:
            raise forms.ValidationError(f"the chain could not be read, nothing was saved: {exc}") from exc
        return data

    def _post_clean(self) -> None:
        """Nothing to copy or validate on the model: `clean` got the instance from the service."""


def owner_proposal_add_form() -> type[OwnerProposalAddFormBase]:
    """The add form, built from the registry: a kind per registered action, an input per action field."""
    actions = actions_of(MultisigRole.ISSUANCE)
    declared: dict[str, Any] = {"kind": forms.ChoiceField(choices=[(a.name, a.label) for a in actions],
                                                          initial=actions[0].name if actions else None)}
    for action in actions:
        for field in action.fields:
            declared.setdefault(field.name, _form_field(field))
    declared["memo"] = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}),
                                       help_text="For the owners: why this is asked.")
    meta = type("Meta", (OwnerProposalAddFormBase.Meta,), {"fields": list(declared)})
    return type("OwnerProposalAddForm", (OwnerProposalAddFormBase,), {**declared, "Meta": meta})


def _signing_url(tx: MultisigTransaction) -> str:
    return reverse("multisig:sign", args=[tx.pk])


@admin.register(OwnerProposal)
class OwnerProposalAdmin(TimelineLinkAdminMixin, ReferenceAdminMixin, ProposalExportAdminMixin, ServiceFSMAdmin):
    list_display = ("reference_display", "kind", "amount_tokens", "recipient", "status_display", "nonce", "created_by",
                    "created_at")
    list_filter = ("kind", "state")
    search_fields = ("recipient", "memo", "transaction__safe_tx_hash")
    list_select_related = ("transaction", "created_by")
    refusals = (TransitionRefused, ValueError, ChainError)
    fsm_forms = {"cancel": ReasonForm}
    transition_services = {
        "propose": lambda r, o, d: proposal_propose(client=chain_client(), proposal_id=o.pk, actor=actor(r)),
        "cancel": lambda r, o, d: proposal_cancel(client=chain_client(), proposal_id=o.pk, reason=d["reason"],
                                                  actor=actor(r)),
    }
    transition_labels = {"propose": "Propose to the owners", "cancel": "Cancel proposal"}
    step_up_transitions = frozenset({"propose", "cancel"})
    confirmations = {
        "propose": propose_consequence,
        "cancel": lambda o: f"Cancel {o.reference}: the draft is kept in the journal but can never be proposed.",
    }
    add_permission = PROPOSE_PERMISSION
    change_fields = ["kind", "amount_tokens", "recipient", "backing", "fee_basis_points", "redemption_reference",
                     "memo", "status_display", "signing", "created_by", "created_at", "cancel_reason"]

    export_columns = ["proposal", "kind", "amount_tokens", "recipient", "fee_basis_points", "redemption_reference",
                      "backing_deposits", "state", "memo", "proposed_by", "created_at", "cancel_reason"]

    @property
    def add_form(self) -> Any:
        return owner_proposal_add_form()

    def export_queryset(self, request: http.HttpRequest) -> QuerySet[Any]:
        return super().export_queryset(request).select_related("created_by").prefetch_related("backings__deposit")

    def export_values(self, obj: OwnerProposal) -> list[Any]:
        backing = "; ".join(f"{b.deposit.reference}={tokens_format(int(b.amount))}" for b in obj.backings.all())
        return [obj.reference, obj.kind, tokens_format(int(obj.amount)) if obj.amount is not None else "",
                obj.recipient,
                obj.fee_basis_points if obj.fee_basis_points is not None else "", obj.redemption_reference,
                backing, obj.state, obj.memo, obj.created_by.get_username(), obj.created_at.isoformat(),
                obj.cancel_reason]

    def get_queryset(self, request: http.HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).select_related("transaction", "created_by")

    def object_name(self, obj: Any) -> str:
        return str(obj.reference)

    def get_fsm_label_by_name(self, name: str) -> str:
        return {"propose": "proposed to the owners", "cancel": "cancelled"}.get(name, name)

    def save_model(self, request: http.HttpRequest, obj: Any, form: Any, change: bool) -> None:
        """The add form's validation already drafted `obj` through the service; there is nothing to save."""

    def save_related(self, request: http.HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        """The service wrote the backings with their amounts; the form's m2m would overwrite them."""

    def add_view(self, request: http.HttpRequest, form_url: str = "",
                 extra_context: dict[str, Any] | None = None) -> http.HttpResponse:
        # A draft is only a step: "Save and propose" takes both (see response_add), after a fresh second factor.
        if request.method == "POST" and SAVE_AND_PROPOSE in request.POST and (refusal := step_up_redirect(request)):
            return refusal
        return super().add_view(request, form_url, {**(extra_context or {}), "show_save_and_propose": True,
                                                    "show_save_and_add_another": False})

    def response_add(self, request: http.HttpRequest, obj: Any, post_url_continue: str | None = None) -> Any:
        if SAVE_AND_PROPOSE not in request.POST:
            self.message_user(request, f"{obj.reference} saved as a draft; propose it to the owners from its page.",
                              level=messages.SUCCESS)
            return redirect("admin:issuance_ownerproposal_change", object_id=obj.pk)
        try:
            proposal_propose(client=chain_client(), proposal_id=obj.pk, actor=actor(request))
        except self.refusals as exc:
            self.message_user(request, f"{obj.reference} was saved as a draft but not proposed: {exc}",
                              level=messages.ERROR)
        else:
            obj.refresh_from_db()
            self.message_user(request, f"{obj.reference} drafted and proposed to the owners: {obj.status_label}.",
                              level=messages.SUCCESS)
        return redirect("admin:issuance_ownerproposal_change", object_id=obj.pk)

    # --- what the change page shows -----------------------------------------------------------
    @admin.display(description="amount (tokens)")
    def amount_tokens(self, obj: OwnerProposal) -> str:
        return tokens_format(int(obj.amount)) if obj.amount is not None else "-"

    @admin.display(description="status")
    def status_display(self, obj: OwnerProposal) -> str:
        return obj.status_label

    @admin.display(description="nonce")
    def nonce(self, obj: OwnerProposal) -> str:
        return str(obj.transaction.nonce) if obj.transaction is not None else "-"

    @admin.display(description="backing deposits")
    def backing(self, obj: OwnerProposal) -> str:
        rows = [(b.deposit.reference, tokens_format(int(b.amount))) for b in obj.backings.select_related("deposit")]
        if not rows:
            return "-"
        return format_html('<span id="proposal-backing">{}</span>',
                           format_html_join("", "{} backs {} tokens<br>", rows))

    @admin.display(description="owners' signatures")
    def signing(self, obj: OwnerProposal) -> str:
        tx = obj.transaction
        if tx is None:
            return "not proposed yet" if obj.state == ProposalState.DRAFT else "-"
        parts = [format_html(
            '<a class="button" id="signing-page-link" href="{}">Signing page</a> nonce {}, {} of {} signatures: {}',
            _signing_url(tx), tx.nonce, tx.confirmations.count(), tx.threshold, tx.status_label)]
        for rejection in tx.rejections.all():
            parts.append(format_html(' &middot; <a id="rejection-link" href="{}">rejection transaction</a> ({})',
                                     _signing_url(rejection), rejection.status_label))
        # A proposed transaction can still be withdrawn while it has not been handed to the relayer.
        if tx.state in UNSENT_STATES:
            url = reverse("admin:issuance_ownerproposal_withdraw", args=[obj.pk])
            parts.append(format_html(' <a class="button" id="withdraw-proposal" href="{}">Cancel proposal</a>', url))
        return format_html_join("", "{}", ((p,) for p in parts))

    # --- cancelling a proposal that the owners already have ----------------------------------
    def get_urls(self) -> list[Any]:
        withdraw = path("<int:pk>/withdraw/", self.admin_site.admin_view(self.withdraw_view),
                        name="issuance_ownerproposal_withdraw")
        return [withdraw, *super().get_urls()]

    def withdraw_view(self, request: http.HttpRequest, pk: int) -> http.HttpResponse:
        """Cancel a proposed proposal: its multisig transaction is withdrawn (its FSM has no button for it)."""
        proposal = get_object_or_404(OwnerProposal.objects.select_related("transaction"), pk=pk)
        if not request.user.has_perm(PROPOSE_PERMISSION):
            raise PermissionDenied(f"Only operators may cancel {proposal.reference}; nothing was changed.")
        if request.method == "POST" and (refusal := step_up_redirect(request)):
            return refusal
        form = ReasonForm(data=request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                rejection = proposal_cancel(client=chain_client(), proposal_id=proposal.pk,
                                            reason=form.cleaned_data["reason"], actor=actor(request))
            except self.refusals as exc:
                self.message_user(request, f"Refused, nothing changed: {exc}", level=messages.ERROR)
            else:
                if rejection is None:
                    self.message_user(request, f"{proposal.reference} cancelled.", level=messages.SUCCESS)
                else:
                    self.message_user(request, format_html(
                        '{} cancelled. The owners must sign a <a href="{}">rejection transaction</a> at nonce {} so '
                        "the signatures already given can never be used.", proposal.reference, _signing_url(rejection),
                        rejection.nonce),
                        level=messages.WARNING)
                return redirect("admin:issuance_ownerproposal_change", object_id=proposal.pk)
        return render(request, "admin/fsm_transition_form.html", {
            **self.admin_site.each_context(request), "opts": OwnerProposal._meta, "original": proposal,
            "title": f"Cancel proposal: {proposal.reference}",
            "transition": {"label": "Cancel proposal",
                           "help_text": "Withdraws the multisig transaction before it is sent."},
            "confirmation": f"Cancel {proposal.reference}: its transaction at nonce "
                            f"{proposal.transaction.nonce if proposal.transaction else '-'} is withdrawn; if owners "
                            f"already signed it, they must sign a rejection at the same nonce.",
            "transition_form": form})
