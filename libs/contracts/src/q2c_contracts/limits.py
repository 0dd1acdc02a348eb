"""What SCM can hold (DOMAIN.md §5, docs/domain-limits.md): the range and scale of money and
quantities, the length of texts and the number of lines of a document. Every edge checks
these, and every domain checks them again (defence in depth), so a value one service let
through never makes another raise.

Everything here is context-free: no `Decimal` arithmetic (which rounds to 28 digits and may
signal) before a value is known to be in range. A problem is returned as a text, the value
named by the caller: `quantity must be above 0, got "0"`."""

import json
from decimal import Decimal, InvalidOperation
from typing import Any

MONEY_LIMIT = Decimal("922337203685477")  # SCM's AmountMST: a 64-bit integer of 1/10,000
MONEY_DECIMALS = 4
QUANTITY_LIMIT = Decimal("1000000000")
QUANTITY_DECIMALS = 5
TEXT_LIMITS = {"name": 300, "productid": 100, "description": 300}
DEFAULT_TEXT_LIMIT = 100  # every other text column
MAX_LINES = 1000  # lines of one document (quotation, order, invoice)
SHOWN = 40  # characters of a bad value quoted back in a text


def shown(value: object) -> str:
    """A value as JSON, cut short: a 900,000-character text is not sent back whole."""
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, Decimal) else f'"{value}"'
    return text if len(text) <= SHOWN else f"{text[:SHOWN]}…"


def decimal_places(amount: Decimal) -> int:
    """Significant decimals ("2.50000" has one), without rounding to a context."""
    _, digits, exponent = amount.as_tuple()
    if not isinstance(exponent, int) or not any(digits):
        return 0
    trailing = 0
    for digit in reversed(digits):
        if digit != 0:
            break
        trailing += 1
    return max(0, -(exponent + trailing))


def parse(value: object) -> Decimal | None:
    """A decimal from a JSON string (an int is taken too); None when it is not one."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    try:
        return Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None


def _number_problem(value: object) -> tuple[Decimal | None, str | None]:
    amount = parse(value)
    if amount is None:
        return None, f"must be a decimal string such as \"10.00\", got {shown(value)}"
    if not amount.is_finite():
        return None, f"must be a finite decimal, got {shown(value)}"
    return amount, None


def money_problem(value: object) -> str | None:
    """Why `value` is no amount SCM can hold, or None."""
    amount, problem = _number_problem(value)
    if amount is None:
        return problem
    if amount.copy_abs() > MONEY_LIMIT:
        return f"must be within ±{MONEY_LIMIT:,}, got {shown(value)}"
    if decimal_places(amount) > MONEY_DECIMALS:
        return f"must have at most {MONEY_DECIMALS} decimals, got {shown(value)}"
    return None


def quantity_problem(value: object) -> str | None:
    """Why `value` is no quantity SCM can hold, or None."""
    amount, problem = _number_problem(value)
    if amount is None:
        return problem
    if amount <= 0:
        return f"must be above 0, got {shown(value)}"
    if amount > QUANTITY_LIMIT:
        return f"must be at most {QUANTITY_LIMIT:,}, got {shown(value)}"
    if decimal_places(amount) > QUANTITY_DECIMALS:
        return f"must have at most {QUANTITY_DECIMALS} decimals, got {shown(value)}"
    return None


def text_limit(column: str) -> int:
    return TEXT_LIMITS.get(column, DEFAULT_TEXT_LIMIT)


def text_problem(value: str, limit: int) -> str | None:
    if len(value) > limit:
        return f"must be at most {limit:,} characters, got {len(value):,}"
    return nul_problem(value)


def nul_problem(value: str) -> str | None:
    """A text with U+0000 (NUL), which no text column holds (PostgreSQL rejects it in text
    and jsonb, so a service storing it would fail on every attempt)."""
    if "\x00" in value:
        return "must not contain the character U+0000 (NUL)"
    return None


def nul_paths(value: object, path: str = "") -> list[str]:
    """Where a JSON value holds U+0000, in a text or a name: `record.name`, `data.lines[0]`."""
    if isinstance(value, str):
        return [path] if "\x00" in value else []
    found: list[str] = []
    if isinstance(value, dict):
        for name, item in value.items():
            bad_name = "\x00" in str(name)
            shown_name = repr(name) if bad_name else str(name)
            inner = f"{path}.{shown_name}" if path else shown_name
            found += [inner] if bad_name else nul_paths(item, inner)
    elif isinstance(value, list):
        for n, item in enumerate(value):
            found += nul_paths(item, f"{path}[{n}]")
    return found


def lines_problem(count: int) -> str | None:
    if count > MAX_LINES:
        return f"must hold at most {MAX_LINES:,} lines, got {count:,}"
    return None


def line_objects(value: object, *, required: bool, shape: str = "lines",
                 item_shape: str = "") -> tuple[list[dict[str, Any]], str | None]:
    """A command's `data.lines`: a list of at most MAX_LINES objects (absent or empty only when
    not required), or what is wrong with it, as the `command.invalid` text."""
    if value is None and not required:
        return [], None
    if not isinstance(value, list) or (required and not value):
        return [], f"data.lines must be a {'non-empty ' if required else ''}list of {shape}"
    too_many = lines_problem(len(value))
    if too_many:
        return [], f"data.lines {too_many}"
    for n, item in enumerate(value, start=1):
        if not isinstance(item, dict):
            return [], f"data.lines[{n}] must be an object" + (f" {item_shape}" if item_shape else "")
    return value, None
