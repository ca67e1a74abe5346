"""The signing page's JSON: the EIP-712 typed data to sign, the signature upload, the live status.

Each view reads one transaction the user may see (signers of its multisig, operators, managers)
or calls one service (`confirmation_add`).
"""

from __future__ import annotations

from typing import Any, cast

from django.contrib.auth.models import User
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backoffice.chain.client import ChainError, chain_client

from .models import MultisigTransaction, TxState
from .selectors import transaction_status, transaction_visible_to
from .services import SignatureRefused, confirmation_add, safe_tx_of


# --- the views --------------------------------------------------------------------------------
class SignedBySerializer(serializers.Serializer):
    username = serializers.CharField(allow_blank=True, help_text="empty for an owner no user is bound to")
    address = serializers.CharField()
    signed_at = serializers.DateTimeField()
    tx_hash = serializers.CharField(allow_blank=True, help_text="the approveHash transaction (on-chain kind)")
    block_number = serializers.IntegerField(allow_null=True)


class TransactionStatusSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    state = serializers.ChoiceField(choices=TxState.choices)
    final = serializers.BooleanField(help_text="executed, failed, cancelled or rejected: nothing more will happen")
    confirmations = serializers.IntegerField(help_text="valid signatures stored")
    threshold = serializers.IntegerField(help_text="signatures needed")
    signed_by = SignedBySerializer(many=True)
    relayer_tx_hash = serializers.CharField(allow_blank=True)
    block_number = serializers.IntegerField(allow_null=True)
    failure_reason = serializers.CharField(allow_blank=True)
    cancel_reason = serializers.CharField(allow_blank=True)


class SignatureResultSerializer(TransactionStatusSerializer):
    detail = serializers.CharField()


DetailSerializer = inline_serializer("MultisigDetail", fields={"detail": serializers.CharField()})


class MayViewTransaction(BasePermission):
    message = "Only signers of this multisig, operators and managers may see this transaction."

    def has_object_permission(self, request: Request, view: Any, obj: Any) -> bool:
        return transaction_visible_to(request.user, obj)


class TransactionView(APIView):
    permission_classes = [IsAuthenticated, MayViewTransaction]

    def transaction_get(self, request: Request, tx_id: int) -> MultisigTransaction:
        tx = get_object_or_404(MultisigTransaction, pk=tx_id)
        self.check_object_permissions(request, tx)
        return tx


class TransactionStatusView(TransactionView):
    @extend_schema(operation_id="multisig_transaction_status", responses=TransactionStatusSerializer,
                   summary="The transaction's state, signatures and execution facts (polled by the signing page)")
    def get(self, request: Request, tx_id: int) -> Response:
        return Response(TransactionStatusSerializer(transaction_status(self.transaction_get(request, tx_id))).data)


class TransactionTypedDataView(TransactionView):
    @extend_schema(operation_id="multisig_transaction_typed_data", responses={200: OpenApiTypes.OBJECT},
                   summary="The exact EIP-712 typed data a wallet signs with eth_signTypedData_v4")
    def get(self, request: Request, tx_id: int) -> Response:
        tx = self.transaction_get(request, tx_id)
        # The chain id and multisig address frozen with the transaction: its hash was computed with them.
        return Response(safe_tx_of(tx).typed_data(chain_id=tx.chain_id, safe_address=tx.safe_address))


class TransactionSignaturesView(TransactionView):
    @extend_schema(
        operation_id="multisig_transaction_sign",
        summary="Add the signed-in owner's EIP-712 signature over the transaction",
        request=inline_serializer("MultisigSignature", fields={"signature": serializers.CharField(
            help_text="65 bytes r||s||v as 0x-prefixed hexadecimal, from eth_signTypedData_v4")}),
        responses={201: SignatureResultSerializer,
                   400: OpenApiResponse(DetailSerializer, description="refused; nothing was stored"),
                   503: OpenApiResponse(DetailSerializer, description="the chain node could not be asked")},
    )
    def post(self, request: Request, tx_id: int) -> Response:
        tx = self.transaction_get(request, tx_id)
        data = request.data if isinstance(request.data, dict) else {}
        signature = data.get("signature")
        if not isinstance(signature, str) or not signature.strip():
            return Response({"detail": "signature: give the wallet's signature as 0x-prefixed hexadecimal"},
                            status=status.HTTP_400_BAD_REQUEST)
        try:
            confirmation_add(client=chain_client(), transaction_id=tx.pk, signature=signature.strip(),
                             actor=cast(User, request.user))
        except SignatureRefused as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        except ChainError as exc:
            return Response({"detail": f"the chain could not be asked whether you are an owner; "
                                       f"nothing was stored, try again: {exc}"},
                            status=status.HTTP_503_SERVICE_UNAVAILABLE)
        tx.refresh_from_db()
        result = transaction_status(tx)
        detail = f"Signature accepted: {result['confirmations']} of {result['threshold']}."
        if tx.state != TxState.AWAITING_SIGNATURES:
            detail += " The threshold is reached; the transaction is being sent."
        return Response(SignatureResultSerializer({**result, "detail": detail}).data, status=status.HTTP_201_CREATED)

