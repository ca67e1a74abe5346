"""Owner proposals in the admin: operators draft, propose and cancel; owners and managers read.

Every write is one service call: `proposal_draft` (while the add form is validated, so a refusal is
a form error and nothing is saved), `proposal_propose` (the "Propose to the owners" button) and
`proposal_cancel` (a reason is required). The change page links to the multisig signing page.
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

from backoffice.admin_fsm import ReasonForm, ServiceFSMAdmin, actor
from backoffice.chain.client import ChainError, chain_client
from backoffice.core.amounts import tokens_format
from backoffice.journal.services import TransitionRefused
from backoffice.multisig.models import MultisigTransaction, TxState

from .models import Deposit, DepositState, OwnerProposal, ProposalKind, ProposalState
from .services.gold import InvalidInput
from .services.proposals import deposit_backing_capacity, proposal_cancel, proposal_draft, proposal_propose

PROPOSE_PERMISSION = "issuance.propose_ownerproposal"
# A proposed transaction can still be withdrawn while it has not been handed to the relayer.
WITHDRAWABLE = (TxState.AWAITING_SIGNATURES, TxState.APPROVED)
# The service prefixes its messages with the input they are about; shown beside that field.
_MESSAGE_FIELDS = {"kind": "kind", "amount": "amount", "recipient": "recipient", "deposits": "deposits",
                   "fee": "fee_basis_points", "redemption reference": "redemption_reference"}


class BackingDepositsField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Deposit) -> str:
        return f"{obj.reference}: {obj.depositor}, may back {tokens_format(deposit_backing_capacity(obj))} more tokens"


class OwnerProposalAddForm(forms.ModelForm[OwnerProposal]):
    """The fields of every kind; `proposal_draft` decides which matter and is the only validator."""

    actor: Any = None  # set per request by OwnerProposalAdmin.get_form

    kind = forms.ChoiceField(choices=ProposalKind.choices, initial=ProposalKind.ISSUE)
    amount = forms.CharField(
        required=False, max_length=100, label="Amount (tokens)",
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off", "placeholder": "1234.5"}),
        help_text="Issue and redeem: in tokens, e.g. 1234.5 or 1,234.5, at most 6 decimals (one base unit is "
                  "0.000001).",
    )
    recipient = forms.CharField(
        required=False, max_length=42, widget=forms.TextInput(attrs={"size": 46, "autocomplete": "off"}),
        help_text="Issue: the checksummed (EIP-55) address that receives the new tokens.",
    )
    deposits = BackingDepositsField(
        required=False, label="Backing deposits", widget=forms.CheckboxSelectMultiple,
        queryset=Deposit.objects.filter(state=DepositState.AUDITED).order_by("reference"),
        help_text="Issue: the audited deposits whose gold backs the amount, used in this order.",
    )
    fee_basis_points = forms.IntegerField(required=False, label="Fee (basis points)",
                                          help_text="Set fee: 0 to 20 basis points.")
    redemption_reference = forms.CharField(required=False, max_length=100,
                                           help_text="Redeem: the redemption this settles.")
    memo = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}),
                           help_text="For the owners: why this is asked.")

    class Meta:
        model = OwnerProposal
        fields = ["kind", "amount", "recipient", "deposits", "fee_basis_points", "redemption_reference", "memo"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("kind") in (ProposalKind.ISSUE, ProposalKind.REDEEM) and not data.get("amount"):
            self.add_error("amount", "amount: required to issue or redeem")
        if self.errors:
            return data  # the service runs on well-formed input only
        # The service is the validation: it checks and drafts in one go, so what the form accepts
        # is exactly what was saved, and a refusal (nothing saved) is shown as a form error.
        try:
            self.instance = proposal_draft(
                client=chain_client(), kind=data["kind"], actor=self.actor, amount=data.get("amount", ""),
                recipient=data.get("recipient", ""), deposit_ids=[d.pk for d in data.get("deposits") or []],
                memo=data.get("memo", ""), fee_basis_points=data.get("fee_basis_points"),
                redemption_reference=data.get("redemption_reference", ""),
            )
        except InvalidInput as exc:
            self._service_error(str(exc))
        except TransitionRefused as exc:
            raise forms.ValidationError(str(exc)) from exc
        except ChainError as exc:
            raise forms.ValidationError(f"the chain could not be read, nothing was saved: {exc}") from exc
        return data

    def _service_error(self, message: str) -> None:
        prefix = message.split(":", 1)[0].strip()
        self.add_error(_MESSAGE_FIELDS.get(prefix), message)

    def _post_clean(self) -> None:
        """Nothing to copy or validate on the model: `clean` got the instance from the service."""


def _signing_url(tx: MultisigTransaction) -> str:
    return reverse("multisig:sign", args=[tx.pk])


@admin.register(OwnerProposal)
class OwnerProposalAdmin(ServiceFSMAdmin):
    list_display = ("id", "kind", "amount_tokens", "recipient", "status_display", "nonce", "created_by", "created_at")
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
    add_form, add_permission = OwnerProposalAddForm, PROPOSE_PERMISSION
    change_fields = ["kind", "amount_tokens", "recipient", "backing", "fee_basis_points", "redemption_reference",
                     "memo", "status_display", "signing", "created_by", "created_at", "cancel_reason"]

    def get_queryset(self, request: http.HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).select_related("transaction", "created_by")

    def get_fsm_label(self, transition: Any) -> str:
        return {"propose": "Propose to the owners", "cancel": "Cancel"}.get(transition.name, transition.name)

    def get_fsm_label_by_name(self, name: str) -> str:
        return {"propose": "proposed to the owners", "cancel": "cancelled"}.get(name, name)

    def save_model(self, request: http.HttpRequest, obj: Any, form: Any, change: bool) -> None:
        """The add form's validation already drafted `obj` through the service; there is nothing to save."""

    def save_related(self, request: http.HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        """The service wrote the backings with their amounts; the form's m2m would overwrite them."""

    # --- what the change page shows -----------------------------------------------------------
    @admin.display(description="amount (tokens)")
    def amount_tokens(self, obj: OwnerProposal) -> str:
        return tokens_format(int(obj.amount)) if obj.amount is not None else "-"

    @admin.display(description="status")
    def status_display(self, obj: OwnerProposal) -> str:
        return obj.status

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
            '<a class="button" id="signing-page-link" href="{}">Signing page</a> nonce {}, {} of {} signatures, {}',
            _signing_url(tx), tx.nonce, tx.confirmations.count(), tx.threshold, tx.state)]
        for rejection in tx.rejections.all():
            parts.append(format_html(' &middot; <a id="rejection-link" href="{}">rejection transaction</a> ({})',
                                     _signing_url(rejection), rejection.state))
        if tx.state in WITHDRAWABLE:
            url = reverse("admin:issuance_ownerproposal_withdraw", args=[obj.pk])
            parts.append(format_html(' <a class="button" id="withdraw-proposal" href="{}">Cancel</a>', url))
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
            raise PermissionDenied
        form = ReasonForm(data=request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                rejection = proposal_cancel(client=chain_client(), proposal_id=proposal.pk,
                                            reason=form.cleaned_data["reason"], actor=actor(request))
            except self.refusals as exc:
                self.message_user(request, f"Refused, nothing changed: {exc}", level=messages.ERROR)
            else:
                if rejection is None:
                    self.message_user(request, "Cancelled.", level=messages.SUCCESS)
                else:
                    self.message_user(request, format_html(
                        'Cancelled. The owners must sign a <a href="{}">rejection transaction</a> at nonce {} so '
                        "the signatures already given can never be used.", _signing_url(rejection), rejection.nonce),
                        level=messages.WARNING)
                return redirect("admin:issuance_ownerproposal_change", object_id=proposal.pk)
        return render(request, "admin/fsm_transition_form.html", {
            **self.admin_site.each_context(request), "opts": OwnerProposal._meta, "original": proposal,
            "transition": {"label": "Cancel", "help_text": "Withdraws the multisig transaction before it is sent."},
            "transition_form": form})
