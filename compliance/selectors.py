from __future__ import annotations

from dataclasses import dataclass

from backoffice.chain.client import ChainClient
from backoffice.chain.selectors import deployment_get

from .models import FrozenAddress, ScreeningEntry


@dataclass(frozen=True)
class ScreeningHit:
    address: str
    balance: int  # base units
    lists: list[str]


def screening_hits(*, client: ChainClient) -> list[ScreeningHit]:
    """Listed addresses that hold tokens and are not blacklisted on chain: each needs a case."""
    token = deployment_get().token
    lists: dict[str, list[str]] = {}
    for address, list_name in ScreeningEntry.objects.values_list("address", "batch__list_name"):
        lists.setdefault(address, []).append(list_name)
    hits = []
    for address in sorted(lists):
        balance = client.token_balance(token, address)
        if balance > 0 and not client.token_is_blacklisted(token, address):
            hits.append(ScreeningHit(address=address, balance=balance, lists=sorted(set(lists[address]))))
    return hits


def register_entries() -> list[FrozenAddress]:
    return list(FrozenAddress.objects.select_related("case", "last_transaction").order_by("address"))


def compliance_actions_available(*, client: ChainClient, address: str) -> list[str]:
    """The registered compliance actions the chain state allows now (e.g. blacklist a free address;
    unblacklist a listed one, and destroy its funds if it holds any). The service checks again when
    one is proposed."""
    from backoffice.multisig.actions import actions_of
    from backoffice.multisig.models import MultisigRole

    from .actions import ComplianceProposalAction

    token = deployment_get().token
    listed = client.token_is_blacklisted(token, address)
    balance = client.token_balance(token, address) if listed else 0
    return [a.name for a in actions_of(MultisigRole.COMPLIANCE) if isinstance(a, ComplianceProposalAction)
            and not a.refusal(address=address, listed=listed, balance=balance)]
