"""Owner proposals over HTTP: operators draft, propose and cancel; everyone who may read them reads them.
A proposed one links to its multisig transaction (`transaction.id`, `transaction.url`): its typed data,
signatures, cancel and reject live in the one API, /api/multisig/transactions/. Each endpoint parses its
input and calls one service.

Refusals keep the meanings of the rest of the API (see views.py): 400 for refused input, 409 when the
proposal's state does not allow the step, 403 when the role does not. A node that cannot be reached or has
nothing deployed is a 503 with the reason, not a bare server error. Nothing is changed by any refusal.
"""

from __future__ import annotations

from typing import Any, cast

from django.contrib.auth.models import User
from django.core.cache import cache
from django.db.models import Prefetch, QuerySet
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from backoffice.accounts.mfa import StepUpRequired
from backoffice.chain.client import chain_client
from backoffice.chain.selectors import deployment_get
from backoffice.core.api import (
    REFUSALS,
    ActionPermission,
    BaseUnitsField,
    DecimalStringField,
    ErrorSerializer,
    ReasonSerializer,
    ServiceViewSet,
    TokensField,
)
from backoffice.journal.selectors import journal_head_mark
from backoffice.multisig.actions import ActionField, action_find, actions_of, transaction_display
from backoffice.multisig.api_transactions import transaction_api_url
from backoffice.multisig.models import PENDING_STATES, Confirmation, MultisigRole, MultisigTransaction, TxState
from issuance import services
from issuance.models import OwnerProposal, ProposalBacking, ProposalState

from .proposal_rows import ProposalsListed, proposal_rows_present

VIEW = "issuance.view_ownerproposal"
PROPOSE = "issuance.propose_ownerproposal"

# What `status` can say: a proposal's own state until it is proposed, its transaction's after.
PROPOSAL_STATUSES = list(dict.fromkeys([ProposalState.DRAFT, *TxState.values, ProposalState.CANCELLED]))

UNAVAILABLE = {503: OpenApiResponse(ErrorSerializer, description="The chain node does not answer or nothing is "
                                                                 "deployed on it; nothing changed.")}


# --- output ---------------------------------------------------------------------------------

class OwnerConfirmationSerializer(serializers.ModelSerializer):
    signer = serializers.SerializerMethodField(help_text="The user bound to the signing address; empty for an "
                                                         "on-chain approval by an owner no user is bound to.")

    class Meta:
        model = Confirmation
        fields = ["owner_address", "signer", "created_at"]
        read_only_fields = fields

    def get_signer(self, confirmation: Confirmation) -> str:
        # An owner's on-chain approval may have no user behind it: "" (the key was left out before).
        return confirmation.signer.user.get_username() if confirmation.signer else ""


