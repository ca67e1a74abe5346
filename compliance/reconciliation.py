"""Compliance's reconciliation check (registered in settings.RECONCILIATION_CHECKS): the frozen-address
register says exactly which addresses are blacklisted on chain."""

from __future__ import annotations

from backoffice.chain.client import ChainClient
from backoffice.chain.models import ChainEvent, ContractRole
from backoffice.chain.selectors import deployment_get
from backoffice.multisig.reconciliation import Check

from .models import FrozenAddress


def register_check(*, client: ChainClient, block: int) -> list[Check]:
    """Every register row and every address the indexed events ever blacklisted is read with
    `isBlackListed` at `block`; the register's expectation must equal it for each."""
    d = deployment_get()
    expected = dict(FrozenAddress.objects.values_list("address", "expected_blacklisted"))
    touched = ChainEvent.objects.filter(chain_id=d.chain_id, role=ContractRole.TOKEN, block_number__lte=block,
                                        name__in=["AddedBlackList", "RemovedBlackList"]).values_list("args", flat=True)
    addresses = sorted(set(expected) | {str(args.get("_user")) for args in touched if args.get("_user")})
    actual = {a: client.token_is_blacklisted(d.token, a, block=block) for a in addresses}
    wrong = {a: {"register": expected.get(a, False), "on_chain": actual[a]} for a in addresses
             if expected.get(a, False) != actual[a]}
    return [Check("frozen-address register equals isBlackListed on chain", not wrong,
                  {"blacklisted": sorted(a for a, v in expected.items() if v)},
                  {"blacklisted": sorted(a for a, v in actual.items() if v), "differences": wrong})]
