"""One API for every multisig transaction, of either multisig: `/api/multisig/transactions/`.

List (filters: `multisig` or `role`, `state`, `nonce`), detail (the call decoded from its bytes through
the action registry, the record it belongs to, confirmations, execution facts), the EIP-712 typed data,
a signature, cancel and reject. The issuance and compliance APIs link here by transaction id.

Who sees what is `transactions_visible_to` / `transaction_visible_to` (signers of the multisig,
managers; operators the issuance multisig's): any other transaction is a 404. Cancel needs the
permission the transaction's action declares (operators for owner proposals, officers for compliance
ones), reject a signer of its multisig; both need a reason. Refusals: 400 refused input, 403 the role,
409 the state, 503 a node that cannot be asked; nothing is changed by any of them (a refused signature
leaves only its journal entry).
"""

from __future__ import annotations

import logging
from typing import Any, cast

from django.contrib.auth.models import User
from django.db.models import Prefetch, QuerySet
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from backoffice.accounts.mfa import StepUpRequired
from backoffice.chain.client import ChainError, chain_client
from backoffice.core.api import Pages
from backoffice.core.errors import InvalidInput
from backoffice.journal.services import TransitionRefused

from .actions import transaction_display, transaction_record
from .api_transaction_rows import COLUMNS as LIST_COLUMNS
from .api_transaction_rows import transaction_rows_present
from .lifecycle import multisig_transaction_refuse, multisig_transaction_withdraw
from .models import FINAL_STATES, Confirmation, MultisigRole, MultisigTransaction, TxState
from .onchain import (
    RAW_MAX_BYTES,
    CallRefused,
    approval_call_prepare,
    chain_tx_report,
    execution_call_prepare,
    raw_submission_create,
)
from .selectors import transactions_visible_to
from .services import SignatureRefused, confirmation_add, safe_tx_of

logger = logging.getLogger(__name__)

Detail = inline_serializer("MultisigTransactionRefusal", fields={"detail": serializers.CharField()})
REFUSALS: dict[int, Any] = {
    400: OpenApiResponse(Detail, description="Refused input (the field named holds the message too); "
                                             "nothing changed."),
    403: OpenApiResponse(Detail, description="Your role may not do this; nothing changed."),
    404: OpenApiResponse(Detail, description="No such transaction, or not one you may see."),
    409: OpenApiResponse(Detail, description="The transaction's state does not allow this; nothing changed."),
    503: OpenApiResponse(Detail, description="The chain node could not be asked; nothing changed."),
}


def transaction_api_url(tx_id: int) -> str:
    """Where a transaction lives in this API: what the issuance and compliance APIs link to."""
    return reverse("multisig-api:transaction-detail", args=[tx_id])


# --- output ---------------------------------------------------------------------------------

class ConfirmationSerializer(serializers.ModelSerializer):
    username = serializers.SerializerMethodField(help_text="empty for an on-chain approval by an owner no user "
                                                           "is bound to")
    address = serializers.CharField(source="owner_address", read_only=True)
    signed_at = serializers.DateTimeField(source="created_at", read_only=True)
    tx_hash = serializers.SerializerMethodField(help_text="the approveHash transaction (on-chain approvals)")
    block_number = serializers.SerializerMethodField()

    class Meta:
        model = Confirmation
        fields = ["username", "address", "signed_at", "tx_hash", "block_number"]
        read_only_fields = fields

    def get_username(self, confirmation: Confirmation) -> str:
        return confirmation.signer.user.get_username() if confirmation.signer else ""

    def get_tx_hash(self, confirmation: Confirmation) -> str:
        return confirmation.event.tx_hash if confirmation.event else ""

    def get_block_number(self, confirmation: Confirmation) -> int | None:
        return confirmation.event.block_number if confirmation.event else None


@extend_schema_field({"type": "object", "additionalProperties": True,
                      "description": "The call read from the signed bytes: function, action (the registered "
                                     "action, '' if none), description, and its arguments as shown."})
class CallField(serializers.Field):
    def __init__(self, *, details: bool, **kwargs: Any) -> None:
        self.details = details
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, tx: MultisigTransaction) -> dict[str, Any]:
        return transaction_display(tx, details=self.details)


