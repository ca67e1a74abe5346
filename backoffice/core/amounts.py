"""Token amounts and other decimals: parsed from what people type, shown as people read them.

One grammar for every typed decimal (token amounts, confirmations, the gold price): plain ("1234.5"),
as this system shows it ("1,234.500000": groups of three digits separated by commas) or grouped with
spaces as many people and spreadsheets write it ("1 234.5", also with a no-break or thin space). One
number uses one kind of separator. Anything else is refused with a message that says what to type
instead. Token amounts are integers underneath.
"""

from __future__ import annotations

import re
from decimal import Decimal, localcontext

TOKEN_DECIMALS = 6
TOKEN_UNIT = 10**TOKEN_DECIMALS
UINT256_MAX = 2**256 - 1

# ASCII digits only: "١٢٣" is a number to Decimal, but not one a reviewer could check by eye.
_WHOLE = r"(?:[0-9]+|[0-9]{1,3}(?:,[0-9]{3})+|[0-9]{1,3}(?: [0-9]{3})+)"
DISPLAYED_DECIMAL = re.compile(rf"[+-]?(?:{_WHOLE}(?:\.[0-9]*)?|\.[0-9]+)")
_EXAMPLES = "e.g. 1234.5 or, as shown on the pages, 1,234.5"
# Spaces people and spreadsheets put between groups of three digits: read as one plain space.
_GROUP_SPACES = str.maketrans({"\u00a0": " ", "\u202f": " ", "\u2009": " "})
_MAX_LENGTH = 120  # the largest token amount, shown with its separators, is 102 characters


class DecimalInvalid(ValueError):
    """A typed decimal was refused; `problem` is the message without the field's name."""

    def __init__(self, field: str, problem: str) -> None:
        self.field, self.problem = field, problem
        super().__init__(f"{field}: {problem}")


def decimal_parse(value: object, *, field: str, places: int | None = None) -> Decimal:
    """The Decimal a person meant by `value`: "1234.5", "1,234.5" and "1,234.500000" are all 1234.5.

    An int or a Decimal (already parsed, e.g. by the API) is taken as it is. Refuses floats and
    booleans, exponents, NaN and infinities, a comma that is not a thousands separator ("1,5" is
    a European decimal comma, "1,2345.0" a misplaced separator), and more than `places` decimals.
    Sign and range are the caller's to judge: their refusals say what the number is for.
    """
    if isinstance(value, float | bool):
        kind = "a floating-point number" if isinstance(value, float) else "true or false"
        raise DecimalInvalid(field, f'give the number as a decimal string ("1234.5"), not as {kind}')
    if isinstance(value, Decimal | int):
        number = Decimal(value)
        if not number.is_finite():
            raise DecimalInvalid(field, f"'{value}' is not a number")
    else:
        number = _text_parse(str(value), field)
    if places is not None and number.as_tuple().exponent < -places:  # type: ignore[operator]
        raise DecimalInvalid(field, f"'{_shown(value)}' has more than {places} decimals")
    return number


def _shown(value: object) -> str:
    text = str(value)
    return text if len(text) <= 40 else text[:40] + "..."


def _text_parse(raw: str, field: str) -> Decimal:
    text = raw.translate(_GROUP_SPACES).strip()
    if not text:
        raise DecimalInvalid(field, f"no number given; type one, {_EXAMPLES}")
    if len(text) > _MAX_LENGTH:
        raise DecimalInvalid(field, "too long to be a number")
    if DISPLAYED_DECIMAL.fullmatch(text):
        return Decimal(text.replace(",", "").replace(" ", ""))
    shown = _shown(text)
    if " " in text:
        if "," in text:
            raise DecimalInvalid(field, f"'{shown}' mixes spaces and commas: group thousands with one of them, "
                                        f"as in 1,234,567.5 or 1 234 567.5")
        raise DecimalInvalid(field, f"'{shown}' is not a number: a space may only group thousands (three digits "
                                    f"each, as in 1 234 567.5), never split the decimals")
    if "," in text:
        whole, point, decimals = text.partition(".")
        if "," in decimals or (not point and len(whole.rsplit(",", 1)[1]) != 3):
            # "1,5", "0,25", "1.234,5": the comma is meant as a decimal point.
            meant = text.replace(".", "").replace(",", ".")
            hint = f" ({meant})" if text.count(",") == 1 and DISPLAYED_DECIMAL.fullmatch(meant) else ""
            raise DecimalInvalid(field, f"'{shown}': use a point for decimals{hint}, not a comma; '{shown}' is not "
                                        f"a number: commas group thousands, as in 1,234.5")
        raise DecimalInvalid(field, f"'{shown}' has misplaced thousands separators: a comma goes between groups of "
                                    f"three digits, as in 12,345.5, or leave them out, 12345.5")
    if re.fullmatch(r"[+-]?[0-9.]*[0-9][eE][+-]?[0-9]+", text):
        raise DecimalInvalid(field, f"'{shown}' has an exponent; write the number out in full, {_EXAMPLES}")
    raise DecimalInvalid(field, f"'{shown}' is not a number; write digits with a point for decimals, {_EXAMPLES}")


def amount_parse(value: object, *, field: str = "amount") -> int:
    """Base units of a token amount given in tokens ("1250.5", or as shown, "1,250.500000").

    Refuses what `decimal_parse` refuses (floats, non-numbers, misplaced separators), zero,
    negatives, more than 6 decimals and anything above uint256.
    """
    tokens = decimal_parse(value, field=field)
    if tokens <= 0:
        raise ValueError(f"{field}: must be above zero")
    if tokens.as_tuple().exponent < -TOKEN_DECIMALS:  # type: ignore[operator]
        raise ValueError(f"{field}: '{_shown(value)}' has more than {TOKEN_DECIMALS} decimals (at most "
                         f"{TOKEN_DECIMALS} decimals: one base unit is 0.000001)")
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
