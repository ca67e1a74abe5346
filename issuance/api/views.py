"""Deposits, audits and gold prices over HTTP. Each endpoint parses its input and calls one service.

Refusals keep the meanings the kernel's base gives them in every app (backoffice/core/api.py): 400 for
input the service refused (InvalidInput; here also BarListInvalid, with every bad row under `errors`),
409 when the object's state does not allow the step, 403 when the role does not. Nothing is changed by
any of them.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Mapping
from decimal import Decimal
from typing import IO, Any, cast

from django.conf import settings
from django.contrib.auth.models import User
from django.core.files.uploadedfile import UploadedFile
from django.db.models import Count, DecimalField, QuerySet, Sum, Value
from django.db.models.functions import Coalesce
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser, DataAndFiles, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from backoffice.core.api import REFUSALS, ActionPermission, ReasonSerializer, ServiceViewSet
from backoffice.core.files import upload_refusal
from issuance import services
from issuance.barlist import BarListInvalid
from issuance.models import Audit, AuditState, Bar, Deposit, DepositState, GoldPrice
from issuance.models.imports import BAR_LIST

from . import serializers as s
from .permissions import NamedAuditorConducts

logger = logging.getLogger(__name__)

_BODY_CHUNK = 64 * 1024
CSV_UPLOAD = {"multipart/form-data": s.BarListUploadSerializer, "text/csv": OpenApiTypes.BINARY}


class CSVBodyParser(BaseParser):
    """A raw `text/csv` body, handed on as the `file` field so both ways of sending a list are one."""

    media_type = "text/csv"

    def parse(
        self, stream: IO[Any], media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> DataAndFiles[dict[str, Any], dict[str, UploadedFile]]:
        # Spooled as a multipart upload would be: in memory up to FILE_UPLOAD_MAX_MEMORY_SIZE, then in a
        # temporary file, so a long list is never in memory whole; refused as soon as it passes the limit.
        spool = tempfile.SpooledTemporaryFile(max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE)  # noqa: SIM115
        size = 0
        while chunk := stream.read(_BODY_CHUNK):
            size += len(chunk)
            if size > BAR_LIST.max_bytes:
                spool.close()
                raise ParseError(upload_refusal(UploadedFile(name="body.csv", size=size), BAR_LIST))
            spool.write(chunk)
        spool.seek(0)
        return DataAndFiles({}, {"file": UploadedFile(spool, name="body.csv", content_type="text/csv", size=size)})


class BarListViewSet(ServiceViewSet):
    """The kernel's base, plus a refused bar list answered with every bad row under `errors`."""

    def refusal_of(self, exc: Exception) -> tuple[dict[str, Any], int] | None:
        if isinstance(exc, BarListInvalid):
            return ({"detail": f"the bar list has {len(exc.errors)} error(s); nothing was saved",
                     "errors": exc.errors}, status.HTTP_400_BAD_REQUEST)
        return super().refusal_of(exc)


def _actor(request: Request) -> User:
    # ActionPermission has let only authenticated users through; the project uses Django's User.
    return cast(User, request.user)


def _state_filter(name: str, states: type[Any]) -> OpenApiParameter:
    return OpenApiParameter(name, str, enum=[str(v) for v in states.values], description="Only this state.")


# --- deposits -------------------------------------------------------------------------------

