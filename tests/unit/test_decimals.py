"""Decimal amounts as the contract writes them (CONTRACT.md §0, DOMAIN.md §4): money and
quantities are JSON strings holding decimals, never floats; money is rounded half up to cents.

Expected values are written from the documents, not read from q2c_contracts.decimals.
"""

from decimal import Decimal

import pytest

from q2c_contracts.decimals import NotADecimal, money, parse_decimal, quantity

# --- parse_decimal: strings (and integers) in, floats and non-numbers out ------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("10.00", Decimal("10.00"), id="string-two-decimals"),
        pytest.param("3", Decimal("3"), id="string-integer"),
        pytest.param(3, Decimal("3"), id="int"),
        pytest.param(" 2.5 ", Decimal("2.5"), id="string-with-surrounding-spaces"),
        pytest.param("-0.01", Decimal("-0.01"), id="string-negative"),
        pytest.param("0", Decimal("0"), id="string-zero"),
    ],
)
def test_parse_decimal_accepts_decimal_strings_and_integers(value: object, expected: Decimal) -> None:
    result = parse_decimal(value, "data.quantity")

    assert isinstance(result, Decimal)
    assert result == expected
    # The exponent is kept: "10.00" stays two-decimal, it is not reduced to 10.
    assert str(result) == str(expected)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(1.5, id="float"),
        pytest.param(10.0, id="float-integral"),
        pytest.param(True, id="bool-true"),
        pytest.param(False, id="bool-false"),
        pytest.param(None, id="none"),
        pytest.param("abc", id="not-a-number"),
        pytest.param("", id="empty-string"),
        pytest.param("1,5", id="decimal-comma"),
        pytest.param("NaN", id="nan"),
        pytest.param("Infinity", id="infinity"),
        pytest.param("-Infinity", id="minus-infinity"),
        pytest.param(["1"], id="list"),
    ],
)
def test_parse_decimal_refuses_floats_and_non_decimals(value: object) -> None:
    with pytest.raises(NotADecimal, match=r"data\.unit_price"):
        parse_decimal(value, "data.unit_price")


def test_not_a_decimal_is_a_value_error() -> None:
    assert issubclass(NotADecimal, ValueError)


# --- money: two decimals, half up ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        pytest.param("3.335", "3.34", id="half-up"),
        pytest.param("-0.005", "-0.01", id="negative-half-away-from-zero"),
        pytest.param("-0.004", "0.00", id="negative-rounding-to-zero-has-no-sign"),
        pytest.param("-0", "0.00", id="negative-zero-has-no-sign"),
        pytest.param("-3.335", "-3.34", id="negative-half-up"),
        pytest.param("10", "10.00", id="integer-padded"),
        pytest.param("2.5", "2.50", id="one-decimal-padded"),
        pytest.param("2.675", "2.68", id="half-up-not-float-binary"),
        pytest.param("3.334", "3.33", id="below-half-down"),
        pytest.param("0.004", "0.00", id="tiny-to-zero"),
        pytest.param("1490.00", "1490.00", id="already-cents"),
        pytest.param("-0.01", "-0.01", id="contract-charge"),
    ],
)
def test_money_rounds_half_up_to_two_decimals(amount: str, expected: str) -> None:
    assert money(Decimal(amount)) == expected


# --- quantity: as few digits as needed -------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        pytest.param("3.000", "3", id="trailing-zeros-dropped"),
        pytest.param("3", "3", id="integer"),
        pytest.param("2.50", "2.5", id="one-trailing-zero-dropped"),
        pytest.param("0.10", "0.1", id="below-one"),
        pytest.param("-0", "0", id="negative-zero"),
        pytest.param("-0.000", "0", id="negative-zero-with-decimals"),
        pytest.param("0.000", "0", id="zero-with-decimals"),
        pytest.param("100.00", "100", id="no-exponent-for-round-hundreds"),
        pytest.param("1E+3", "1000", id="exponent-input-written-plain"),
        pytest.param("0.125", "0.125", id="three-decimals-kept"),
    ],
)
def test_quantity_is_the_minimal_decimal_string(amount: str, expected: str) -> None:
    assert quantity(Decimal(amount)) == expected
