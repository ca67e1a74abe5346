"""Owner proposals: drafted by an operator, proposed to the issuance multisig, guarded by the reserve."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_FLOOR, Decimal, localcontext
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Q, Sum

from backoffice.chain.client import ChainClient
from backoffice.chain.selectors import deployment_get
from backoffice.core.amounts import TOKEN_UNIT, tokens_format
from backoffice.core.errors import InvalidInput
from backoffice.journal.services import TransitionRefused, journal_record, transition_apply
from backoffice.multisig.actions import action_require, calldata_summary
from backoffice.multisig.lifecycle import multisig_transaction_withdraw
from backoffice.multisig.models import LIVE_STATES, MultisigRole, MultisigTransaction
from backoffice.multisig.services import multisig_transaction_propose

from ..actions import OwnerProposalAction
from ..models import Deposit, DepositState, OwnerProposal, ProposalBacking, ProposalState
from ..selectors import bars_audited, gold_price_latest, headroom_refusal, reserve_get


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


def backing_allocate(deposits: Sequence[Deposit], amount: int, *, exclude_proposal_id: int | None = None
                     ) -> list[tuple[Deposit, int]]:
    """Shares of `amount` the deposits back, in their order; refuses (field `deposits`) when they fall short."""
    remaining, allocation = amount, []
    for deposit in deposits:
        share = min(remaining, deposit_backing_capacity(deposit, exclude_proposal_id=exclude_proposal_id))
        if share > 0:
            allocation.append((deposit, share))
            remaining -= share
    if remaining > 0:
        backed = amount - remaining
        raise InvalidInput(f"the chosen deposits back only {tokens_format(backed)} more tokens; "
                           f"{tokens_format(amount)} were asked", field="deposits")
    return allocation


def headroom_check(client: ChainClient, amount: int, *, exclude_proposal_id: int | None = None) -> None:
    refusal = headroom_refusal(reserve_get(client=client, exclude_proposal_id=exclude_proposal_id), amount)
    if refusal:
        raise InvalidInput(refusal, field="amount")


def owner_action_get(kind: str) -> OwnerProposalAction:
    """The registered owner-proposal action named `kind`; refuses (field `kind`) any other."""
    return action_require(kind, role=MultisigRole.ISSUANCE, cls=OwnerProposalAction, field="kind")


def proposal_draft(
    *, client: ChainClient, kind: str, actor: User, memo: str = "", deposit_ids: Sequence[int] | None = None,
    **inputs: Any,
) -> OwnerProposal:
    """Operator: draft a proposal for the owners.

    `kind` names a registered owner-proposal action (issuance/actions.py); `inputs` are its fields
    (others are ignored), validated by the action: e.g. issue needs an amount within the headroom, a
    checksummed non-zero recipient and audited deposits that back it. Refused input saves nothing and
    raises InvalidInput naming the field.
    """
    if not actor.has_perm("issuance.propose_ownerproposal"):
        raise TransitionRefused("your role may not draft owner proposals")
    action = owner_action_get(kind)
    if deposit_ids is not None:
        inputs["deposits"] = list(deposit_ids)
    values = action.clean(client=client, values=inputs)
    columns = {k: v for k, v in values.items() if k in _COLUMNS}
    declared = {f.name for f in action.fields}
    arguments = {k: v for k, v in values.items() if k in declared and k not in _COLUMNS and v is not None}
    with transaction.atomic():
        proposal = OwnerProposal.objects.create(created_by=actor, kind=action.name, arguments=arguments,
                                                memo=(memo or "").strip()[:2000], **columns)
        action.draft_save(proposal=proposal, values=values)
        backing = {b.deposit.reference: str(b.amount) for b in proposal.backings.select_related("deposit")}
        journal_record(action="issuance.proposal.drafted", actor=actor, obj=proposal, state_after=proposal.state,
                       data={"kind": action.name, **({"memo": proposal.memo} if proposal.memo else {}),
                             **{k: str(v) for k, v in (columns | arguments).items() if v not in (None, "")},
                             "backing": backing})
    return proposal


# What an action's cleaned values may set on the proposal row's own columns; the values of other
# declared fields are kept in `arguments`.
_COLUMNS = ("amount", "recipient", "fee_basis_points", "redemption_reference")


def proposal_call(proposal: OwnerProposal, client: ChainClient) -> tuple[bytes, dict[str, Any]]:
    """The token call a proposal makes (from its action), and its human-readable form."""
    action = owner_action_get(proposal.kind)
    data = action.calldata(client=client, values=action.values_of(proposal))
    return data, calldata_summary(action, client=client, data=data)


def proposal_propose(*, client: ChainClient, proposal_id: int, actor: User) -> OwnerProposal:
    """Hand a draft to the issuance multisig: the nonce is assigned and the SafeTx and its hash frozen.
    The action checks again what the chain or other proposals may have changed since the draft (an
    issue's headroom and deposits, a pause's, unpause's or fee's token state)."""
    if not actor.has_perm("issuance.propose_ownerproposal"):
        raise TransitionRefused("your role may not propose")
    proposal = OwnerProposal.objects.get(pk=proposal_id)
    if proposal.state != ProposalState.DRAFT:
        raise TransitionRefused(f"only a draft can be proposed; this one is {proposal.status}")
    action = owner_action_get(proposal.kind)
    action.propose_check(client=client, proposal=proposal)
    data, decoded = proposal_call(proposal, client)
    decoded["proposal"] = proposal.pk
    backings = proposal.backings.select_related("deposit")
    if backings:
        decoded["backing"] = {b.deposit.reference: tokens_format(int(b.amount)) for b in backings}
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
    """Withdraw a proposal before it is sent. A proposed one cancels its multisig transaction through the
    kernel (which tells this app's action, so the proposal keeps the reason and the journal says so); it
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
    return multisig_transaction_withdraw(client=client, transaction_id=proposal.transaction.pk, reason=reason,
                                         actor=actor)