@extend_schema_view(
    list=extend_schema(summary="Deposits, newest first", parameters=[_state_filter("state", DepositState)]),
    retrieve=extend_schema(summary="One deposit"),
)
class DepositViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, BarListViewSet):
    queryset = Deposit.objects.all()
    serializer_class = s.DepositSerializer
    action_permissions = {
        "list": "issuance.view_deposit", "retrieve": "issuance.view_deposit", "metadata": "issuance.view_deposit",
        "bars": "issuance.view_bar",
        "create": "issuance.add_deposit",
        # No permission of its own: the operator who records deposits also attaches their bar list.
        "bars_import": "issuance.add_deposit",
        "receive": "issuance.receive_deposit",
        "verify": "issuance.verify_deposit",
        "reject": "issuance.reject_deposit",
        "release": "issuance.release_deposit",
    }

    def get_queryset(self) -> QuerySet[Deposit]:
        queryset = Deposit.objects.select_related("vault", "created_by").annotate(
            bars_count=Count("bars"),
            fine_oz_total=Coalesce(Sum("bars__fine_oz"), Value(Decimal("0.000")),
                                   output_field=DecimalField(max_digits=16, decimal_places=3)),
        ).order_by("-created_at", "-id")
        if self.action == "list" and (state := self.request.query_params.get("state")):
            queryset = queryset.filter(state=state)
        return queryset

    @extend_schema(summary="Record a draft deposit (operator)", request=s.DepositCreateSerializer,
                   responses={201: s.DepositSerializer, **REFUSALS})
    def create(self, request: Request) -> Response:
        data = self.parsed(s.DepositCreateSerializer, request)
        deposit = services.deposit_create(reference=data["reference"], depositor=data["depositor"],
                                          vault=data["vault"], actor=_actor(request))
        return self.presented(deposit.pk, status.HTTP_201_CREATED)

    @extend_schema(summary="The deposit's bars", responses=s.BarSerializer(many=True))
    # The route's parsers serve the POST mapped below (a GET has no body to parse).
    @action(detail=True, methods=["get"], parser_classes=[MultiPartParser, CSVBodyParser])
    def bars(self, request: Request, pk: str | None = None) -> Response:
        deposit = self.get_object()
        page = self.paginate_queryset(Bar.objects.filter(deposit=deposit).order_by("refiner", "serial", "id"))
        return self.get_paginated_response(s.BarSerializer(page, many=True).data)

    @extend_schema(
        summary="Attach the bar list to a draft deposit (operator): all rows or none",
        description="Multipart with the CSV under `file`, or the CSV itself as a `text/csv` body. A list with "
                    "any bad row is refused whole (400) with every error, by row number, under `errors`.",
        request=CSV_UPLOAD, responses={200: s.DepositSerializer, **REFUSALS},
    )
    @bars.mapping.post
    def bars_import(self, request: Request, pk: str | None = None) -> Response:
        deposit = self.get_object()
        upload = self.parsed(s.BarListUploadSerializer, request)["file"]
        services.deposit_bars_import(deposit_id=deposit.pk, content=upload, actor=_actor(request))
        return self.presented(deposit.pk)

    @extend_schema(summary="Confirm the bars are in the vault, with the signed receipt (custodian)",
                   request={"multipart/form-data": s.ReceiptUploadSerializer},
                   responses={200: s.DepositSerializer, **REFUSALS})
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser])
    def receive(self, request: Request, pk: str | None = None) -> Response:
        deposit = self.get_object()
        receipt = self.parsed(s.ReceiptUploadSerializer, request)["receipt"]
        services.deposit_receive(deposit_id=deposit.pk, receipt=receipt, actor=_actor(request))
        return self.presented(deposit.pk)

    @extend_schema(summary="Confirm weights and assay (custodian)", request=None,
                   responses={200: s.DepositSerializer, **REFUSALS})
    @action(detail=True, methods=["post"])
    def verify(self, request: Request, pk: str | None = None) -> Response:
        deposit = self.get_object()
        services.deposit_verify(deposit_id=deposit.pk, actor=_actor(request))
        return self.presented(deposit.pk)

    @extend_schema(summary="Reject the deposit, with a reason (custodian)", request=ReasonSerializer,
                   responses={200: s.DepositSerializer, **REFUSALS})
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: str | None = None) -> Response:
        deposit = self.get_object()
        reason = self.parsed(ReasonSerializer, request)["reason"]
        services.deposit_reject(deposit_id=deposit.pk, reason=reason, actor=_actor(request))
        return self.presented(deposit.pk)

    @extend_schema(summary="Record the gold leaving custody, with a reason (custodian)", request=ReasonSerializer,
                   responses={200: s.DepositSerializer, **REFUSALS})
    @action(detail=True, methods=["post"])
    def release(self, request: Request, pk: str | None = None) -> Response:
        deposit = self.get_object()
        reason = self.parsed(ReasonSerializer, request)["reason"]
        services.deposit_release(deposit_id=deposit.pk, reason=reason, actor=_actor(request))
        return self.presented(deposit.pk)


# --- audits ---------------------------------------------------------------------------------

