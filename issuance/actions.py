"""The owner proposals' actions, declared once each: issue, redeem, pause, unpause, set fee.

Each class is the whole of an action: its fields and their validation (refusals name their field),
the token call, its description, the guard before sending. The draft and propose services, the API,
the admin form and the signing page read them from the registry (`backoffice.multisig.actions`), so
adding an action is a class here (and its tests). Values are stored on the `OwnerProposal` columns of
the same name (amount, recipient, fee_basis_points, redemption_reference), those of any other field in
its `arguments` JSON.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from django.urls import NoReverseMatch, reverse

from backoffice.chain.addresses import address_require_checksummed
from backoffice.chain.safetx import ZERO_ADDRESS
from backoffice.chain.selectors import deployment_get
from backoffice.core.amounts import amount_parse, tokens_format
from backoffice.core.errors import InvalidInput
from backoffice.journal.services import journal_record
from backoffice.multisig.actions import ActionField, ProposalAction, ProposalRecord, action_register
from backoffice.multisig.models import MultisigRole

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from backoffice.chain.client import ChainClient
    from backoffice.multisig.models import MultisigTransaction

    from .models import OwnerProposal

T = TypeVar("T")
PROPOSE = "issuance.propose_ownerproposal"
MAX_FEE_BASIS_POINTS = 20

AMOUNT = ActionField("amount", "Amount (tokens)", kind="tokens", required=True,
                     required_message="required for an issue or a redemption",
                     help_text="Issue and redeem: in tokens, e.g. 1234.5 or 1,234.5, at most 6 decimals.")
RECIPIENT = ActionField("recipient", "Recipient", kind="address", max_length=42,
                        help_text="Issue: the checksummed (EIP-55) address that receives the new tokens.")
DEPOSITS = ActionField("deposits", "Backing deposits", kind="ids",
                       help_text="Issue: the audited deposits whose gold backs the amount, used in this order.")
FEE = ActionField("fee_basis_points", "Fee (basis points)", kind="integer",
                  help_text=f"Set fee: 0 to {MAX_FEE_BASIS_POINTS} basis points.")
REDEMPTION = ActionField("redemption_reference", "Redemption reference", help_text="Redeem: the redemption it settles.")


def _on(name: str, parse: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a parser whose ValueError messages are about input `name`, as a refusal naming that input."""
    try:
        return parse(*args, **kwargs)
    except InvalidInput:
        raise
    except ValueError as exc:
        raise InvalidInput(str(exc), field=name) from exc


class OwnerProposalAction(ProposalAction):
    """What every owner-proposal action shares: the issuance multisig, the operators' permission, the
    OwnerProposal it belongs to."""

    role: ClassVar[str] = MultisigRole.ISSUANCE
    cancel_permission: ClassVar[str] = PROPOSE

    def propose_check(self, *, client: ChainClient, proposal: OwnerProposal) -> None:
        """Checked again right before the draft is handed to the multisig (the chain may have moved)."""

    def draft_save(self, *, proposal: OwnerProposal, values: Mapping[str, Any]) -> None:
        """Rows stored with the draft besides its columns (in the draft's database transaction)."""

    def values_of(self, proposal: OwnerProposal) -> dict[str, Any]:
        """The cleaned values a draft stored: on its columns, or in `arguments` for fields without one."""
        return {f.name: proposal.arguments[f.name] if f.name in (proposal.arguments or {})
                else getattr(proposal, f.name, None) for f in self.fields}

    def record(self, transaction: MultisigTransaction) -> ProposalRecord | None:
        from .models import OwnerProposal

        proposal = OwnerProposal.objects.filter(transaction_id=transaction.pk).only("pk").first()
        if proposal is None:
            return None
        try:
            url = reverse("admin:issuance_ownerproposal_change", args=[proposal.pk])
        except NoReverseMatch:
            url = ""
        return ProposalRecord(kind="owner_proposal", id=proposal.pk, label=proposal.reference, url=url)

    def after_execution(self, *, transaction: MultisigTransaction, client: ChainClient,
                        arguments: Mapping[str, Any]) -> None:
        """An executed issue or redeem moved the supply (and any executed proposal the pending issues): the
        public proof of reserve is read again now, not at the worker's next periodic refresh."""
        from .public.services import reserve_publish_soon

        reserve_publish_soon()

    def withdrawn(self, *, transaction: MultisigTransaction, reason: str, actor: User | None, how: str,
                  rejection: MultisigTransaction | None) -> None:
        from .models import OwnerProposal

        proposal = OwnerProposal.objects.select_for_update().filter(transaction_id=transaction.pk).first()
        if proposal is None:
            return
        # The proposal's status is its transaction's state; the reason is kept on the proposal too.
        OwnerProposal.objects.filter(pk=proposal.pk).update(cancel_reason=reason)
        journal_record(action="issuance.proposal.withdrawn", actor=actor, obj=proposal, reason=reason,
                       state_after=str(transaction.state),
                       data={"how": how, "nonce": transaction.nonce, "kind": proposal.kind,
                             "rejection": rejection.safe_tx_hash if rejection else None})


