"""GET /api/proposals/ (the list) from rows, not models: the same JSON as `ProposalSerializer`, at a fixed
number of queries and without per-row ORM or serializer machinery.

A page of 100 proposals through the model serializers cost ~60 ms of CPU (model instances for every
proposal, transaction, rejection, backing and confirmation, then ~40 DRF fields each), most of the
request. Here one query per table fetches only the columns shown, as dicts, and plain functions build
the answer. The detail, the writes and the OpenAPI schema keep the serializers;
`test_proposals_list.py` proves the two give the same JSON for proposals in every state.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from backoffice.core.api import TokensField
from backoffice.multisig.actions import call_display, call_read
from backoffice.multisig.api_transaction_rows import url_template, when
from backoffice.multisig.models import Confirmation, MultisigTransaction, transaction_status_label
from issuance.models import OwnerProposal, ProposalBacking
from issuance.models.proposals import UNPROPOSED_STATUS_LABELS

_TOKENS = TokensField()

PROPOSAL_COLUMNS = ("id", "kind", "amount", "recipient", "fee_basis_points", "redemption_reference", "arguments",
                    "memo", "state", "created_by__username", "created_at", "cancel_reason", "transaction_id")
TRANSACTION_COLUMNS = ("id", "multisig", "safe_address", "to", "operation", "data", "nonce", "safe_tx_hash", "state",
                       "threshold", "replaces_id", "replaces__safe_tx_hash", "created_at", "relayer_tx_hash",
                       "block_number", "executed_at", "failure_reason", "cancel_reason")
# A proposal's own transaction comes with it (one-to-one, joined): no second query, no list of ids for it.
JOINED = "transaction__"


class ProposalsListed:
    """What the list pages through: the rows (`proposals_listed`), counted by a query of their own without
    the rows' joins, columns and subquery. Sliced like a queryset, as Django's paginator does."""

    ordered = True

    def __init__(self, *, status: str | None = None) -> None:
        self.rows = proposals_listed(status=status)
        self.counted = _proposals_filtered(status)

    def count(self) -> int:
        return self.counted.count()

    def __getitem__(self, index: slice) -> QuerySet[OwnerProposal, dict[str, Any]]:
        return self.rows[index]


def _proposals_filtered(status: str | None) -> QuerySet[OwnerProposal]:
    # `status`: a proposal's own state while it has no transaction, its transaction's after.
    queryset = OwnerProposal.objects.all()
    if status:
        queryset = queryset.filter(Q(transaction__isnull=True, state=status) | Q(transaction__state=status))
    return queryset


def proposals_listed(*, status: str | None = None) -> QuerySet[OwnerProposal, dict[str, Any]]:
    """The proposals newest first, each with its transaction, as rows of the columns the list shows;
    `status` as the list's filter."""
    queryset = _proposals_filtered(status).order_by("-created_at", "-id")
    # The newest rejection of each transaction, by a correlated subquery on its index: pages without any (nearly
    # all) need no query for rejections at all.
    newest_rejection = MultisigTransaction.objects.filter(replaces_id=OuterRef("transaction_id")).order_by("-pk")
    return queryset.annotate(rejection_id=Subquery(newest_rejection.values("pk")[:1])).values(
        *PROPOSAL_COLUMNS, *(JOINED + c for c in TRANSACTION_COLUMNS if c != "id"), "rejection_id")


def _base_units(value: Any) -> str | None:
    return None if value is None else str(int(value))


def _tokens(value: Any) -> str | None:
    return None if value is None else str(_TOKENS.to_representation(value))