@extend_schema_view(
    list=extend_schema(summary="Audits, latest as-of date first", parameters=[_state_filter("state", AuditState)]),
    retrieve=extend_schema(summary="One audit, with its discrepancies"),
)
class AuditViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, BarListViewSet):
    queryset = Audit.objects.all()
    serializer_class = s.AuditSerializer
    permission_classes = [ActionPermission, NamedAuditorConducts]
    conduct_actions = ("start_fieldwork", "counts", "submit", "accept", "dispute")
    action_permissions = {
        "list": "issuance.view_audit", "retrieve": "issuance.view_audit", "metadata": "issuance.view_audit",
        "create": "issuance.add_audit",
        **dict.fromkeys(conduct_actions, "issuance.conduct_audit"),
    }

    def get_queryset(self) -> QuerySet[Audit]:
        queryset = Audit.objects.select_related("vault", "auditor").annotate(
            counts_count=Count("counts"),
        ).prefetch_related("discrepancies").order_by("-as_of", "-id")
        if self.action == "list" and (state := self.request.query_params.get("state")):
            queryset = queryset.filter(state=state)
        return queryset

    @extend_schema(summary="Plan an audit and name its auditor (operator)", request=s.AuditPlanSerializer,
                   responses={201: s.AuditSerializer, **REFUSALS})
    def create(self, request: Request) -> Response:
        data = self.parsed(s.AuditPlanSerializer, request)
        audit = services.audit_plan(vault=data["vault"], as_of=data["as_of"], auditor=data["auditor"],
                                    firm=data["firm"], actor=_actor(request))
        return self.presented(audit.pk, status.HTTP_201_CREATED)

    @extend_schema(summary="Start counting in the vault (the named auditor)", request=None,
                   responses={200: s.AuditSerializer, **REFUSALS})
    @action(detail=True, methods=["post"], url_path="start-fieldwork")
    def start_fieldwork(self, request: Request, pk: str | None = None) -> Response:
        audit = self.get_object()
        services.audit_start_fieldwork(audit_id=audit.pk, actor=_actor(request))
        return self.presented(audit.pk)

    @extend_schema(
        summary="Record the counted bar list during fieldwork (the named auditor)",
        description="Multipart with the CSV under `file`, or the CSV itself as a `text/csv` body. It replaces any "
                    "earlier list whole; a list with any bad row is refused (400) with every error under `errors`.",
        request=CSV_UPLOAD, responses={200: s.AuditSerializer, **REFUSALS},
    )
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser, CSVBodyParser])
    def counts(self, request: Request, pk: str | None = None) -> Response:
        audit = self.get_object()
        upload = self.parsed(s.BarListUploadSerializer, request)["file"]
        services.audit_counts_import(audit_id=audit.pk, content=upload, actor=_actor(request))
        return self.presented(audit.pk)

    @extend_schema(summary="Submit the report; the count is compared with the books (the named auditor)",
                   request={"multipart/form-data": s.ReportUploadSerializer},
                   responses={200: s.AuditSerializer, **REFUSALS})
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser])
    def submit(self, request: Request, pk: str | None = None) -> Response:
        audit = self.get_object()
        report = self.parsed(s.ReportUploadSerializer, request)["report"]
        services.audit_submit(audit_id=audit.pk, report=report, actor=_actor(request))
        return self.presented(audit.pk)

    @extend_schema(summary="Accept: the count matches the books (the named auditor)", request=None,
                   responses={200: s.AuditSerializer, **REFUSALS})
    @action(detail=True, methods=["post"])
    def accept(self, request: Request, pk: str | None = None) -> Response:
        audit = self.get_object()
        services.audit_accept(audit_id=audit.pk, actor=_actor(request))
        return self.presented(audit.pk)

    @extend_schema(summary="Dispute: the count does not match, with a reason (the named auditor)",
                   request=ReasonSerializer, responses={200: s.AuditSerializer, **REFUSALS})
    @action(detail=True, methods=["post"])
    def dispute(self, request: Request, pk: str | None = None) -> Response:
        audit = self.get_object()
        reason = self.parsed(ReasonSerializer, request)["reason"]
        services.audit_dispute(audit_id=audit.pk, reason=reason, actor=_actor(request))
        return self.presented(audit.pk)


# --- prices ---------------------------------------------------------------------------------

@extend_schema_view(
    list=extend_schema(summary="Gold prices, latest first"),
    retrieve=extend_schema(summary="One gold price"),
)
class GoldPriceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ServiceViewSet):
    queryset = GoldPrice.objects.all()
    serializer_class = s.GoldPriceSerializer
    action_permissions = {
        "list": "issuance.view_goldprice", "retrieve": "issuance.view_goldprice",
        "metadata": "issuance.view_goldprice",
        "create": "issuance.add_goldprice",
    }

    def get_queryset(self) -> QuerySet[GoldPrice]:
        return GoldPrice.objects.select_related("entered_by").order_by("-as_of", "-id")

    @extend_schema(summary="Propose a gold price (operator); it counts once a manager approves it",
                   request=s.GoldPriceRecordSerializer, responses={201: s.GoldPriceSerializer, **REFUSALS})
    def create(self, request: Request) -> Response:
        data = self.parsed(s.GoldPriceRecordSerializer, request)
        price = services.gold_price_propose(usd_per_oz=data["usd_per_oz"], source=data["source"],
                                            as_of=data["as_of"], actor=_actor(request))
        return self.presented(price.pk, status.HTTP_201_CREATED)
