"""The published figures as exact strings: the one formatting shared by the page and the JSON API.

Decimals and big integers are strings so no JSON reader turns them into floats. The page shows the
same strings with thousands separators (and the exact string in a `data-value` attribute), so the
two can never disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal
from typing import Any

from ..models import Audit, ReserveSnapshot
from ..selectors import TOKEN_UNIT
from .selectors import PublicReserve

OZ_QUANTUM = Decimal("0.001")
# USD at the token's own resolution (1 base unit = 0.000001 USD), cut so a value is never overstated.
USD_QUANTUM = Decimal("0.000001")
CENT = Decimal("0.01")
RATIO_QUANTUM = Decimal("0.0001")


def tokens_str(base_units: int) -> str:
    """Base units as tokens with exactly 6 decimals, by integer arithmetic: 1250000000 -> "1250.000000"."""
    sign = "-" if base_units < 0 else ""
    whole, fraction = divmod(abs(base_units), TOKEN_UNIT)
    return f"{sign}{whole}.{fraction:06d}"


def oz_str(oz: Decimal) -> str:
    return f"{oz.quantize(OZ_QUANTUM, rounding=ROUND_DOWN):f}"


def usd_str(usd: Decimal) -> str:
    return f"{usd.quantize(USD_QUANTUM, rounding=ROUND_DOWN):f}"


def coverage_ratio(*, value_usd: Decimal, supply: int) -> Decimal | None:
    """Reserve value per token in circulation (1.0000 = exactly backed), cut to 4 decimals; None at zero supply."""
    if supply <= 0:
        return None
    return (value_usd * TOKEN_UNIT / supply).quantize(RATIO_QUANTUM, rounding=ROUND_DOWN)


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def reserve_figures(public: PublicReserve) -> dict[str, Any]:
    """The live figures (gold, price, value, supply, headroom) as published."""
    reserve, price = public.reserve, public.reserve.price
    coverage = coverage_ratio(value_usd=reserve.value_usd, supply=reserve.total_supply)
    return {
        "chain_id": public.chain_id,
        "token_address": public.token,
        "block_number": reserve.block_number,
        "total_supply_base_units": str(reserve.total_supply),
        "total_supply": tokens_str(reserve.total_supply),
        "audited_fine_oz": oz_str(reserve.audited_oz),
        "pending_fine_oz": oz_str(reserve.pending_oz),
        "gold_price": None if price is None else {
            "usd_per_oz": f"{price.usd_per_oz:f}", "source": price.source, "as_of": _utc(price.as_of),
        },
        "reserve_value_usd": usd_str(reserve.value_usd),
        "collateral_ratio": f"{reserve.collateral_ratio:f}",
        "coverage_ratio": None if coverage is None else f"{coverage:f}",
        "pending_issue_base_units": str(reserve.pending_issue),
        "headroom_base_units": str(reserve.headroom),
        "headroom": tokens_str(reserve.headroom),
    }


def audit_figures(audit: Audit | None) -> dict[str, str] | None:
    if audit is None:
        return None
    auditor = audit.auditor.get_full_name() or audit.auditor.get_username()
    return {"as_of": audit.as_of.isoformat(), "vault": audit.vault.name, "firm": audit.firm, "auditor": auditor,
            "report_sha256": audit.report_sha256}


def history_figures(snapshots: Sequence[ReserveSnapshot]) -> list[dict[str, Any]]:
    return [
        {
            "taken_at": _utc(s.taken_at),
            "block_number": s.block_number,
            "audited_fine_oz": oz_str(s.audited_oz),
            "pending_fine_oz": oz_str(s.pending_oz),
            "usd_per_oz": None if s.usd_per_oz is None else f"{s.usd_per_oz:f}",
            "reserve_value_usd": usd_str(s.value_usd),
            "total_supply_base_units": str(int(s.total_supply)),
            "total_supply": tokens_str(int(s.total_supply)),
        }
        for s in snapshots
    ]


def grouped(number: str) -> str:
    """Thousands separators in the whole part of a plain decimal string: "1250.5" -> "1,250.5"."""
    sign, digits = ("-", number[1:]) if number.startswith("-") else ("", number)
    whole, dot, fraction = digits.partition(".")
    return f"{sign}{int(whole):,}{dot}{fraction}"


def reserve_display(figures: dict[str, Any]) -> dict[str, str]:
    """The live figures as people read them; the exact strings stay in `figures`."""
    price = figures["gold_price"]
    value = Decimal(figures["reserve_value_usd"]).quantize(CENT, rounding=ROUND_DOWN)
    coverage = figures["coverage_ratio"]
    return {
        "total_supply": grouped(figures["total_supply"]),
        "audited_fine_oz": grouped(figures["audited_fine_oz"]),
        "pending_fine_oz": grouped(figures["pending_fine_oz"]),
        "gold_price": grouped(price["usd_per_oz"]) if price else "",
        "gold_price_as_of": datetime.fromisoformat(price["as_of"]).strftime("%Y-%m-%d %H:%M UTC") if price else "",
        "reserve_value_usd": grouped(f"{value:f}"),
        "collateral_ratio": f"{(Decimal(figures['collateral_ratio']) * 100).normalize():f} %",
        "coverage_ratio": "" if coverage is None else grouped(f"{Decimal(coverage) * 100:.2f}") + " %",
        "headroom": grouped(figures["headroom"]),
        "block_number": f"{figures['block_number']:,}",
    }
