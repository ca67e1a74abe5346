"""Issuance's part of the signing page (registered in settings.SIGNING_PAGE_SECTIONS, so the kernel never
imports this app): why the owners are asked (the proposal's memo) and, for an issue, the gold behind
it (deposits, their bars, vaults and audits) and the reserve before and after the tokens it creates."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Count, Sum

from backoffice.chain.client import ChainError, chain_client
from backoffice.core.amounts import tokens_format
from backoffice.multisig.models import MultisigTransaction, TxState
from backoffice.multisig.signing import SigningSection
from backoffice.multisig.timeline import admin_url

from .models import Audit, OwnerProposal
from .selectors import ISSUE, headroom_compute, reserve_get


@dataclass(frozen=True)
class Link:
    label: str
    url: str


def _backings(proposal: OwnerProposal) -> list[dict[str, Any]]:
    """Each backing deposit with what it backs, its bars (count, fine weight), vault and audits."""
    rows = []
    backings = proposal.backings.select_related("deposit__vault").annotate(
        bar_count=Count("deposit__bars"), fine_oz=Sum("deposit__bars__fine_oz")).order_by("deposit__reference")
    for backing in backings:
        deposit = backing.deposit
        audits = (Audit.objects.filter(bars_audited__deposit=deposit).select_related("vault").distinct()
                  .order_by("as_of", "pk"))
        rows.append({
            "deposit": Link(deposit.reference, admin_url(deposit)),
            "tokens": tokens_format(int(backing.amount)),
            "bars": backing.bar_count,
            "fine_oz": Decimal(backing.fine_oz or 0).quantize(Decimal("0.001")),
            "vault": Link(str(deposit.vault), admin_url(deposit.vault)),
            "audits": [Link(f"Audit #{a.pk} by {a.firm}, as of {a.as_of:%Y-%m-%d} ({a.state})", admin_url(a))
                       for a in audits],
        })
    return rows


def _reserve(tx: MultisigTransaction, amount: int) -> dict[str, Any]:
    """The reserve now and with this issue. Supply is read from the chain; other pending issues are
    counted as the headroom check counts them, this transaction excluded (it is the "after")."""
    try:
        reserve = reserve_get(client=chain_client(), exclude_transaction_id=tx.pk)
    except ChainError as exc:
        return {"error": f"The reserve could not be computed: the chain node did not answer ({exc})."}
    executed = tx.state == TxState.EXECUTED
    # Once executed, the chain's supply already holds this issue: "before" takes it out again.
    before = reserve.total_supply - amount if executed else reserve.total_supply
    after = before + amount
    ratio = reserve.collateral_ratio
    headroom_before = headroom_compute(value_usd=reserve.value_usd, ratio=ratio, supply=before,
                                       pending=reserve.pending_issue)
    headroom_after = headroom_compute(value_usd=reserve.value_usd, ratio=ratio, supply=after,
                                      pending=reserve.pending_issue)
    return {
        "executed": executed, "block": reserve.block_number,
        "audited_oz": reserve.audited_oz, "price": reserve.price, "value_usd": f"{reserve.value_usd:,.2f}",
        "ratio": ratio, "pending_issue": tokens_format(reserve.pending_issue),
        "supply_before": tokens_format(before), "supply_after": tokens_format(after),
        "headroom_before": tokens_format(headroom_before), "headroom_after": tokens_format(headroom_after),
        "amount": tokens_format(amount),
        # Within the headroom counts every other pending issue too, as the execution guard does.
        "fits": executed or amount <= headroom_before,
    }


def section(tx: MultisigTransaction) -> SigningSection | None:
    """The owner proposal behind `tx` (its memo, and for an issue its backing and the reserve); None
    for a transaction no owner proposal carries."""
    proposal = tx.subject
    if not isinstance(proposal, OwnerProposal):
        return None
    context: dict[str, Any] = {"proposal": proposal, "proposal_url": admin_url(proposal),
                               "rejection": tx.replaces_id is not None, "issue": False,
                               "collateral_ratio": settings.COLLATERAL_RATIO}
    if proposal.kind == ISSUE and tx.replaces_id is None:
        amount = int(proposal.amount or 0)
        context.update(issue=True, backings=_backings(proposal), reserve=_reserve(tx, amount))
    return SigningSection(title=f"Why the owners are asked: {proposal.reference}",
                          template="issuance/signing_section.html", context=context, html_id="issuance-section")
