"""Owner proposals: drafted by an operator, proposed to the issuance multisig, guarded by the reserve."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_FLOOR, Decimal, localcontext
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Q, Sum

from backoffice.chain.addresses import address_require_checksummed
from backoffice.chain.client import ChainClient
from backoffice.chain.safetx import ZERO_ADDRESS
from backoffice.chain.selectors import deployment_get
from backoffice.core.amounts import TOKEN_UNIT, amount_parse, tokens_format
from backoffice.journal.services import TransitionRefused, journal_record, transition_apply
from backoffice.multisig.models import LIVE_STATES, MultisigRole, MultisigTransaction
from backoffice.multisig.services import multisig_transaction_cancel, multisig_transaction_propose

from ..models import Deposit, DepositState, OwnerProposal, ProposalBacking, ProposalKind, ProposalState
from ..selectors import bars_audited, gold_price_latest, headroom_refusal, reserve_get
from .gold import InvalidInput

MAX_FEE_BASIS_POINTS = 20


def _live_backings() -> Any:
    """Backings of proposals that may still put (or already put) tokens on chain."""
    return ProposalBacking.objects.filter(
        Q(proposal__state=ProposalState.DRAFT)
        | Q(proposal__state=ProposalState.PROPOSED, proposal__transaction__state__in=LIVE_STATES)
    )


def deposit_backing_capacity(deposit: Deposit, *, exclude_proposal_id: int | None = None) -> int:
    """Base units this deposit's audited gold may still back: its value at the latest price and the
    collateral ratio, less what live or executed proposals already allocated to it."""
    price = gold_price_latest()
    if price is None or deposit.state != DepositState.AUDITED:
        return 0
    oz = bars_audited().filter(deposit=deposit).aggregate(t=Sum("fine_oz"))["t"] or Decimal(0)
    with localcontext() as ctx:
        ctx.prec = 80
        value = int((oz * price.usd_per_oz * TOKEN_UNIT / settings.COLLATERAL_RATIO).to_integral_value(ROUND_FLOOR))
    used = _live_backings().filter(deposit=deposit).exclude(proposal_id=exclude_proposal_id)
    return max(0, value - int(used.aggregate(t=Sum("amount"))["t"] or 0))


def _backing_allocate(deposits: Sequence[Deposit], amount: int, *, exclude_proposal_id: int | None = None
                      ) -> list[tuple[Deposit, int]]:
    remaining, allocation = amount, []
    for deposit in deposits:
        share = min(remaining, deposit_backing_capacity(deposit, exclude_proposal_id=exclude_proposal_id))
        if share > 0:
            allocation.append((deposit, share))
            remaining -= share
    if remaining > 0:
        backed = amount - remaining
        raise InvalidInput(f"the chosen deposits back only {tokens_format(backed)} more tokens; "
                           f"{tokens_format(amount)} were asked")
    return allocation


def _headroom_check(client: ChainClient, amount: int, *, exclude_proposal_id: int | None = None) -> None:
    refusal = headroom_refusal(reserve_get(client=client, exclude_proposal_id=exclude_proposal_id), amount)
    if refusal:
        raise InvalidInput(refusal)


def _token_state_check(client: ChainClient, kind: str, fee_basis_points: int | None) -> None:
    """Refuse a pause, unpause or fee change that would change nothing: the token reverts on a repeated
    pause or unpause, so the owners would approve a transaction that then fails; an unchanged fee would
    spend their signatures and a nonce for nothing. Read from the chain, never from our own records."""
    if kind not in (ProposalKind.PAUSE, ProposalKind.UNPAUSE, ProposalKind.SET_FEE):
        return
    token = deployment_get().token
    if kind == ProposalKind.SET_FEE:
        current = client.token_fee_basis_points(token)
        if current == fee_basis_points:
            raise InvalidInput(f"fee: the fee is already {current} basis points; nothing would change")
        return
    paused = client.token_paused(token)
    if kind == ProposalKind.PAUSE and paused:
        raise InvalidInput("kind: the token is already paused; there is nothing to pause")
    if kind == ProposalKind.UNPAUSE and not paused:
        raise InvalidInput("kind: the token is not paused; there is nothing to unpause")


def proposal_draft(
    *, client: ChainClient, kind: str, actor: User, amount: object = None, recipient: str = "",
    deposit_ids: Sequence[int] = (), memo: str = "", fee_basis_points: object = None,
    redemption_reference: str = "",
) -> OwnerProposal:
    """Operator: draft a proposal for the owners.

    issue: amount in tokens (at most 6 decimals, above zero, within uint256), a checksummed
    non-zero recipient, audited deposits whose gold backs the amount, and the amount within the
    reserve headroom. redeem: amount and the redemption it settles, within the issuance multisig's
    token balance. set_fee: 0 to 20 basis points, other than the token's current fee. pause / unpause:
    only while the token is not paused / is paused. Refused input saves nothing.
    """
    if not actor.has_perm("issuance.propose_ownerproposal"):
        raise TransitionRefused("your role may not draft owner proposals")
    if kind not in ProposalKind.values:
        raise InvalidInput(f"kind must be one of {', '.join(ProposalKind.values)}")
    fields: dict[str, Any] = {"kind": kind, "memo": (memo or "").strip()[:2000]}
    allocation: list[tuple[Deposit, int]] = []
    try:
        if kind in (ProposalKind.ISSUE, ProposalKind.REDEEM):
            fields["amount"] = amount_parse(amount)
        if kind == ProposalKind.ISSUE:
            recipient = address_require_checksummed(recipient, field="recipient")
            if recipient == ZERO_ADDRESS:
                raise ValueError("recipient: the zero address cannot receive tokens")
            fields["recipient"] = recipient
            deposits = list(Deposit.objects.filter(pk__in=list(deposit_ids)).order_by("pk"))
            if not deposits or len(deposits) != len(set(deposit_ids)):
                raise ValueError("deposits: choose the audited deposits whose gold backs this issue")
            not_audited = [d.reference for d in deposits if d.state != DepositState.AUDITED]
            if not_audited:
                raise ValueError(f"deposits: {', '.join(not_audited)} not audited")
            _headroom_check(client, fields["amount"])
            allocation = _backing_allocate(deposits, fields["amount"])
        elif kind == ProposalKind.REDEEM:
            fields["redemption_reference"] = (redemption_reference or "").strip()
            if not fields["redemption_reference"]:
                raise ValueError("redemption reference: name the redemption this settles")
            d = deployment_get()
            held = client.token_balance(d.token, d.issuance_multisig)
            if fields["amount"] > held:
                raise ValueError(f"the issuance multisig holds {tokens_format(held)} tokens; "
                                 f"{tokens_format(fields['amount'])} cannot be redeemed")
        elif kind == ProposalKind.SET_FEE:
            try:
                bps = int(str(fee_basis_points).strip())
            except ValueError as exc:
                raise ValueError("fee: a whole number of basis points") from exc
            if not 0 <= bps <= MAX_FEE_BASIS_POINTS:
                raise ValueError(f"fee: between 0 and {MAX_FEE_BASIS_POINTS} basis points")
            fields["fee_basis_points"] = bps
        _token_state_check(client, kind, fields.get("fee_basis_points"))
    except ValueError as exc:
        raise InvalidInput(str(exc)) from exc
    with transaction.atomic():
        proposal = OwnerProposal.objects.create(created_by=actor, **fields)
        ProposalBacking.objects.bulk_create(
            [ProposalBacking(proposal=proposal, deposit=d, amount=share) for d, share in allocation])
        journal_record(action="issuance.proposal.drafted", actor=actor, obj=proposal, state_after=proposal.state,
                       data={**{k: str(v) for k, v in fields.items() if v not in (None, "")},
                             "backing": {d.reference: str(share) for d, share in allocation}})
    return proposal


def proposal_call(proposal: OwnerProposal, client: ChainClient) -> tuple[bytes, dict[str, Any]]:
    """The token call a proposal makes, and its human-readable form."""
    amount = int(proposal.amount or 0)
    if proposal.kind == ProposalKind.ISSUE:
        return client.token_calldata("issue", proposal.recipient, amount), {
            "function": "issue", "to": proposal.recipient, "amount": str(amount), "tokens": tokens_format(amount)}
    if proposal.kind == ProposalKind.REDEEM:
        return client.token_calldata("redeem", amount), {
            "function": "redeem", "amount": str(amount), "tokens": tokens_format(amount)}
    if proposal.kind == ProposalKind.SET_FEE:
        bps = int(proposal.fee_basis_points or 0)
        return client.token_calldata("setParams", bps), {"function": "setParams", "basis_points": bps}
    return client.token_calldata(str(proposal.kind)), {"function": str(proposal.kind)}


def proposal_propose(*, client: ChainClient, proposal_id: int, actor: User) -> OwnerProposal:
    """Hand a draft to the issuance multisig: the nonce is assigned and the SafeTx and its hash frozen.
    An issue is checked against the headroom and its deposits again first, a pause, unpause or fee
    change against the token's current state."""
    if not actor.has_perm("issuance.propose_ownerproposal"):
        raise TransitionRefused("your role may not propose")
    proposal = OwnerProposal.objects.get(pk=proposal_id)
    if proposal.state != ProposalState.DRAFT:
        raise TransitionRefused(f"only a draft can be proposed; this one is {proposal.status}")
    if proposal.kind == ProposalKind.ISSUE:
        _headroom_check(client, int(proposal.amount or 0), exclude_proposal_id=proposal.pk)
        backing = [(b.deposit, int(b.amount)) for b in proposal.backings.select_related("deposit")]
        for deposit, share in backing:
            if share > deposit_backing_capacity(deposit, exclude_proposal_id=proposal.pk):
                raise InvalidInput(f"deposit {deposit.reference} no longer backs {tokens_format(share)} tokens")
    # The chain may have moved since the draft (another proposal paused the token or set this fee).
    _token_state_check(client, proposal.kind, proposal.fee_basis_points)
    data, decoded = proposal_call(proposal, client)
    decoded["proposal"] = proposal.pk
    decoded["backing"] = {b.deposit.reference: tokens_format(int(b.amount))
                          for b in proposal.backings.select_related("deposit")}
    with transaction.atomic():
        # The proposal's row first, as every transition on it locks it first: no lock-order inversion.
        OwnerProposal.objects.select_for_update().get(pk=proposal.pk)
        tx = multisig_transaction_propose(client=client, multisig=MultisigRole.ISSUANCE, to=deployment_get().token,
                                          data=data, decoded=decoded, actor=actor)
        return transition_apply(model=OwnerProposal, pk=proposal.pk, transition="propose", actor=actor,
                                params={"transaction_id": tx.pk}, data={"safe_tx_hash": tx.safe_tx_hash,
                                                                          "nonce": tx.nonce})


def proposal_cancel(*, client: ChainClient, proposal_id: int, reason: str, actor: User
                    ) -> MultisigTransaction | None:
    """Withdraw a proposal before it is sent. A proposed one cancels its multisig transaction, which
    may need a rejection transaction for the owners to sign (returned)."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("a reason is required")
    proposal = OwnerProposal.objects.select_related("transaction").get(pk=proposal_id)
    if proposal.state == ProposalState.DRAFT:
        transition_apply(model=OwnerProposal, pk=proposal.pk, transition="cancel", actor=actor, reason=reason,
                         params={"reason": reason})
        return None
    if not actor.has_perm("issuance.propose_ownerproposal"):
        raise TransitionRefused("your role may not cancel proposals")
    if proposal.transaction is None:
        raise TransitionRefused(f"this proposal is {proposal.status}")
    try:
        return multisig_transaction_cancel(client=client, transaction_id=proposal.transaction.pk, reason=reason,
                                           actor=actor)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from exc
