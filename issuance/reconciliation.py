"""Issuance's reconciliation check (registered in settings.RECONCILIATION_CHECKS): the supply on
chain stays within the audited reserve's value divided by the collateral ratio."""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal, localcontext

from django.conf import settings

from backoffice.chain.client import ChainClient
from backoffice.chain.selectors import deployment_get
from backoffice.core.amounts import TOKEN_UNIT
from backoffice.multisig.reconciliation import Check

from .selectors import _oz, bars_audited, gold_price_latest


def reserve_check(*, client: ChainClient, block: int) -> list[Check]:
    supply = client.token_total_supply(deployment_get().token, block=block)
    price = gold_price_latest()
    oz = _oz(bars_audited())
    with localcontext() as ctx:
        ctx.prec = 80
        value = oz * price.usd_per_oz if price else oz * 0
        backed = int((value * TOKEN_UNIT / settings.COLLATERAL_RATIO).to_integral_value(ROUND_FLOOR))
    expected = {"at_most": str(backed), "audited_oz": str(oz), "usd_per_oz": str(price.usd_per_oz) if price else None,
                "collateral_ratio": str(settings.COLLATERAL_RATIO)}
    return [Check("supply within the audited reserve / collateral ratio", supply <= backed, expected,
                  {"supply": str(supply)})]


def coverage_check(*, client: ChainClient, block: int) -> list[Check]:
    """The audited reserve's value covers at least GOLD_COVERAGE_FLOOR of the supply (value / supply);
    below it the check fails (an alert) and issues are refused (issuance/actions.py)."""
    supply = client.token_total_supply(deployment_get().token, block=block)
    price = gold_price_latest()
    oz = _oz(bars_audited())
    floor = settings.GOLD_COVERAGE_FLOOR
    with localcontext() as ctx:
        ctx.prec = 80
        value = oz * price.usd_per_oz if price else oz * 0
        coverage = value * TOKEN_UNIT / supply if supply else None
    expected = {"coverage_at_least": str(floor), "audited_oz": str(oz),
                "usd_per_oz": str(price.usd_per_oz) if price else None}
    return [Check("reserve value covers the supply at least at the coverage floor",
                  coverage is None or coverage >= floor, expected,
                  {"supply": str(supply), "value_usd": str(value),
                   "coverage": None if coverage is None else str(coverage.quantize(Decimal("0.000001")))})]
