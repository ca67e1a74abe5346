"""Token amounts: parsed from what people type, shown as people read them. Integers underneath."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation, localcontext

TOKEN_DECIMALS = 6
TOKEN_UNIT = 10**TOKEN_DECIMALS
UINT256_MAX = 2**256 - 1


def amount_parse(value: object, *, field: str = "amount") -> int:
    """Base units of a token amount given in tokens ("1250.5"), with at most 6 decimals.

    Refuses floats (binary fractions cannot say 0.1 exactly), non-numbers, zero, negatives, more
    than 6 decimals and anything above uint256.
    """
    if isinstance(value, float) or isinstance(value, bool):
        raise ValueError(f"{field}: give the amount as a decimal string, not a floating-point number")
    text = str(value).strip().replace("_", "")
    if len(text) > 100:
        raise ValueError(f"{field}: too long to be an amount")
    try:
        tokens = Decimal(text)
    except InvalidOperation as exc:
        raise ValueError(f"{field}: '{value}' is not a number") from exc
    if not tokens.is_finite():
        raise ValueError(f"{field}: '{value}' is not a number")
    if tokens <= 0:
        raise ValueError(f"{field}: must be above zero")
    if tokens.as_tuple().exponent < -TOKEN_DECIMALS:  # type: ignore[operator]
        raise ValueError(f"{field}: at most {TOKEN_DECIMALS} decimals (one base unit is 0.000001)")
    with localcontext() as ctx:
        ctx.prec = 120  # exact for every uint256 value: the default 28 digits would round
        base_units = int(tokens.scaleb(TOKEN_DECIMALS))
    if base_units > UINT256_MAX:
        raise ValueError(f"{field}: above the largest amount the token can hold (uint256)")
    return base_units


def tokens_format(base_units: int) -> str:
    """'1,234.500000' for 1234500000 base units: exact, with all six decimals."""
    sign = "-" if base_units < 0 else ""
    whole, fraction = divmod(abs(base_units), TOKEN_UNIT)
    return f"{sign}{whole:,}.{fraction:0{TOKEN_DECIMALS}d}"