def _token_paused(client: ChainClient) -> bool:
    return client.token_paused(deployment_get().token)


def _issue_price_refusal(client: ChainClient, *, exclude_transaction_id: int | None = None,
                         exclude_proposal_id: int | None = None) -> str:
    """Why the gold price forbids any issue now ("" when it does not): no accepted price, a stale one,
    a refused feed reading since, or the reserve covering less of the supply than GOLD_COVERAGE_FLOOR."""
    from .selectors import coverage_refusal, gold_price_refusal, reserve_get

    refusal = gold_price_refusal()
    if refusal:
        return refusal
    return coverage_refusal(reserve_get(client=client, exclude_transaction_id=exclude_transaction_id,
                                        exclude_proposal_id=exclude_proposal_id))


@action_register
class Issue(OwnerProposalAction):
    name, label, function = "issue", "Issue tokens", "issue"
    fields = (AMOUNT, RECIPIENT, DEPOSITS)

    def clean(self, *, client: ChainClient, values: Mapping[str, Any]) -> dict[str, Any]:
        from .models import Deposit, DepositState
        from .services.proposals import backing_allocate, headroom_check

        self.required_check(values)
        amount = _on("amount", amount_parse, values.get("amount"))
        recipient = _on("recipient", address_require_checksummed, values.get("recipient") or "", field="recipient")
        if recipient == ZERO_ADDRESS:
            raise InvalidInput("recipient: the zero address cannot receive tokens", field="recipient")
        refusal = _issue_price_refusal(client)
        if refusal:
            raise InvalidInput(refusal)
        deposit_ids = list(values.get("deposits") or [])
        deposits = list(Deposit.objects.filter(pk__in=deposit_ids).order_by("pk"))
        if not deposits or len(deposits) != len(set(deposit_ids)):
            raise InvalidInput("deposits: choose the audited deposits whose gold backs this issue", field="deposits")
        not_audited = [d.reference for d in deposits if d.state != DepositState.AUDITED]
        if not_audited:
            raise InvalidInput(f"deposits: {', '.join(not_audited)} not audited", field="deposits")
        headroom_check(client, amount)
        return {"amount": amount, "recipient": recipient, "backing": backing_allocate(deposits, amount)}

    def draft_save(self, *, proposal: OwnerProposal, values: Mapping[str, Any]) -> None:
        from .models import ProposalBacking

        ProposalBacking.objects.bulk_create(
            [ProposalBacking(proposal=proposal, deposit=d, amount=share) for d, share in values["backing"]])

    def propose_check(self, *, client: ChainClient, proposal: OwnerProposal) -> None:
        from .services.proposals import deposit_backing_capacity, headroom_check

        refusal = _issue_price_refusal(client, exclude_proposal_id=proposal.pk)
        if refusal:
            raise InvalidInput(refusal)
        headroom_check(client, int(proposal.amount or 0), exclude_proposal_id=proposal.pk)
        for backing in proposal.backings.select_related("deposit"):
            if int(backing.amount) > deposit_backing_capacity(backing.deposit, exclude_proposal_id=proposal.pk):
                raise InvalidInput(f"deposit {backing.deposit.reference} no longer backs "
                                   f"{tokens_format(int(backing.amount))} tokens", field="deposits")

    def arguments(self, values: Mapping[str, Any]) -> list[Any]:
        return [values["recipient"], int(values["amount"])]

    def describe(self, arguments: Mapping[str, Any]) -> str:
        return f"Issue {tokens_format(int(arguments['amount']))} USDKG to {arguments['to']}"

    def display(self, *, transaction: MultisigTransaction | None, arguments: Mapping[str, Any]) -> dict[str, Any]:
        from .models import ProposalBacking

        amount = int(arguments["amount"])
        shown: dict[str, Any] = {"to": arguments["to"], "amount": str(amount), "tokens": tokens_format(amount)}
        if transaction is not None:
            backings = ProposalBacking.objects.filter(proposal__transaction_id=transaction.pk).select_related("deposit")
            shown["backing"] = {b.deposit.reference: tokens_format(int(b.amount)) for b in backings.order_by("pk")}
        return shown

    def guard(self, *, transaction: MultisigTransaction, client: ChainClient, arguments: Mapping[str, Any]) -> None:
        """Still within the headroom, supply re-read from the chain now, not counting itself as pending."""
        from backoffice.multisig.services import GuardRefused

        from .selectors import coverage_refusal, gold_price_refusal, headroom_refusal, reserve_get

        record = self.record(transaction)
        reserve = reserve_get(client=client, exclude_transaction_id=transaction.pk,
                              exclude_proposal_id=record.id if record else None)
        refusal = (gold_price_refusal() or coverage_refusal(reserve)
                   or headroom_refusal(reserve, int(arguments["amount"])))
        if refusal:
            raise GuardRefused(refusal)