class MultisigTransactionSummarySerializer(serializers.ModelSerializer):
    """One issuance multisig transaction: a proposal's, or a rejection that burns a cancelled one's nonce."""

    # A plain string, not an enum: the multisig's own API publishes TxState under `state`, and one
    # choice set under two property names makes the schema generator warn (and --fail-on-warn fail).
    status = serializers.CharField(source="state", read_only=True,
                                   help_text=f"The transaction's state: one of {', '.join(TxState.values)}.")
    function = serializers.SerializerMethodField(help_text="The token function its bytes call; 'rejection' for a "
                                                           "rejection transaction.")
    decoded = serializers.SerializerMethodField(help_text="The call in readable form, decoded from its bytes.")
    proposal = serializers.IntegerField(source="owner_proposal.pk", read_only=True, allow_null=True,
                                        help_text="The owner proposal this transaction carries out, if any.")
    replaces = serializers.CharField(source="replaces.safe_tx_hash", read_only=True, allow_null=True,
                                     help_text="For a rejection: the safeTxHash of the transaction it cancels.")
    reference = serializers.SerializerMethodField(help_text="Its one public number: its proposal's (ISS-0003; "
                                                            "'ISS-0003 rejection' for a rejection), or TX-0004.")
    status_label = serializers.CharField(read_only=True, help_text='Its state in words, e.g. "Awaiting 2 more '
                                                                   'approvals", "Executed in block 1234".')
    confirmations = OwnerConfirmationSerializer(many=True, read_only=True)
    confirmations_count = serializers.SerializerMethodField()
    signatures = serializers.SerializerMethodField(help_text='e.g. "2 of 3"')
    url = serializers.SerializerMethodField(help_text="This transaction in /api/multisig/transactions/: its "
                                                      "typed data, signatures, cancel and reject are there.")

    class Meta:
        model = MultisigTransaction
        fields = ["id", "reference", "status_label", "url", "nonce", "safe_address", "safe_tx_hash",
                  "status", "function", "decoded", "proposal",
                  "replaces", "threshold", "confirmations_count", "signatures", "confirmations", "created_at",
                  "relayer_tx_hash", "block_number", "executed_at", "failure_reason", "cancel_reason"]
        read_only_fields = fields

    def get_url(self, tx: MultisigTransaction) -> str:
        return transaction_api_url(tx.pk)

    def get_reference(self, tx: MultisigTransaction) -> str:
        # A proposal's transaction knows its proposal without a query (it was reached from it, or fetched
        # with it), a rejection the proposal of the transaction it replaces (`_transactions` fetches both);
        # anything else asks the model, which walks every one-to-one relation (a query each).
        try:
            if tx.replaces_id is None:
                return str(tx.owner_proposal.reference)
            if tx.replaces is not None:
                return f"{tx.replaces.owner_proposal.reference} rejection"
        except OwnerProposal.DoesNotExist:
            pass
        return str(tx.reference)

    def get_function(self, tx: MultisigTransaction) -> str:
        return str(transaction_display(tx, details=False)["function"])

    @extend_schema_field({"type": "object", "additionalProperties": True})
    def get_decoded(self, tx: MultisigTransaction) -> dict[str, Any]:
        return transaction_display(tx, details=False)

    def get_confirmations_count(self, tx: MultisigTransaction) -> int:
        return len(tx.confirmations.all())  # prefetched: no query per row

    def get_signatures(self, tx: MultisigTransaction) -> str:
        return f"{self.get_confirmations_count(tx)} of {tx.threshold}"


class ProposalBackingSerializer(serializers.ModelSerializer):
    reference = serializers.CharField(source="deposit.reference", read_only=True)
    amount = BaseUnitsField(read_only=True)
    amount_tokens = TokensField(source="amount", read_only=True)

    class Meta:
        model = ProposalBacking
        fields = ["deposit", "reference", "amount", "amount_tokens"]
        read_only_fields = fields


class ProposalSerializer(serializers.ModelSerializer):
    kind = serializers.CharField(read_only=True, help_text="The registered owner-proposal action: issue, redeem, "
                                                           "pause, unpause, set_fee, ...")
    amount = BaseUnitsField(read_only=True, allow_null=True)
    amount_tokens = TokensField(source="amount", read_only=True, allow_null=True)
    backings = ProposalBackingSerializer(many=True, read_only=True,
                                         help_text="The audited deposits whose gold backs an issue, and how much.")
    status = serializers.ChoiceField(choices=PROPOSAL_STATUSES, read_only=True,
                                     help_text="'draft' (or 'cancelled') until proposed; the multisig "
                                               "transaction's state after.")
    reference = serializers.CharField(read_only=True, help_text="The proposal's one public number, e.g. ISS-0003.")
    status_label = serializers.CharField(read_only=True, help_text='Its state in words, e.g. "Draft, not yet '
                                                                   'proposed to the owners", "Awaiting 2 more '
                                                                   'approvals", "Executed in block 1234".')
    arguments = serializers.DictField(read_only=True, help_text="The values of the action's fields that have no "
                                                                "field of their own above.")
    created_by = serializers.CharField(source="created_by.username", read_only=True)
    transaction = MultisigTransactionSummarySerializer(read_only=True, allow_null=True,
                                                       help_text="Set once proposed.")
    rejection = serializers.SerializerMethodField(
        help_text="Set when cancelling needed a rejection at the same nonce: the owners sign it so the "
                  "cancelled transaction can never run.")

    class Meta:
        model = OwnerProposal
        fields = ["id", "reference", "kind", "amount", "amount_tokens", "recipient", "fee_basis_points",
                  "redemption_reference", "arguments", "memo", "backings", "status", "status_label", "created_by",
                  "created_at", "cancel_reason", "transaction",
                  "rejection"]
        read_only_fields = fields

    @extend_schema_field(MultisigTransactionSummarySerializer(allow_null=True))
    def get_rejection(self, proposal: OwnerProposal) -> dict[str, Any] | None:
        if proposal.transaction is None:
            return None
        rejections = proposal.transaction.rejections.all()  # prefetched, newest first
        if not rejections:
            return None
        return cast(dict[str, Any], MultisigTransactionSummarySerializer(rejections[0]).data)


