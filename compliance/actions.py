"""The compliance multisig's actions, declared once each: blacklist, unblacklist, destroy black funds.

Each class is the whole of an action: when the chain state allows it, its inputs and their validation
(refusals name their field), the token call on the case's address, its description, the guard before
sending and what the frozen-address register expects once it is executed. The proposal service, the
API, the admin and the signing page read them from the registry (`backoffice.multisig.actions`), so
adding an action is a class here (and its tests).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from django.urls import NoReverseMatch, reverse

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

ACT = "compliance.act_compliance"


class ComplianceProposalAction(ProposalAction):
    """What every compliance action shares: the compliance multisig, the officers' permission, one call
    on the case's address (`values["address"]`), and the ComplianceProposal it belongs to."""

    role: ClassVar[str] = MultisigRole.COMPLIANCE
    cancel_permission: ClassVar[str] = ACT
    propose_label: ClassVar[str] = ""
    # What the register expects of the address once the call is executed.
    expected_blacklisted: ClassVar[bool] = True
    # The propose page shows the address's balance read from chain (what destroy funds burns).
    shows_balance: ClassVar[bool] = False

    def refusal(self, *, address: str, listed: bool, balance: int) -> str:
        """Why the chain state does not allow this action now ("" when it does)."""
        return ""

    def arguments(self, values: Mapping[str, Any]) -> list[Any]:
        return [values["address"]]

    def describe(self, arguments: Mapping[str, Any]) -> str:
        return f"{self.label}: {arguments['user']}"

    def display(self, *, transaction: MultisigTransaction | None, arguments: Mapping[str, Any]) -> dict[str, Any]:
        return {"user": arguments["user"]}

    def summary(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Frozen with the transaction besides its decoded call (e.g. the balance an officer confirmed)."""
        return {}

    def record(self, transaction: MultisigTransaction) -> ProposalRecord | None:
        from .models import ComplianceProposal

        proposal = ComplianceProposal.objects.filter(transaction_id=transaction.pk).only("pk", "case_id").first()
        if proposal is None:
            return None
        try:
            url = reverse("admin:compliance_case_change", args=[proposal.case_id])
        except NoReverseMatch:
            url = ""
        return ProposalRecord(kind="compliance_proposal", id=proposal.pk,
                              label=f"{proposal.reference} (case {proposal.case_id})", url=url, case=proposal.case_id)

    def withdrawn(self, *, transaction: MultisigTransaction, reason: str, actor: User | None, how: str,
                  rejection: MultisigTransaction | None) -> None:
        from .models import ComplianceProposal

        proposal = ComplianceProposal.objects.filter(transaction_id=transaction.pk).first()
        if proposal is None:
            return
        # The proposal's status is its transaction's state; the journal ties the reason to the case.
        journal_record(action="compliance.proposal.withdrawn", actor=actor, obj=proposal, reason=reason,
                       state_after=str(transaction.state),
                       data={"how": how, "case": proposal.case_id, "action": proposal.action,
                             "address": proposal.address, "nonce": transaction.nonce,
                             "rejection": rejection.safe_tx_hash if rejection else None})

    def after_execution(self, *, transaction: MultisigTransaction, client: ChainClient,
                        arguments: Mapping[str, Any]) -> None:
        """Record what the register now expects of the address, then read the chain into it."""
        from .models import ComplianceProposal, FrozenAddress
        from .services import register_refresh

        proposal = ComplianceProposal.objects.filter(transaction=transaction).first()
        if proposal is None:
            return
        FrozenAddress.objects.filter(address=proposal.address).update(
            expected_blacklisted=self.expected_blacklisted, last_transaction=transaction, case=proposal.case)
        journal_record(action="compliance.register.updated", obj=proposal, actor_username="register",
                       data={"address": proposal.address, "expected_blacklisted": self.expected_blacklisted,
                             "safe_tx_hash": transaction.safe_tx_hash})
        register_refresh(client=client, address=proposal.address)


@action_register
class Blacklist(ComplianceProposalAction):
    name, label, function = "blacklist", "Blacklist (freeze sending)", "addBlackList"
    propose_label = "Propose blacklist"

    def refusal(self, *, address: str, listed: bool, balance: int) -> str:
        return f"{address} is already blacklisted on chain" if listed else ""


@action_register
class Unblacklist(ComplianceProposalAction):
    name, label, function = "unblacklist", "Remove from blacklist", "removeBlackList"
    propose_label = "Propose unblacklist"
    expected_blacklisted = False

    def refusal(self, *, address: str, listed: bool, balance: int) -> str:
        return "" if listed else f"{address} is not blacklisted on chain"


@action_register
class DestroyFunds(ComplianceProposalAction):
    """Burns the whole balance of a blacklisted address; the proposer types that balance to confirm it."""

    name, label, function = "destroy_funds", "Destroy blacklisted funds", "destroyBlackFunds"
    propose_label, shows_balance = "Propose destroy funds", True
    fields = (ActionField("confirm_amount", "Type the balance to burn (tokens)", kind="tokens", required=True,
                          required_message="required to destroy funds: type the address's balance, in tokens",
                          help_text="Exactly the balance shown above: every token at this address is burned."),)

    def refusal(self, *, address: str, listed: bool, balance: int) -> str:
        if not listed:
            return f"{address} is not blacklisted on chain"
        return f"{address} holds no tokens: nothing to destroy" if balance == 0 else ""

    def clean(self, *, client: ChainClient, values: Mapping[str, Any]) -> dict[str, Any]:
        balance = int(values["balance"])
        try:
            confirmed = amount_parse(values.get("confirm_amount"), field="confirmation")
        except ValueError as exc:
            raise InvalidInput(f"type the balance to burn, {tokens_format(balance)}, to confirm ({exc})",
                               field="confirm_amount") from exc
        if confirmed != balance:
            raise InvalidInput(f"the confirmation {tokens_format(confirmed)} is not the balance to burn, "
                               f"{tokens_format(balance)}", field="confirm_amount")
        return {"address": values["address"], "balance_confirmed": confirmed}

    def summary(self, values: Mapping[str, Any]) -> dict[str, Any]:
        balance = int(values["balance_confirmed"])
        return {"balance": str(balance), "tokens": tokens_format(balance)}

    def display(self, *, transaction: MultisigTransaction | None, arguments: Mapping[str, Any]) -> dict[str, Any]:
        from .models import ComplianceProposal

        shown = super().display(transaction=transaction, arguments=arguments)
        proposal = ComplianceProposal.objects.filter(transaction_id=transaction.pk).first() if transaction else None
        if proposal is not None and proposal.balance_confirmed is not None:
            shown["tokens"] = tokens_format(int(proposal.balance_confirmed))
        return shown

    def describe(self, arguments: Mapping[str, Any]) -> str:
        return f"Destroy every token held by the blacklisted address {arguments['user']}"

    def guard(self, *, transaction: MultisigTransaction, client: ChainClient, arguments: Mapping[str, Any]) -> None:
        """The burn takes the balance at execution: it must still be the balance the officers confirmed
        (a blacklisted address can still receive, so more may have arrived since)."""
        from backoffice.multisig.services import GuardRefused

        from .models import ComplianceProposal

        proposal = ComplianceProposal.objects.filter(transaction=transaction).first()
        if proposal is None or proposal.balance_confirmed is None:
            raise GuardRefused("a destroy-funds transaction needs the balance its officers confirmed")
        balance = client.token_balance(deployment_get().token, str(arguments["user"]))
        if balance != int(proposal.balance_confirmed):
            raise GuardRefused(f"the balance is now {tokens_format(balance)}, the officers confirmed "
                               f"{tokens_format(int(proposal.balance_confirmed))}: propose again")