class TransactionSerializer(serializers.ModelSerializer):
    """One multisig transaction as listed: what it calls (from its bytes), where it is, who signed."""

    state = serializers.ChoiceField(choices=TxState.choices, read_only=True)
    final = serializers.SerializerMethodField(help_text="executed, failed, cancelled or rejected: nothing more "
                                                        "will happen to it")
    call = CallField(details=False)
    replaces = serializers.IntegerField(source="replaces_id", read_only=True, allow_null=True,
                                        help_text="For a rejection: the id of the transaction whose nonce it uses up.")
    confirmations = ConfirmationSerializer(many=True, read_only=True)
    confirmations_count = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField(help_text="This transaction in the API.")
    page_url = serializers.SerializerMethodField(help_text="Its signing page.")

    class Meta:
        model = MultisigTransaction
        fields = ["id", "url", "page_url", "multisig", "safe_address", "chain_id", "nonce", "safe_tx_hash", "state",
                  "final", "call", "replaces", "threshold", "confirmations_count", "confirmations", "created_at"]
        read_only_fields = fields

    def get_final(self, tx: MultisigTransaction) -> bool:
        return tx.state in FINAL_STATES

    def get_confirmations_count(self, tx: MultisigTransaction) -> int:
        return len(tx.confirmations.all())  # prefetched: no query per row

    def get_url(self, tx: MultisigTransaction) -> str:
        return transaction_api_url(tx.pk)

    def get_page_url(self, tx: MultisigTransaction) -> str:
        return reverse("multisig:sign", args=[tx.pk])


class RecordSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text="e.g. owner_proposal, compliance_proposal")
    id = serializers.IntegerField()
    label = serializers.CharField()  # type: ignore[assignment]  # a field, not Field.label
    url = serializers.CharField(help_text="Its page; empty when it has none.")
    case = serializers.IntegerField(allow_null=True, help_text="The compliance case, when there is one.")


class TransactionDetailSerializer(TransactionSerializer):
    """Everything about one transaction: the call with what its record adds, the record itself, the exact
    SafeTx fields, the rejections of it, and the execution facts."""

    call = CallField(details=True)
    reference = serializers.CharField(read_only=True, help_text="Its one public number: its proposal's (ISS-0003, "
                                                                "CMP-0002) or its own (TX-0004).")
    status_label = serializers.CharField(read_only=True, help_text="The state as people say it (Awaiting 2 more "
                                                                   "approvals, Executed in block 1234).")
    record = serializers.SerializerMethodField(help_text="The proposal or case it belongs to (a rejection: that "
                                                         "of the transaction it replaces); null when none.")
    calldata = serializers.SerializerMethodField(help_text="The calldata, 0x hex: what the owners sign.")
    value = serializers.SerializerMethodField(method_name="value_text", help_text="Wei, as a decimal string.")
    rejections = serializers.SerializerMethodField(help_text="Ids of the rejections proposed at its nonce.")
    created_by = serializers.CharField(source="created_by.username", read_only=True, allow_null=True)
    typed_data_url = serializers.SerializerMethodField()

    class Meta(TransactionSerializer.Meta):
        fields = [*TransactionSerializer.Meta.fields, "reference", "status_label",
                  "record", "to", "value", "calldata", "operation", "rejections",
                  "created_by", "typed_data_url", "cancel_reason", "relayer_tx_hash", "block_number", "block_hash",
                  "gas_used", "executed_at", "failure_reason"]
        read_only_fields = fields

    @extend_schema_field(RecordSerializer(allow_null=True))
    def get_record(self, tx: MultisigTransaction) -> dict[str, Any] | None:
        record = transaction_record(tx)
        return cast(dict[str, Any], RecordSerializer(record).data) if record is not None else None

    def get_calldata(self, tx: MultisigTransaction) -> str:
        return "0x" + bytes(tx.data or b"").hex()

    def value_text(self, tx: MultisigTransaction) -> str:
        return str(int(tx.value))

    def get_rejections(self, tx: MultisigTransaction) -> list[int]:
        return [r.pk for r in tx.rejections.all().order_by("pk")]

    def get_typed_data_url(self, tx: MultisigTransaction) -> str:
        return reverse("multisig-api:transaction-typed-data", args=[tx.pk])