# --- input ----------------------------------------------------------------------------------

def _draft_field(field: ActionField) -> serializers.Field:
    """The API input of an action field; the action (through `proposal_draft`) judges its value."""
    if field.kind == "tokens":
        return DecimalStringField(required=False, allow_null=True,
                                  help_text=f"{field.help_text} A decimal string in tokens, at most 6 decimals.")
    if field.kind == "integer":
        return serializers.IntegerField(required=False, allow_null=True, help_text=field.help_text)
    if field.kind == "ids":
        return serializers.ListField(child=serializers.IntegerField(min_value=1), required=False, default=list,
                                     max_length=1000, help_text=field.help_text)
    return serializers.CharField(required=False, allow_blank=True, default="", max_length=max(field.max_length, 100),
                                 help_text=field.help_text)


class ProposalDraftSerializer(serializers.Serializer):
    """`kind` names a registered owner-proposal action; the other inputs are the fields of every action
    (issuance/actions.py), each used by the actions that declare it."""

    memo = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)

    def get_fields(self) -> dict[str, serializers.Field]:
        actions = actions_of(MultisigRole.ISSUANCE)
        fields: dict[str, serializers.Field] = {
            "kind": serializers.ChoiceField(choices=[(a.name, a.label) for a in actions])}
        for declared in actions:
            for field in declared.fields:
                fields.setdefault(field.name, _draft_field(field))
        return {**fields, **super().get_fields()}

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # Only the shape (a required field is there); without it the service would be handed None.
        action = action_find(attrs["kind"], role=MultisigRole.ISSUANCE)
        for field in action.fields if action else ():
            if field.required and attrs.get(field.name) in (None, "", []):
                raise serializers.ValidationError({field.name: field.required_message})
        return attrs


# --- the viewset ----------------------------------------------------------------------------

def _actor(request: Request) -> User:
    # ActionPermission has let only authenticated users through; the project uses Django's User.
    return cast(User, request.user)


def _transactions() -> QuerySet[MultisigTransaction]:
    """MultisigRole transactions with what their summary shows, at a fixed number of queries."""
    return MultisigTransaction.objects.select_related("replaces__owner_proposal", "owner_proposal").prefetch_related(
        Prefetch("confirmations", queryset=Confirmation.objects.select_related("signer__user").order_by("created_at",
                                                                                                         "pk")))


# A cached page outlives no change (its key names the journal's head); the expiry only bounds the cache's size.
PAGE_CACHE_SECONDS = 300


