"""Invoices in SCM (DOMAIN.md §4, §8; docs/orders-and-invoices.md "The invoice service"):
what an `invoice.post` and an `invoice.post-free-text` must carry, how an approved order
line is priced, the invoice and its snapshot in data-entity names. Pure: no I/O."""

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from q2c_contracts import limits, refusals
from q2c_contracts.decimals import NotADecimal, money, parse_decimal, quantity, round_money
from q2c_contracts.invoice import InvoiceLineSnapshot, InvoiceSnapshot
from q2c_contracts.order import InvoicingLine

COMMAND_INVALID = refusals.COMMAND_INVALID

# The contract's value ranges for SCM-held decimals (DOMAIN.md §5).
MAX_QUANTITY = limits.QUANTITY_LIMIT
QUANTITY_DECIMALS = limits.QUANTITY_DECIMALS
MAX_MONEY = limits.MONEY_LIMIT
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class InvalidCommand(ValueError):
    """The command's data is wrong: answered with `command.invalid` and this text."""


# --- what the commands carry ---------------------------------------------------------------------

@dataclass(frozen=True)
class PostLine:
    sequence: int
    quantity: Decimal


@dataclass(frozen=True)
class Post:
    """A valid `invoice.post`: the quantities to invoice of an order's lines."""

    sales_order_number: str
    lines: tuple[PostLine, ...]
    invoice_date: str  # YYYY-MM-DD


@dataclass(frozen=True)
class FreeTextLine:
    description: str
    ledger_account: str
    amount: Decimal


@dataclass(frozen=True)
class FreeText:
    """A valid `invoice.post-free-text`: an invoice without a sales order."""

    customer: str
    currency: str
    lines: tuple[FreeTextLine, ...]
    invoice_date: str


def parse_post(data: dict[str, Any], today: date) -> Post:
    order = _required_text(data, "sales_order_number")
    items = _line_items(data, "{sequence_number, quantity}")
    lines: list[PostLine] = []
    for n, item in enumerate(items, start=1):
        sequence = item.get("sequence_number")
        if isinstance(sequence, bool) or not isinstance(sequence, int) or sequence < 1:
            raise InvalidCommand(f"data.lines[{n}].sequence_number must be a positive integer, got {sequence!r}")
        if any(line.sequence == sequence for line in lines):
            # One line, one quantity: a post naming it twice is ambiguous, not additive.
            raise InvalidCommand(f"data.lines[{n}].sequence_number: line {sequence} is named twice")
        lines.append(PostLine(sequence, _quantity(item.get("quantity"), f"data.lines[{n}].quantity")))
    return Post(order, tuple(lines), _invoice_date(data, today))


def parse_free_text(data: dict[str, Any], today: date) -> FreeText:
    customer = _required_text(data, "customer_account")
    currency = _required_text(data, "currency")
    items = _line_items(data, "{description, ledger_account, amount}")
    lines = tuple(
        FreeTextLine(
            description=_required_text(item, "description", f"data.lines[{n}]."),
            ledger_account=_required_text(item, "ledger_account", f"data.lines[{n}]."),
            amount=_amount(item.get("amount"), f"data.lines[{n}].amount"),
        )
        for n, item in enumerate(items, start=1)
    )
    total = sum((line.amount for line in lines), Decimal("0"))
    if total.copy_abs() > MAX_MONEY:
        raise InvalidCommand(f"the invoice total must be within ±{MAX_MONEY:,}, got {money(total)}")
    return FreeText(customer, currency, lines, _invoice_date(data, today))


def _line_items(data: dict[str, Any], shape: str) -> list[dict[str, Any]]:
    items, problem = limits.line_objects(data.get("lines"), required=True, shape=shape, item_shape=shape)
    if problem:
        raise InvalidCommand(problem)
    return items


def _required_text(data: dict[str, Any], key: str, where: str = "data.") -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise InvalidCommand(f"{where}{key} is required: a non-empty text")
    problem = limits.text_problem(value, limits.text_limit(key))  # DOMAIN.md §5
    if problem is not None:
        raise InvalidCommand(f"{where}{key} {problem}")
    return value


def _quantity(value: object, what: str) -> Decimal:
    try:
        amount = parse_decimal(value, what)
    except NotADecimal as exc:
        raise InvalidCommand(str(exc)) from None
    if amount <= 0:
        raise InvalidCommand(f"{what} must be greater than zero, got {value!r}")
    if amount > MAX_QUANTITY or _decimal_places(amount) > QUANTITY_DECIMALS:
        raise InvalidCommand(f"{what} must be at most {MAX_QUANTITY} with at most {QUANTITY_DECIMALS} decimals, "
                             f"got {value!r}")
    return amount


