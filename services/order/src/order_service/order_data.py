"""Reading command data (CONTRACT.md §4.1; DOMAIN.md §5 value limits): texts, decimal strings
and sequence numbers, each failure an `InvalidCommand` whose text names the field."""

from decimal import Decimal
from typing import Any

from q2c_contracts import limits
from q2c_contracts.decimals import NotADecimal, parse_decimal

from .domain import InvalidCommand

MONEY_LIMIT = limits.MONEY_LIMIT
QUANTITY_LIMIT = limits.QUANTITY_LIMIT
TEXT_LIMITS = {"name": 300}  # every other text column holds 100 characters (DOMAIN.md §5)
DEFAULT_TEXT_LIMIT = limits.DEFAULT_TEXT_LIMIT


def required_text(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise InvalidCommand(f"data.{key} is required: a non-empty text")
    return _within_limit(key, value)


def optional_text(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidCommand(f"data.{key} must be a text")
    return _within_limit(key, value) if value.strip() else None


def _within_limit(key: str, value: str) -> str:
    limit = TEXT_LIMITS.get(key, DEFAULT_TEXT_LIMIT)
    if len(value) > limit:
        raise InvalidCommand(f"data.{key} is longer than {limit} characters")
    problem = limits.nul_problem(value)
    if problem is not None:
        raise InvalidCommand(f"data.{key} {problem}")
    return value


def sequence_number(data: dict[str, Any], where: str = "data") -> int:
    value = data.get("sequence_number")
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidCommand(f"{where}.sequence_number must be a positive integer, got {value!r}")
    return value


def money_value(value: object, what: str) -> Decimal:
    amount = _decimal(value, what)
    if amount.copy_abs() > MONEY_LIMIT or _decimals(amount) > 4:
        raise InvalidCommand(f"{what} must be within ±{MONEY_LIMIT} with at most 4 decimals, got {value!r}")
    return amount


def quantity_value(value: object, what: str) -> Decimal:
    amount = _decimal(value, what)
    if amount <= 0:
        raise InvalidCommand(f"{what} must be greater than zero, got {value!r}")
    if amount > QUANTITY_LIMIT or _decimals(amount) > 5:
        raise InvalidCommand(f"{what} must be at most {QUANTITY_LIMIT} with at most 5 decimals, got {value!r}")
    return amount


def _decimal(value: object, what: str) -> Decimal:
    try:
        return parse_decimal(value, what)
    except NotADecimal as exc:
        raise InvalidCommand(str(exc)) from None


def _decimals(amount: Decimal) -> int:
    exponent = amount.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def quantity_lines(data: dict[str, Any]) -> list[tuple[int, Decimal]]:
    """`lines: [{sequence_number, quantity}]` of a packing slip or an invoice, in order."""
    lines, problem = limits.line_objects(data.get("lines"), required=True, shape="{sequence_number, quantity}")
    if problem:
        raise InvalidCommand(problem)
    result: list[tuple[int, Decimal]] = []
    for n, entry in enumerate(lines, start=1):
        where = f"data.lines[{n}]"
        sequence = sequence_number(entry, where)
        if any(sequence == seen for seen, _ in result):
            raise InvalidCommand(f"data.lines names line {sequence} more than once")
        result.append((sequence, quantity_value(entry.get("quantity"), f"{where}.quantity")))
    return result
