"""Reads on the gold side. `reserve_get` is the one place the reserve and the headroom are computed."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal, localcontext

from django.conf import settings
from django.db.models import Q, QuerySet, Sum
from django.utils import timezone

from backoffice.chain.client import ChainClient
from backoffice.chain.selectors import deployment_get
from backoffice.core.amounts import tokens_format
from backoffice.multisig.actions import call_decode
from backoffice.multisig.models import PENDING_STATES, MultisigRole, MultisigTransaction

from .models import Audit, AuditState, Bar, GoldPrice, GoldPriceOrigin, GoldPriceState
from .models.deposits import IN_CUSTODY

# The action whose pending amounts the headroom subtracts (issuance/actions.py).
ISSUE = "issue"
TOKEN_UNIT = 10**6  # base units per token (6 decimals); one token is one US dollar


def bars_in_custody() -> QuerySet[Bar]:
    return Bar.objects.filter(deposit__state__in=IN_CUSTODY)


def bars_audited() -> QuerySet[Bar]:
    """Bars that back tokens: in custody, counted by an accepted audit, not blocked by a dispute."""
    return bars_in_custody().filter(audited_by__isnull=False, blocked_by__isnull=True)


def bars_pending() -> QuerySet[Bar]:
    """In custody but not (or no longer) backing tokens: awaiting an audit, or blocked by a dispute."""
    return bars_in_custody().filter(Q(audited_by__isnull=True) | Q(blocked_by__isnull=False))


def gold_price_latest(*, exclude_id: int | None = None) -> GoldPrice | None:
    """The price in use: the newest ACCEPTED one (proposed, rejected and refused prices never count)."""
    accepted = GoldPrice.objects.filter(state=GoldPriceState.ACCEPTED)
    if exclude_id is not None:
        accepted = accepted.exclude(pk=exclude_id)
    return accepted.order_by("-as_of", "-id").first()


def gold_price_refusal() -> str:
    """Why no issue may be drafted or sent on the price now ("" when it may): no accepted price,
    the accepted price stale, or the feed's newest reading refused since (the price is in doubt)."""
    price = gold_price_latest()
    waiting = GoldPrice.objects.filter(state=GoldPriceState.PROPOSED).order_by("-id").first()
    awaiting = (f"; the price {waiting.usd_per_oz:,} USD/oz proposed by {waiting.entered_by} awaits a second "
                "approval (a manager)" if waiting else "")
    if price is None:
        return f"no accepted gold price: issues wait until the price feed or a manager's approval gives one{awaiting}"
    age = (timezone.now() - price.as_of).total_seconds()
    if age > settings.GOLD_PRICE_MAX_AGE_SECONDS:
        return (f"the accepted gold price ({price.usd_per_oz:,} USD/oz of {price.as_of:%Y-%m-%d %H:%M} UTC) is "
                f"stale: older than {settings.GOLD_PRICE_MAX_AGE_SECONDS / 3600:g} h{awaiting}")
    refused = (GoldPrice.objects.filter(state=GoldPriceState.REFUSED, origin=GoldPriceOrigin.FEED, pk__gt=price.pk)
               .order_by("-id").first())
    if refused is not None:
        return (f"the gold price feed's latest reading ({refused.usd_per_oz:,} USD/oz) was refused: {refused.reason}"
                f"; issues wait until a price is accepted{awaiting}")
    return ""


def coverage_refusal(reserve: Reserve) -> str:
    """Why the reserve's coverage of the supply (value / supply) forbids issuing ("" when it does not)."""
    if reserve.total_supply <= 0:
        return ""
    floor = settings.GOLD_COVERAGE_FLOOR
    coverage = reserve.value_usd * TOKEN_UNIT / reserve.total_supply
    if coverage >= floor:
        return ""
    return (f"the reserve covers {coverage:.4f} of the supply (value {reserve.value_usd:,.2f} USD for "
            f"{tokens_format(reserve.total_supply)} tokens), below the floor of {floor}")


def audit_last_accepted() -> Audit | None:
    return Audit.objects.filter(state=AuditState.ACCEPTED).select_related("vault").order_by("-as_of", "-id").first()


