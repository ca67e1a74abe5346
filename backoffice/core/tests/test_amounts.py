"""One decimal grammar for everything a person types: plain, or exactly as the pages show it."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from backoffice.core.amounts import UINT256_MAX, DecimalInvalid, amount_parse, decimal_parse, tokens_format


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("1234.5", Decimal("1234.5")),
        ("1,234.5", Decimal("1234.5")),
        ("250,000.000000", Decimal("250000.000000")),
        ("1,234,567", Decimal("1234567")),
        ("999", Decimal("999")),
        ("  42.10 ", Decimal("42.10")),
        ("-1,000.5", Decimal("-1000.5")),
        ("1,000,000.5", Decimal("1000000.5")),
        ("1 000 000.5", Decimal("1000000.5")),
        ("1\u00a0000\u00a0000.5", Decimal("1000000.5")),  # a no-break space, as spreadsheets copy it
        ("1\u202f000.25", Decimal("1000.25")),  # a narrow no-break space
        (" 12 345 ", Decimal("12345")),
        (".5", Decimal("0.5")),
        (Decimal("0.0000001"), Decimal("0.0000001")),  # already parsed (by the API): taken as it is
        (7, Decimal(7)),
    ],
)
def test_plain_and_displayed_decimals_are_read_as_meant(typed, expected):
    assert decimal_parse(typed, field="amount") == expected


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("1,5", "amount: '1,5': use a point for decimals (1.5), not a comma"),
        ("0,25", "use a point for decimals (0.25), not a comma"),
        ("1.234,5", "use a point for decimals (1234.5), not a comma"),
        ("1,2345.0", "amount: '1,2345.0' has misplaced thousands separators: a comma goes between groups of three"),
        ("1,00", "'1,00' is not a number: commas group thousands"),
        ("1 000,5", "amount: '1 000,5' mixes spaces and commas"),
        ("1,000 000", "mixes spaces and commas"),
        ("10 00", "amount: '10 00' is not a number: a space may only group thousands"),
        ("1.000 5", "a space may only group thousands"),
        ("1  000", "a space may only group thousands"),
        ("12,34,567", "has misplaced thousands separators"),
        ("1,,234", "has misplaced thousands separators"),
        ("abc", "amount: 'abc' is not a number; write digits with a point for decimals, e.g. 1234.5 or, as shown "
                "on the pages, 1,234.5"),
        ("NaN", "'NaN' is not a number"),
        ("Infinity", "'Infinity' is not a number"),
        ("1_000", "'1_000' is not a number"),
        ("١٢٣", "is not a number"),  # Arabic-Indic digits: a number to Decimal, not one a reviewer reads
        ("1e3", "amount: '1e3' has an exponent; write the number out in full"),
        ("", "amount: no number given"),
        ("   ", "amount: no number given"),
        ("1" * 121, "too long to be a number"),
        (1.5, "not as a floating-point number"),
        (True, "not as true or false"),
        (Decimal("NaN"), "is not a number"),
    ],
)
def test_what_is_not_a_decimal_is_refused_saying_what_to_type(typed, message):
    with pytest.raises(DecimalInvalid) as refused:
        decimal_parse(typed, field="amount")
    assert message in str(refused.value)
    assert refused.value.field == "amount" and str(refused.value) == f"amount: {refused.value.problem}"


def test_places_limits_the_decimals_whatever_the_form():
    assert decimal_parse("2,345.6700", field="price", places=4) == Decimal("2345.67")
    for typed in ("2,345.67001", "2345.67001", Decimal("2345.67001")):
        with pytest.raises(DecimalInvalid, match="price: '.*' has more than 4 decimals"):
            decimal_parse(typed, field="price", places=4)


def test_an_amount_is_accepted_exactly_as_tokens_format_shows_it():
    for base_units in (1, 999_999, 1_000_000, 1_234_500_000, 250_000_000_000, 10**30 + 7, UINT256_MAX):
        assert amount_parse(tokens_format(base_units)) == base_units


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("1,5", "confirmation: '1,5': use a point for decimals (1.5)"),
        ("1,2345.0", "confirmation: '1,2345.0' has misplaced thousands separators"),
        ("abc", "confirmation: 'abc' is not a number"),
        (1.5, "confirmation: give the number as a decimal string"),
        ("0", "confirmation: must be above zero"),
        ("-1,000", "confirmation: must be above zero"),
        ("1,000.0000001", "confirmation: '1,000.0000001' has more than 6 decimals (at most 6 decimals: "
                          "one base unit is 0.000001)"),
        ("1 000 000.0000001", "confirmation: '1 000 000.0000001' has more than 6 decimals"),
        (f"{UINT256_MAX // 10**6 + 1:,}", "confirmation: above the largest amount the token can hold (uint256)"),
    ],
)
def test_amount_parse_keeps_its_refusals_with_the_displayed_form(typed, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        amount_parse(typed, field="confirmation")


def test_thousands_grouped_by_commas_or_spaces_are_the_same_amount_in_forms_and_the_api():
    from rest_framework import serializers

    from backoffice.core.api import DecimalStringField

    for typed in ("1,000,000.5", "1 000 000.5", "1\u00a0000\u00a0000.500000", "1000000.5"):
        assert amount_parse(typed) == 1_000_000_500_000, typed
    field = DecimalStringField()
    field.bind("amount", serializers.Serializer())
    assert field.to_internal_value("1 000 000.5") == Decimal("1000000.5")
    with pytest.raises(serializers.ValidationError, match="'1,00' is not a number: commas group thousands"):
        field.to_internal_value("1,00")
