"""Compliance over HTTP: officers open cases, add evidence, propose blacklist / unblacklist / destroy funds;
managers read. Everyone else is refused (403) everywhere. Each endpoint parses its input and calls one
service. A proposal links to its multisig transaction (`transaction.id`, `transaction.url`): its typed data,
signatures, cancel and reject live in the one API, /api/multisig/transactions/.

Refusals keep the meanings of the rest of the API: 400 for refused input, 409 when the object's state does
not allow the step, 403 when the role does not, 503 when the chain node cannot be asked. Nothing is changed
by any refusal.
"""

from __future__ import annotations

import logging
from typing import cast

from django.contrib.auth.models import User
from django.db.models import Prefetch, Q, QuerySet
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from backoffice.accounts.mfa import StepUpRequired
from backoffice.chain.client import chain_client
from backoffice.core.api import REFUSALS, ActionPermission, ErrorSerializer, ReasonSerializer, ServiceViewSet
from backoffice.multisig.models import Confirmation, TxState
from compliance import services
from compliance.models import Case, CaseEvidence, CaseState, ComplianceProposal, FrozenAddress

from . import serializers as s

logger = logging.getLogger(__name__)

ACT = "compliance.act_compliance"
VIEW_CASE = "compliance.view_case"
VIEW_PROPOSAL = "compliance.view_complianceproposal"
VIEW_REGISTER = "compliance.view_frozenaddress"

# The register disagrees with the chain (FrozenAddress.mismatch, as a query).
MISMATCH = (Q(on_chain_blacklisted=True, expected_blacklisted=False)
            | Q(on_chain_blacklisted=False, expected_blacklisted=True))

UNAVAILABLE = {503: OpenApiResponse(ErrorSerializer, description="The chain node does not answer or nothing is "
                                                                 "deployed on it; nothing changed.")}


def _actor(request: Request) -> User:
    # ActionPermission has let only authenticated users through; the project uses Django's User.
    return cast(User, request.user)


def _query_filter(name: str, description: str, enum: list[str] | None = None) -> OpenApiParameter:
    return OpenApiParameter(name, str, enum=enum, description=description)


def _proposals() -> QuerySet[ComplianceProposal]:
    """Proposals with their transaction and its signers, at a fixed number of queries."""
    confirmations = Confirmation.objects.select_related("signer__user").order_by("created_at", "pk")
    return ComplianceProposal.objects.select_related("transaction", "created_by").prefetch_related(
        Prefetch("transaction__confirmations", queryset=confirmations))


# --- cases ----------------------------------------------------------------------------------

@extend_schema_view(
    list=extend_schema(summary="Compliance cases, newest first", parameters=[
        _query_filter("state", "Only cases in this state.", [str(v) for v in CaseState.values]),
        _query_filter("address", "Only cases about this (checksummed) address."),
    ]),
    retrieve=extend_schema(summary="One case, with its evidence and proposals"),
)
class CaseViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ServiceViewSet):
    queryset = Case.objects.all()
    serializer_class = s.CaseSerializer
    permission_classes = [ActionPermission, StepUpRequired]
    step_up_actions = frozenset({"create", "evidence", "close"})  # every compliance action: a fresh second factor
    action_permissions = {
        "list": VIEW_CASE, "retrieve": VIEW_CASE, "metadata": VIEW_CASE,
        "create": ACT, "evidence": ACT, "close": ACT,
    }

    def get_queryset(self) -> QuerySet[Case]:
        queryset = Case.objects.select_related("opened_by").prefetch_related(
            Prefetch("evidence", queryset=CaseEvidence.objects.select_related("uploaded_by")),
            Prefetch("proposals", queryset=_proposals()),
        ).order_by("-opened_at", "-id")
        if self.action == "list":
            if state := self.request.query_params.get("state"):
                queryset = queryset.filter(state=state)
            if address := self.request.query_params.get("address"):
                queryset = queryset.filter(address=address)
        return queryset

    @extend_schema(summary="Open a case about one address (officer)", request=s.CaseOpenSerializer,
                   responses={201: s.CaseSerializer, **REFUSALS, **UNAVAILABLE})
    def create(self, request: Request) -> Response:
        data = self.parsed(s.CaseOpenSerializer, request)
        case = services.case_open(address=data["address"], category=data["category"], reference=data["reference"],
                                  description=data["description"], actor=_actor(request))
        return self.presented(case.pk, status.HTTP_201_CREATED)

    @extend_schema(summary="Add one piece of evidence to the case (officer)",
                   description="Multipart with the file under `file`; its SHA-256 is computed and kept.",
                   request={"multipart/form-data": s.EvidenceUploadSerializer},
                   responses={201: s.CaseSerializer, **REFUSALS})
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser])
    def evidence(self, request: Request, pk: str | None = None) -> Response:
        case = self.get_object()
        data = self.parsed(s.EvidenceUploadSerializer, request)
        services.case_evidence_add(case_id=case.pk, upload=data["file"], description=data["description"],
                                   actor=_actor(request))
        return self.presented(case.pk, status.HTTP_201_CREATED)

    @extend_schema(summary="Close the case, with a reason (officer)", request=ReasonSerializer,
                   description="Withdraws the case's open proposals in the same step: each multisig transaction "
                               "is cancelled, and one that carries signatures, was approved or that later "
                               "nonces wait on gets a rejection at its nonce for the officers to sign. Refused "
                               "(409, nothing changed) while a proposal of the case is being sent.",
                   responses={200: s.CaseSerializer, **REFUSALS})
    @action(detail=True, methods=["post"])
    def close(self, request: Request, pk: str | None = None) -> Response:
        case = self.get_object()
        reason = self.parsed(ReasonSerializer, request)["reason"]
        services.case_close(client=chain_client(), case_id=case.pk, reason=reason, actor=_actor(request))
        return self.presented(case.pk)