def pending_issue_total(*, exclude_transaction_id: int | None = None, exclude_proposal_id: int | None = None) -> int:
    """Base units that may still be issued by what is already asked: issue transactions on the
    issuance multisig not yet executed (nor failed, cancelled, rejected) and issue drafts. A
    transaction counts by what its signed bytes call (the registry decodes them), never by the
    description its author stored."""
    from .models import OwnerProposal, ProposalState

    total = 0
    pending = MultisigTransaction.objects.filter(multisig=MultisigRole.ISSUANCE, state__in=PENDING_STATES)
    for tx in pending.exclude(pk=exclude_transaction_id).only("pk", "multisig", "to", "safe_address", "data",
                                                               "operation", "nonce"):
        call = call_decode(tx)
        if call.action is not None and call.action.name == ISSUE:
            total += int(call.arguments["amount"])
    drafts = OwnerProposal.objects.filter(kind=ISSUE, state=ProposalState.DRAFT)
    if exclude_proposal_id is not None:
        drafts = drafts.exclude(pk=exclude_proposal_id)
    total += int(drafts.aggregate(t=Sum("amount"))["t"] or 0)
    return total


def _oz(queryset: QuerySet[Bar]) -> Decimal:
    # A sum of 3-decimal values is exact at 3 decimals; SQLite returns it with trailing digits.
    total = queryset.aggregate(total=Sum("fine_oz"))["total"] or Decimal(0)
    return Decimal(total).quantize(Decimal("0.001"))


@dataclass(frozen=True)
class Reserve:
    audited_oz: Decimal
    pending_oz: Decimal
    price: GoldPrice | None
    value_usd: Decimal
    collateral_ratio: Decimal
    total_supply: int  # base units, read from the chain
    pending_issue: int  # base units
    headroom: int  # base units that may still be issued, never negative
    block_number: int


def headroom_compute(*, value_usd: Decimal, ratio: Decimal, supply: int, pending: int) -> int:
    """floor(value / ratio in base units) - supply - pending, at least zero. Exact: Decimal with
    enough precision that the division's floor is never off by one base unit."""
    with localcontext() as ctx:
        ctx.prec = 80
        backing = (value_usd * TOKEN_UNIT / ratio).to_integral_value(rounding=ROUND_FLOOR)
    return max(0, int(backing) - supply - pending)


def reserve_get(
    *, client: ChainClient, exclude_transaction_id: int | None = None, exclude_proposal_id: int | None = None
) -> Reserve:
    """The reserve now: audited gold valued at the latest price, against the on-chain supply."""
    deployment = deployment_get()
    block = client.block_number()
    supply = client.token_total_supply(deployment.token, block=block)  # the supply AT the block we publish
    return reserve_at_supply(supply=supply, block_number=block, exclude_transaction_id=exclude_transaction_id,
                             exclude_proposal_id=exclude_proposal_id)


def reserve_at_supply(
    *, supply: int, block_number: int, exclude_transaction_id: int | None = None,
    exclude_proposal_id: int | None = None,
) -> Reserve:
    """The reserve from the database (gold, price, pending issues) against a supply read at `block_number`:
    `reserve_get`'s, and the public page's on a cold cache (the supply of the last snapshot)."""
    audited, pending_oz = _oz(bars_audited()), _oz(bars_pending())
    price = gold_price_latest()
    value = audited * price.usd_per_oz if price else Decimal(0)
    ratio = settings.COLLATERAL_RATIO
    pending_issue = pending_issue_total(exclude_transaction_id=exclude_transaction_id,
                                        exclude_proposal_id=exclude_proposal_id)
    return Reserve(
        audited_oz=audited, pending_oz=pending_oz, price=price, value_usd=value, collateral_ratio=ratio,
        total_supply=supply, pending_issue=pending_issue,
        headroom=headroom_compute(value_usd=value, ratio=ratio, supply=supply, pending=pending_issue),
        block_number=block_number,
    )


def headroom_refusal(reserve: Reserve, amount: int) -> str:
    """Why `amount` base units cannot be issued now ("" when they can), with the numbers shown."""
    if amount <= reserve.headroom:
        return ""
    return (f"issuing {tokens_format(amount)} exceeds the headroom of {tokens_format(reserve.headroom)} tokens "
            f"(reserve value {reserve.value_usd:,.2f} USD at ratio {reserve.collateral_ratio}, on-chain supply "
            f"{tokens_format(reserve.total_supply)}, other pending issues {tokens_format(reserve.pending_issue)})")