class _Summaries:
    """The summaries of a page's transactions (joined to their proposals) and of their newest rejections
    (one query, only when there are any), with their confirmations (one more)."""

    def __init__(self, proposals: Sequence[dict[str, Any]]) -> None:
        self.tz = timezone.get_current_timezone()
        self.url = url_template("multisig-api:transaction-detail")
        self.rows: dict[int, dict[str, Any]] = {}
        for proposal in proposals:
            if proposal["transaction_id"] is not None:
                row = {c: proposal[JOINED + c] for c in TRANSACTION_COLUMNS if c != "id"}
                self.rows[proposal["transaction_id"]] = {**row, "id": proposal["transaction_id"],
                                                         "owner_proposal__id": proposal["id"]}
        self.rejection_of = {p["transaction_id"]: p["rejection_id"] for p in proposals if p["rejection_id"]}
        if self.rejection_of:
            for row in MultisigTransaction.objects.filter(pk__in=list(self.rejection_of.values())).values(
                    *TRANSACTION_COLUMNS, "owner_proposal__id"):
                self.rows[row["id"]] = row
        self.confirmations: dict[int, list[Any]] = defaultdict(list)
        if self.rows:
            for confirmation in Confirmation.objects.filter(transaction_id__in=list(self.rows)).order_by(
                    "created_at", "pk").values("transaction_id", "owner_address", "signer__user__username",
                                               "created_at"):
                self.confirmations[confirmation["transaction_id"]].append(confirmation)

    def reference(self, row: dict[str, Any]) -> str:
        """`MultisigTransaction.reference` for a proposal's transaction or a rejection of one."""
        if row["replaces_id"] is None:
            proposal_id = row["owner_proposal__id"]
            return f"ISS-{proposal_id:04d}" if proposal_id is not None else f"TX-{row['id']:04d}"
        replaced = self.rows.get(row["replaces_id"])
        proposal_id = replaced["owner_proposal__id"] if replaced else None
        own = f"ISS-{proposal_id:04d}" if proposal_id is not None else f"TX-{row['id']:04d}"
        return f"{own} rejection"

    def summary(self, transaction_id: int) -> dict[str, Any]:
        """`MultisigTransactionSummarySerializer(tx).data`, from the rows. The call is read from the signed
        bytes (never from the stored `decoded`); the ABI decoding is remembered per process."""
        row, tz = self.rows[transaction_id], self.tz
        confirmations = self.confirmations.get(transaction_id, [])
        count = len(confirmations)
        call = call_display(call_read(multisig=row["multisig"], to=row["to"], safe_address=row["safe_address"],
                                      operation=row["operation"], nonce=row["nonce"], data=bytes(row["data"] or b"")),
                            nonce=row["nonce"], replaced_hash=row["replaces__safe_tx_hash"])
        return {
            "id": row["id"],
            "reference": self.reference(row),
            "status_label": transaction_status_label(state=row["state"], threshold=row["threshold"],
                                                     confirmations=count, block_number=row["block_number"],
                                                     failure_reason=row["failure_reason"]),
            "url": self.url.format(row["id"]),
            "nonce": row["nonce"],
            "safe_address": row["safe_address"],
            "safe_tx_hash": row["safe_tx_hash"],
            "status": row["state"],
            "function": str(call["function"]),
            "decoded": call,
            "proposal": row["owner_proposal__id"],
            "replaces": row["replaces__safe_tx_hash"],
            "threshold": row["threshold"],
            "confirmations_count": count,
            "signatures": f"{count} of {row['threshold']}",
            "confirmations": [{"owner_address": c["owner_address"], "signer": c["signer__user__username"] or "",
                               "created_at": when(c["created_at"], tz)} for c in confirmations],
            "created_at": when(row["created_at"], tz),
            "relayer_tx_hash": row["relayer_tx_hash"],
            "block_number": row["block_number"],
            "executed_at": when(row["executed_at"], tz),
            "failure_reason": row["failure_reason"],
            "cancel_reason": row["cancel_reason"],
        }

    def rejection(self, transaction_id: int) -> dict[str, Any] | None:
        """The newest rejection of the transaction, as the serializer's `rejection`."""
        rejection_id = self.rejection_of.get(transaction_id)
        return self.summary(rejection_id) if rejection_id is not None else None


def proposal_rows_present(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """A page of `proposals_listed` rows as `ProposalSerializer(many=True).data`: two more queries (backings,
    confirmations) whatever the page's size, and a third when a transaction on it was rejected."""
    rows = list(rows)
    backings: dict[int, list[Any]] = defaultdict(list)
    for backing in ProposalBacking.objects.filter(proposal_id__in=[r["id"] for r in rows]).order_by("pk").values(
            "proposal_id", "deposit_id", "deposit__reference", "amount"):
        backings[backing["proposal_id"]].append(backing)
    summaries = _Summaries(rows)
    presented = []
    for row in rows:
        tx_id = row["transaction_id"]
        transaction = summaries.summary(tx_id) if tx_id is not None else None
        presented.append({
            "id": row["id"],
            "reference": f"ISS-{row['id']:04d}",
            "kind": row["kind"],
            "amount": _base_units(row["amount"]),
            "amount_tokens": _tokens(row["amount"]),
            "recipient": row["recipient"],
            "fee_basis_points": row["fee_basis_points"],
            "redemption_reference": row["redemption_reference"],
            "arguments": dict(row["arguments"] or {}),
            "memo": row["memo"],
            "backings": [{"deposit": b["deposit_id"], "reference": b["deposit__reference"],
                          "amount": _base_units(b["amount"]), "amount_tokens": _tokens(b["amount"])}
                         for b in backings.get(row["id"], [])],
            "status": transaction["status"] if transaction else row["state"],
            "status_label": transaction["status_label"] if transaction
            else UNPROPOSED_STATUS_LABELS.get(row["state"], str(row["state"])),
            "created_by": row["created_by__username"],
            "created_at": when(row["created_at"], summaries.tz),
            "cancel_reason": row["cancel_reason"],
            "transaction": transaction,
            "rejection": summaries.rejection(tx_id) if tx_id is not None else None,
        })
    return presented