# --- proposals ------------------------------------------------------------------------------

@extend_schema_view(
    list=extend_schema(summary="Compliance proposals, newest first", parameters=[
        _query_filter("case", "Only the proposals of this case (id)."),
        _query_filter("status", "Only proposals whose transaction is in this state.", [str(v) for v in TxState.values]),
    ]),
    retrieve=extend_schema(summary="One compliance proposal, with its signatures"),
)
class ComplianceProposalViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ServiceViewSet):
    queryset = ComplianceProposal.objects.all()
    serializer_class = s.ComplianceProposalSerializer
    permission_classes = [ActionPermission, StepUpRequired]
    step_up_actions = frozenset({"create"})
    action_permissions = {
        "list": VIEW_PROPOSAL, "retrieve": VIEW_PROPOSAL, "metadata": VIEW_PROPOSAL, "create": ACT,
    }

    def get_queryset(self) -> QuerySet[ComplianceProposal]:
        queryset = _proposals().order_by("-created_at", "-id")
        if self.action == "list":
            if (case := self.request.query_params.get("case")) and case.isdigit():
                queryset = queryset.filter(case_id=int(case))
            if state := self.request.query_params.get("status"):
                queryset = queryset.filter(transaction__state=state)
        return queryset

    @extend_schema(
        summary="Propose blacklist, unblacklist or destroy funds on the case's address (officer)",
        description="The proposal is a transaction of the compliance multisig; all five officers must sign it. "
                    "Destroy funds needs `confirm_amount`: the address's balance on chain, in tokens, typed "
                    "exactly. Refused (400, nothing stored): a closed case, the system's own addresses, blacklist "
                    "of an address already blacklisted, unblacklist or destroy of one that is not, a wrong "
                    "confirmation, a second open proposal for the same address and action.",
        request=s.ComplianceProposalCreateSerializer,
        responses={201: s.ComplianceProposalSerializer, **REFUSALS, **UNAVAILABLE},
    )
    def create(self, request: Request) -> Response:
        data = self.parsed(s.ComplianceProposalCreateSerializer, request)
        case, action = data.pop("case"), data.pop("action")
        # Token inputs reach the service as the text typed: it parses them (e.g. the destroy confirmation).
        inputs = {name: str(value) if value is not None else None for name, value in data.items()}
        proposal = services.compliance_proposal_create(client=chain_client(), case_id=case.pk, action=action,
                                                       actor=_actor(request), **inputs)
        return self.presented(proposal.pk, status.HTTP_201_CREATED)


# --- the register ---------------------------------------------------------------------------

@extend_schema_view(
    list=extend_schema(
        summary="The frozen-address register, with the chain mismatch flag",
        description="One row per address compliance has acted on: what our executed transactions lead us to "
                    "expect, and what the token said when last read. `mismatch` flags a disagreement.",
        parameters=[OpenApiParameter("mismatch", bool, description="true: only the rows flagged as a mismatch.")],
    ),
)
class RegisterViewSet(mixins.ListModelMixin, ServiceViewSet):
    queryset = FrozenAddress.objects.all()
    serializer_class = s.FrozenAddressSerializer
    permission_classes = [ActionPermission, StepUpRequired]
    step_up_actions = frozenset({"refresh"})
    action_permissions = {
        "list": VIEW_REGISTER, "metadata": VIEW_REGISTER,
        # A refresh writes the register (and journals a new mismatch): officers only.
        "refresh": ACT,
    }

    def get_queryset(self) -> QuerySet[FrozenAddress]:
        queryset = FrozenAddress.objects.select_related("case", "last_transaction").order_by("address")
        if self.action == "list" and self.request.query_params.get("mismatch", "").lower() in ("true", "1"):
            queryset = queryset.filter(MISMATCH)
        return queryset

    @extend_schema(summary="Read every register address again from chain (officer)", request=None,
                   responses={200: s.RegisterRefreshSerializer, 403: REFUSALS[403], **UNAVAILABLE})
    @action(detail=False, methods=["post"])
    def refresh(self, request: Request) -> Response:
        count = services.register_refresh_all(client=chain_client())
        mismatches = list(FrozenAddress.objects.filter(MISMATCH).order_by("address").values_list("address", flat=True))
        return Response(s.RegisterRefreshSerializer({"refreshed": count, "mismatches": mismatches}).data)