# --- input ----------------------------------------------------------------------------------

# Its own component name: core.api's ReasonSerializer (no length limit) is "Reason" in the schema.
@extend_schema_serializer(component_name="TransactionReason")
class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000, help_text="Why; kept in the journal and on the transaction.")


class SignatureSerializer(serializers.Serializer):
    signature = serializers.CharField(max_length=400, help_text="0x-prefixed 65-byte r||s||v from "
                                                                 "eth_signTypedData_v4 over this transaction's typed "
                                                                 "data, made with your own bound signing key.")


class CancelResultSerializer(serializers.Serializer):
    transaction = TransactionDetailSerializer()
    rejection = TransactionSerializer(allow_null=True, help_text="The rejection proposed at its nonce, when the "
                                                                 "cancelled one carried signatures, was approved or "
                                                                 "later nonces wait on it: the signers sign it.")


# --- the viewset ----------------------------------------------------------------------------

CallSerializer = inline_serializer("MultisigWalletCall", fields={
    "from": serializers.CharField(), "to": serializers.CharField(), "data": serializers.CharField(),
    "value": serializers.CharField(), "chainId": serializers.CharField(), "function": serializers.CharField()})


class SentSerializer(serializers.Serializer):
    tx_hash = serializers.CharField(help_text="the hash your wallet returned")


class RawSerializer(serializers.Serializer):
    raw = serializers.CharField(required=False, help_text="the signed transaction, 0x-prefixed hexadecimal")


def _actor(request: Request) -> User:
    return cast(User, request.user)  # IsAuthenticated let only signed-in users through


def _choice(request: Request, name: str, allowed: list[str]) -> str | None:
    value = request.query_params.get(name)
    if value is None or value == "":
        return None
    if value not in allowed:
        raise ValidationError({name: f"one of {', '.join(allowed)}"})
    return value


