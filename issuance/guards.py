"""Rules the broadcaster applies right before it signs (settings.MULTISIG_GUARDS)."""

from __future__ import annotations

from backoffice.chain.client import ChainClient
from backoffice.multisig.models import MultisigRole, MultisigTransaction
from backoffice.multisig.services import GuardRefused

from .selectors import headroom_refusal, reserve_get


def issue_guard(*, transaction: MultisigTransaction, client: ChainClient) -> None:
    """An issue must still fit the headroom with supply re-read from the chain now, not counting
    itself among the pending issues."""
    if transaction.multisig != MultisigRole.ISSUANCE:
        return
    # The calldata, not the human-readable `decoded`, says what will run: trust only what is signed.
    function, arguments = client.token_call_decode(bytes(transaction.data))
    if function != "issue":
        return
    amount = int(arguments["amount"])
    reserve = reserve_get(client=client, exclude_transaction_id=transaction.pk,
                          exclude_proposal_id=transaction.decoded.get("proposal"))
    refusal = headroom_refusal(reserve, amount)
    if refusal:
        raise GuardRefused(refusal)