@action_register
class Redeem(OwnerProposalAction):
    name, label, function = "redeem", "Redeem tokens", "redeem"
    fields = (AMOUNT, REDEMPTION)

    def clean(self, *, client: ChainClient, values: Mapping[str, Any]) -> dict[str, Any]:
        self.required_check(values)
        amount = _on("amount", amount_parse, values.get("amount"))
        reference = (values.get("redemption_reference") or "").strip()
        if not reference:
            raise InvalidInput("redemption reference: name the redemption this settles", field="redemption_reference")
        d = deployment_get()
        held = client.token_balance(d.token, d.multisig(MultisigRole.ISSUANCE).address)
        if amount > held:
            raise InvalidInput(f"the issuance multisig holds {tokens_format(held)} tokens; "
                               f"{tokens_format(amount)} cannot be redeemed", field="amount")
        return {"amount": amount, "redemption_reference": reference}

    def arguments(self, values: Mapping[str, Any]) -> list[Any]:
        return [int(values["amount"])]

    def describe(self, arguments: Mapping[str, Any]) -> str:
        return f"Redeem {tokens_format(int(arguments['amount']))} USDKG held by the issuance multisig"

    def display(self, *, transaction: MultisigTransaction | None, arguments: Mapping[str, Any]) -> dict[str, Any]:
        amount = int(arguments["amount"])
        return {"amount": str(amount), "tokens": tokens_format(amount)}


class _PauseSwitch(OwnerProposalAction):
    """pause / unpause: refused while the token is already in the state asked (the token would revert)."""

    paused_after: ClassVar[bool]
    refusal: ClassVar[str]

    def clean(self, *, client: ChainClient, values: Mapping[str, Any]) -> dict[str, Any]:
        self.propose_check(client=client, proposal=None)
        return {}

    def propose_check(self, *, client: ChainClient, proposal: OwnerProposal | None) -> None:
        # Read from the chain, never from our own records: another proposal may have switched it.
        if _token_paused(client) == self.paused_after:
            raise InvalidInput(self.refusal, field="kind")

    def describe(self, arguments: Mapping[str, Any]) -> str:
        return "Pause all token transfers" if self.paused_after else "Unpause token transfers"


@action_register
class Pause(_PauseSwitch):
    name, label, function = "pause", "Pause transfers", "pause"
    paused_after, refusal = True, "kind: the token is already paused; there is nothing to pause"


@action_register
class Unpause(_PauseSwitch):
    name, label, function = "unpause", "Unpause transfers", "unpause"
    paused_after, refusal = False, "kind: the token is not paused; there is nothing to unpause"


@action_register
class SetFee(OwnerProposalAction):
    name, label, function = "set_fee", "Set the transfer fee", "setParams"
    fields = (FEE,)

    def clean(self, *, client: ChainClient, values: Mapping[str, Any]) -> dict[str, Any]:
        try:
            bps = int(str(values.get("fee_basis_points")).strip())
        except ValueError as exc:
            raise InvalidInput("fee: a whole number of basis points", field="fee_basis_points") from exc
        if not 0 <= bps <= MAX_FEE_BASIS_POINTS:
            raise InvalidInput(f"fee: between 0 and {MAX_FEE_BASIS_POINTS} basis points", field="fee_basis_points")
        self._unchanged_check(client, bps)
        return {"fee_basis_points": bps}

    def propose_check(self, *, client: ChainClient, proposal: OwnerProposal) -> None:
        self._unchanged_check(client, proposal.fee_basis_points)

    def _unchanged_check(self, client: ChainClient, bps: int | None) -> None:
        # An unchanged fee would spend the owners' signatures and a nonce for nothing.
        current = client.token_fee_basis_points(deployment_get().token)
        if current == bps:
            raise InvalidInput(f"fee: the fee is already {current} basis points; nothing would change",
                               field="fee_basis_points")

    def arguments(self, values: Mapping[str, Any]) -> list[Any]:
        return [int(values["fee_basis_points"])]

    def describe(self, arguments: Mapping[str, Any]) -> str:
        return f"Set the transfer fee to {int(arguments['basisPoints'])} basis points"

    def display(self, *, transaction: MultisigTransaction | None, arguments: Mapping[str, Any]) -> dict[str, Any]:
        return {"basis_points": int(arguments["basisPoints"])}
