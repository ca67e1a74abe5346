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
    """The actions the chain state allows now: blacklist a free address; unblacklist a listed one,
    and destroy its funds if it holds any. The service checks again when one is proposed."""
    from .models import ComplianceAction

    token = deployment_get().token
    if not client.token_is_blacklisted(token, address):
        return [ComplianceAction.BLACKLIST.value]
    actions = [ComplianceAction.UNBLACKLIST.value]
    if client.token_balance(token, address) > 0:
        actions.append(ComplianceAction.DESTROY_FUNDS.value)
    return actions
