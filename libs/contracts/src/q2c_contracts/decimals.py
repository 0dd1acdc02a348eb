"""Decimal amounts as the contract writes them: JSON strings, never floats (CONTRACT.md §0).
Shared by every service that reads or writes amounts, so all write them alike."""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")


class NotADecimal(ValueError):
    pass


def parse_decimal(value: object, what: str) -> Decimal:
    """A decimal from a JSON string (or an integer); floats are refused, as they are not exact."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise NotADecimal(f"{what} must be a decimal string such as \"10.00\", got {value!r}")
    try:
        result = Decimal(str(value).strip())
    except InvalidOperation:
        raise NotADecimal(f"{what} must be a decimal string such as \"10.00\", got {value!r}") from None
    if not result.is_finite():
        raise NotADecimal(f"{what} must be a finite decimal, got {value!r}")
    return result


def round_money(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def money(amount: Decimal) -> str:
    """Two decimals: "1490.00"; never "-0.00"."""
    rounded = round_money(amount)
    return str(rounded if rounded else rounded.copy_abs())


def quantity(amount: Decimal) -> str:
    """As few digits as it needs: "3", "2.5"."""
    text = format(amount.normalize(), "f")
    return text if text != "-0" else "0"


def line_amount(qty: Decimal, unit_price: Decimal, per_unit_discount: Decimal, charges: Decimal) -> Decimal:
    """LINEAMOUNT (DOMAIN.md §4), the same for quotation, order and invoice pricing:
    qty × (price − per-unit discount) + charges, 3 × (500.00 − 3.33) − 0.01 = 1490.00."""
    return round_money(qty * (unit_price - per_unit_discount) + charges)