@extend_schema_view(
    list=extend_schema(summary="Owner proposals, newest first", parameters=[
        OpenApiParameter("status", str, enum=PROPOSAL_STATUSES, description="Only proposals with this status.")]),
    retrieve=extend_schema(summary="One owner proposal, with its multisig transaction and signatures"),
)
class ProposalViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ServiceViewSet):
    queryset = OwnerProposal.objects.all()
    serializer_class = ProposalSerializer
    permission_classes = [ActionPermission, StepUpRequired]
    step_up_actions = frozenset({"propose", "cancel"})
    action_permissions = {
        "list": VIEW, "retrieve": VIEW, "metadata": VIEW, "queue": VIEW,
        "create": PROPOSE, "propose": PROPOSE, "cancel": PROPOSE,
    }

    def get_queryset(self) -> QuerySet[OwnerProposal]:
        queryset = OwnerProposal.objects.select_related("created_by", "transaction__replaces").prefetch_related(
            Prefetch("backings", queryset=ProposalBacking.objects.select_related("deposit").order_by("pk")),
            Prefetch("transaction__confirmations",
                     queryset=Confirmation.objects.select_related("signer__user").order_by("created_at", "pk")),
            Prefetch("transaction__rejections", queryset=_transactions().order_by("-pk")),
        ).order_by("-created_at", "-id")
        return queryset

    def list(self, request: Request) -> Response:
        # The page as the journal's head left it (journal_head_mark: every change it shows is journaled in the
        # same transaction), for every reader alike: the list shows the same rows to whoever may view it. The
        # mark is read first, so what is cached under it is never older than it.
        key = f"api:proposals:{journal_head_mark()}:{request.build_absolute_uri()}"
        data = cache.get(key)
        if data is None:
            # Rows, not models (proposal_rows.py): the same JSON as ProposalSerializer at a fraction of the cost.
            listed = ProposalsListed(status=request.query_params.get("status"))
            rows: list[dict[str, Any]] | None = self.paginate_queryset(listed)  # type: ignore[arg-type]
            data = self.get_paginated_response(proposal_rows_present(rows or [])).data
            cache.set(key, data, PAGE_CACHE_SECONDS)
        return Response(data)

    @extend_schema(
        summary="Draft a proposal for the owners (operator)",
        description="Amounts are decimal strings in tokens; a JSON number is refused. An issue needs a checksummed "
                    "recipient, audited deposits that back it, and must fit the reserve headroom.",
        request=ProposalDraftSerializer, responses={201: ProposalSerializer, **REFUSALS, **UNAVAILABLE},
    )
    def create(self, request: Request) -> Response:
        data = self.parsed(ProposalDraftSerializer, request)
        kind, memo = data.pop("kind"), data.pop("memo")
        proposal = services.proposal_draft(client=chain_client(), kind=kind, actor=_actor(request), memo=memo, **data)
        return self.presented(proposal.pk, status.HTTP_201_CREATED)

    @extend_schema(summary="Hand a draft to the issuance multisig: nonce and safeTxHash are frozen (operator)",
                   request=None, responses={200: ProposalSerializer, **REFUSALS, **UNAVAILABLE})
    @action(detail=True, methods=["post"])
    def propose(self, request: Request, pk: str | None = None) -> Response:
        proposal = self.get_object()
        services.proposal_propose(client=chain_client(), proposal_id=proposal.pk, actor=_actor(request))
        return self.presented(proposal.pk)

    @extend_schema(
        summary="Withdraw a proposal before it is sent, with a reason (operator)",
        description="A proposed one cancels its multisig transaction; when that one may already carry enough "
                    "signatures or later nonces depend on it, a rejection at the same nonce is created for the "
                    "owners to sign and is returned under `rejection`.",
        request=ReasonSerializer, responses={200: ProposalSerializer, **REFUSALS, **UNAVAILABLE},
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        proposal = self.get_object()
        reason = self.parsed(ReasonSerializer, request)["reason"]
        services.proposal_cancel(client=chain_client(), proposal_id=proposal.pk, reason=reason, actor=_actor(request))
        return self.presented(proposal.pk)

    @extend_schema(
        summary="The issuance multisig's queue: transactions not yet executed, in nonce order",
        description="Awaiting signatures, approved, broadcasting or submitted; rejections included. The "
                    "multisig executes strictly in nonce order, so the first entry is the one that blocks the rest.",
        responses={200: MultisigTransactionSummarySerializer(many=True), **UNAVAILABLE,
                   403: REFUSALS[403]},
    )
    @action(detail=False, methods=["get"], pagination_class=None)
    def queue(self, request: Request) -> Response:
        queued = _transactions().filter(multisig=MultisigRole.ISSUANCE, safe_address=deployment_get().issuance_multisig,
                                        state__in=PENDING_STATES).order_by("nonce", "pk")
        return Response(MultisigTransactionSummarySerializer(queued, many=True).data)

