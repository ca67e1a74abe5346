"""Rules the broadcaster applies right before it signs (settings.MULTISIG_GUARDS)."""

from __future__ import annotations

from backoffice.chain.client import ChainClient
from backoffice.chain.selectors import deployment_get
from backoffice.core.amounts import tokens_format
from backoffice.multisig.models import MultisigRole, MultisigTransaction
from backoffice.multisig.services import GuardRefused

from .models import ComplianceProposal


def destroy_guard(*, transaction: MultisigTransaction, client: ChainClient) -> None:
    """Destroy funds burns the balance at execution: it must still be the balance the officers saw and
    confirmed. A blacklisted address can still receive, so more may have arrived since."""
    if transaction.multisig != MultisigRole.COMPLIANCE or transaction.decoded.get("function") != "destroyBlackFunds":
        return
    proposal = ComplianceProposal.objects.filter(transaction=transaction).first()
    if proposal is None or proposal.balance_confirmed is None:
        raise GuardRefused("a destroy-funds transaction needs the balance its officers confirmed")
    balance = client.token_balance(deployment_get().token, proposal.address)
    if balance != int(proposal.balance_confirmed):
        raise GuardRefused(f"the balance is now {tokens_format(balance)}, the officers confirmed "
                           f"{tokens_format(int(proposal.balance_confirmed))}: propose again")