def _decimal_places(amount: Decimal) -> int:
    """Significant decimals: "2.50000" has one (counted without rounding to a context)."""
    return limits.decimal_places(amount)


def _amount(value: object, what: str) -> Decimal:
    try:
        amount = parse_decimal(value, what)
    except NotADecimal as exc:
        raise InvalidCommand(str(exc)) from None
    # Cents only: an amount the invoice would have to round is not the amount the user gave.
    # copy_abs and the order of the tests: no context arithmetic on a value beyond the range
    if amount.copy_abs() > MAX_MONEY or limits.decimal_places(amount) > 2:
        raise InvalidCommand(f"{what} must be an amount of at most {MAX_MONEY} with at most 2 decimals, "
                             f"got {value!r}")
    return amount


def _invoice_date(data: dict[str, Any], today: date) -> str:
    value = data.get("invoice_date")
    if value is None:
        return today.isoformat()
    if isinstance(value, str) and _DATE.match(value):
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            pass
    raise InvalidCommand(f"data.invoice_date must be a date YYYY-MM-DD, got {value!r}")


# --- the invoice ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class InvoiceLine:
    sequence: int
    quantity: Decimal
    price: Decimal
    amount: Decimal
    product: str | None = None  # a sales-order line
    description: str | None = None  # a free-text line
    ledger_account: str | None = None


@dataclass(frozen=True)
class Invoice:
    number: str
    sales_order_number: str | None  # None: free text
    customer: str
    currency: str
    invoice_date: str
    lines: tuple[InvoiceLine, ...]

    @property
    def total(self) -> Decimal:
        """TOTALINVOICEAMOUNT: the sum of the line amounts (no tax, no header charges in v2)."""
        return sum((line.amount for line in self.lines), Decimal("0"))


def format_number(prefix: str, value: int) -> str:
    return f"{prefix}{value:06d}"


def line_amount(line: InvoicingLine, invoiced_so_far: Decimal) -> Decimal:
    """DOMAIN.md §8: the order line's LINEAMOUNT × quantity / ordered, rounded half up to
    cents; the post that completes the line takes what is left of LINEAMOUNT, so a line's
    invoices add up to it to the cent whatever the rounding of the earlier ones."""
    total = parse_decimal(line.line_amount, "line_amount")
    if line.completes_line:
        return total - invoiced_so_far
    ordered = parse_decimal(line.ordered_quantity, "ordered_quantity")
    return round_money(total * parse_decimal(line.quantity, "quantity") / ordered)


def order_invoice(number: str, post: Post, customer: str, currency: str, approved: list[InvoicingLine],
                  invoiced_so_far: dict[int, Decimal]) -> Invoice:
    """The invoice of an approved post; `invoiced_so_far` is each order line's invoiced money."""
    lines = tuple(
        InvoiceLine(
            sequence=line.sequence_number,
            product=line.product_number,
            quantity=parse_decimal(line.quantity, "quantity"),
            price=parse_decimal(line.unit_price, "unit_price"),
            amount=line_amount(line, invoiced_so_far.get(line.sequence_number, Decimal("0"))),
        )
        for line in sorted(approved, key=lambda x: x.sequence_number)
    )
    return Invoice(number, post.sales_order_number, customer, currency, post.invoice_date, lines)


def free_text_invoice(number: str, free_text: FreeText) -> Invoice:
    """Lines numbered 1..n in the order given; quantity 1 and price = amount (DOMAIN.md §8)."""
    lines = tuple(
        InvoiceLine(sequence=n, quantity=Decimal("1"), price=line.amount, amount=line.amount,
                    description=line.description, ledger_account=line.ledger_account)
        for n, line in enumerate(free_text.lines, start=1)
    )
    return Invoice(number, None, free_text.customer, free_text.currency, free_text.invoice_date, lines)


def snapshot(invoice: Invoice) -> InvoiceSnapshot:
    """The invoice in the SCM data-entity names of CONTRACT.md §5.1."""
    return InvoiceSnapshot(
        INVOICENUMBER=invoice.number,
        SALESORDERNUMBER=invoice.sales_order_number,
        INVOICECUSTOMERACCOUNTNUMBER=invoice.customer,
        CURRENCYCODE=invoice.currency,
        INVOICEDATE=invoice.invoice_date,
        TOTALINVOICEAMOUNT=money(invoice.total),
        lines=[
            InvoiceLineSnapshot(
                LINECREATIONSEQUENCENUMBER=line.sequence,
                PRODUCTNUMBER=line.product,
                DESCRIPTION=line.description,
                LEDGERACCOUNT=line.ledger_account,
                INVOICEDQUANTITY=quantity(line.quantity),
                SALESPRICE=money(line.price),
                LINEAMOUNT=money(line.amount),
            )
            for line in invoice.lines
        ],
    )