@extend_schema_view(
    list=extend_schema(summary="Multisig transactions of both multisigs, newest first", parameters=[
        OpenApiParameter("multisig", str, enum=list(MultisigRole.values), description="Only this multisig's "
                                                                                       "(`role` is an alias)."),
        OpenApiParameter("state", str, enum=list(TxState.values), description="Only transactions in this state."),
        OpenApiParameter("nonce", int, description="Only transactions at this nonce."),
    ]),
    retrieve=extend_schema(summary="One multisig transaction: the call from its bytes, its record, signatures "
                                   "and execution facts"),
)
class TransactionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    permission_classes = [IsAuthenticated, StepUpRequired]
    # What moves money or withdraws it: a second factor within the last minutes (or a may_sign token).
    step_up_actions = frozenset({"signatures", "approve_call", "execute_call", "raw", "cancel", "reject"})
    pagination_class = Pages
    serializer_class = TransactionSerializer
    queryset = MultisigTransaction.objects.all()

    def get_serializer_class(self) -> type[serializers.BaseSerializer]:
        return TransactionSerializer if self.action == "list" else TransactionDetailSerializer

    def get_queryset(self) -> QuerySet[MultisigTransaction]:
        confirmations = Confirmation.objects.select_related("signer__user", "event").order_by("created_at", "pk")
        queryset = MultisigTransaction.objects.select_related("created_by", "replaces").prefetch_related(
            Prefetch("confirmations", queryset=confirmations)).order_by("-created_at", "-id")
        return cast(QuerySet[MultisigTransaction], transactions_visible_to(self.request.user, queryset))

    def _listed(self) -> QuerySet[MultisigTransaction, dict[str, Any]]:
        """The transactions the user may see, newest first, narrowed by the list's filters, as rows."""
        newest_first = MultisigTransaction.objects.order_by("-created_at", "-id")
        queryset = transactions_visible_to(self.request.user, newest_first)
        role = _choice(self.request, "multisig", list(MultisigRole.values)) \
            or _choice(self.request, "role", list(MultisigRole.values))
        if role:
            queryset = queryset.filter(multisig=role)
        if state := _choice(self.request, "state", list(TxState.values)):
            queryset = queryset.filter(state=state)
        if (nonce := self.request.query_params.get("nonce")) not in (None, ""):
            if not str(nonce).isdigit():
                raise ValidationError({"nonce": "a whole number"})
            queryset = queryset.filter(nonce=int(str(nonce)))
        return cast(QuerySet[MultisigTransaction, dict[str, Any]], queryset.values(*LIST_COLUMNS))

    def list(self, request: Request) -> Response:
        # Rows, not models (api_transaction_rows.py): the same JSON as TransactionSerializer, far cheaper.
        rows = self.paginate_queryset(self._listed())
        return self.get_paginated_response(transaction_rows_present(rows or []))

    def handle_exception(self, exc: Exception) -> Response:
        body: dict[str, Any] | None = None
        code: int = status.HTTP_400_BAD_REQUEST
        if isinstance(exc, InvalidInput):
            body = {"detail": str(exc), **({exc.field: [str(exc)]} if exc.field else {})}
        elif isinstance(exc, SignatureRefused):
            body = {"detail": str(exc)}  # the service journalled why
        elif isinstance(exc, TransitionRefused | CallRefused):
            body, code = {"detail": str(exc)}, status.HTTP_409_CONFLICT
        elif isinstance(exc, ChainError):
            body = {"detail": f"the chain could not be asked; nothing changed, try again: {exc}"}
            code = status.HTTP_503_SERVICE_UNAVAILABLE
        elif isinstance(exc, ValidationError) and isinstance(exc.detail, dict):
            first = {k: v[0] if isinstance(v, list) and v else v for k, v in exc.detail.items()}
            body = {"detail": "; ".join(f"{k}: {v}" for k, v in first.items()), **exc.detail}
        if body is None:
            return super().handle_exception(exc)
        logger.info("api-refused view=multisig-transactions action=%s user=%s status=%s", self.action,
                    self.request.user.pk, code)
        response = Response(body, status=code)
        response.exception = True
        return response

    def _parsed(self, serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
        serializer = serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def _detail(self, tx_id: int, code: int = status.HTTP_200_OK) -> Response:
        tx = self.get_queryset().get(pk=tx_id)
        return Response(TransactionDetailSerializer(tx).data, status=code)

    @extend_schema(summary="The EIP-712 typed data to sign with eth_signTypedData_v4",
                   description="Exactly the JSON to hand to the wallet or to an offline signer.",
                   responses={200: OpenApiTypes.OBJECT, 404: REFUSALS[404]})
    @action(detail=True, methods=["get"], url_path="typed-data")
    def typed_data(self, request: Request, pk: str | None = None) -> Response:
        tx = self.get_object()
        # The chain id and multisig address frozen with the transaction: its hash was computed with them.
        return Response(safe_tx_of(tx).typed_data(chain_id=tx.chain_id, safe_address=tx.safe_address))

    @extend_schema(summary="Add your signature (signers of the transaction's multisig)",
                   description="Accepted only if it recovers to your own bound address over this transaction's "
                               "safeTxHash, that address is an owner on chain, and you have not signed it yet.",
                   request=SignatureSerializer, responses={201: TransactionDetailSerializer, **REFUSALS})
    @action(detail=True, methods=["post"])
    def signatures(self, request: Request, pk: str | None = None) -> Response:
        tx = self.get_object()
        signature = self._parsed(SignatureSerializer, request)["signature"]
        confirmation_add(client=chain_client(), transaction_id=tx.pk, signature=signature, actor=_actor(request))
        return self._detail(tx.pk, status.HTTP_201_CREATED)

    @extend_schema(summary="Withdraw a transaction before it is sent, with a reason",
                   description="For whoever may propose its action (operators: owner proposals; officers: "
                               "compliance ones). When it carries signatures, was approved or later nonces wait "
                               "on it, a rejection at its nonce is proposed for the signers (`rejection`). The "
                               "proposal or case it belongs to follows. Refused once it is being sent or settled.",
                   request=ReasonSerializer, responses={200: CancelResultSerializer, **REFUSALS})
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        tx = self.get_object()
        reason = self._parsed(ReasonSerializer, request)["reason"]
        rejection = multisig_transaction_withdraw(client=chain_client(), transaction_id=tx.pk, reason=reason,
                                                  actor=_actor(request))
        return Response({"transaction": TransactionDetailSerializer(self.get_queryset().get(pk=tx.pk)).data,
                         "rejection": TransactionSerializer(rejection).data if rejection else None})

    @extend_schema(summary="Reject a transaction awaiting signatures, with a reason (signers of its multisig)",
                   description="The proposal or case it belongs to follows; a rejection at its nonce is proposed "
                               "when later nonces wait on it.",
                   request=ReasonSerializer, responses={200: TransactionDetailSerializer, **REFUSALS})
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: str | None = None) -> Response:
        tx = self.get_object()
        reason = self._parsed(ReasonSerializer, request)["reason"]
        multisig_transaction_refuse(transaction_id=tx.pk, reason=reason, actor=_actor(request))
        return self._detail(tx.pk)


    # --- the on-chain kind (USDKG multisig): the calls an owner's wallet sends, what it sent, and
    # signed transactions handed in. Nothing here counts an approval: the chain watcher does.
    @extend_schema(summary="The approveHash transaction your wallet sends (USDKG multisig; head of the queue only)",
                   responses={200: CallSerializer, **REFUSALS})
    @action(detail=True, methods=["get"], url_path="approve-call")
    def approve_call(self, request: Request, pk: str | None = None) -> Response:
        tx = self.get_object()
        return Response(approval_call_prepare(client=chain_client(), transaction_id=tx.pk, actor=_actor(request)))

    @extend_schema(summary="The execTransaction your wallet sends once the threshold of approvals holds on chain",
                   description="Refused while the collateral guard refuses, before the threshold, for anything but "
                               "the head, and when the back-office's executor sends it.",
                   responses={200: CallSerializer, **REFUSALS})
    @action(detail=True, methods=["get"], url_path="execute-call")
    def execute_call(self, request: Request, pk: str | None = None) -> Response:
        tx = self.get_object()
        return Response(execution_call_prepare(client=chain_client(), transaction_id=tx.pk, actor=_actor(request)))

    @extend_schema(summary="Say your wallet sent a transaction: the chain watcher looks now",
                   description="Journalled; nothing is counted from it.", request=SentSerializer,
                   responses={202: Detail, **REFUSALS})
    @action(detail=True, methods=["post"])
    def sent(self, request: Request, pk: str | None = None) -> Response:
        tx = self.get_object()
        chain_tx_report(transaction_id=tx.pk, tx_hash=self._parsed(SentSerializer, request)["tx_hash"],
                        actor=_actor(request))
        return Response({"detail": "Sent. It counts once the chain watcher sees it confirmed on chain."},
                        status=status.HTTP_202_ACCEPTED)

    @extend_schema(summary="Hand in a signed approveHash or execTransaction (offline or hardware signer)",
                   description="Stored as received; the worker checks chain id, sender (your bound address), "
                               "multisig and calldata (exactly this transaction) and sends it, or refuses it with "
                               "the reason. `raw` as 0x-hexadecimal, or a `file` holding it.",
                   request=RawSerializer, responses={202: Detail, **REFUSALS})
    @action(detail=True, methods=["post"])
    def raw(self, request: Request, pk: str | None = None) -> Response:
        tx = self.get_object()
        upload = request.FILES.get("file")
        text = upload.read(RAW_MAX_BYTES * 2 + 3).decode("ascii", "replace") if upload else \
            str(request.data.get("raw", "")) if isinstance(request.data, dict) else ""
        submission = raw_submission_create(transaction_id=tx.pk, raw_hex=text, actor=_actor(request))
        return Response({"detail": f"Received {submission.tx_hash}: the worker checks it and sends it.",
                         "submission": submission.pk, "tx_hash": submission.tx_hash},
                        status=status.HTTP_202_ACCEPTED)


router = SimpleRouter()
router.register("transactions", TransactionViewSet, basename="transaction")

app_name = "multisig-api"
urlpatterns = router.urls
