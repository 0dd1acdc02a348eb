"""What each order command does, or why it is refused (DOMAIN.md §7, §8;
docs/orders-and-invoices.md "Commands", "Sales commands", "Invoicing"). Pure: every function
returns a new order or raises `Refused`, so nothing is ever half-applied."""

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from q2c_contracts import limits, refusals
from q2c_contracts.decimals import money, quantity
from q2c_contracts.order import InvoicingLine
from q2c_contracts.quote import QuotationSnapshot
from q2c_contracts.vocabulary import SALES, SCM, effective_owner

from .domain import ZERO, Features, InvalidCommand, Line, Order, Refused, processing_status
from .order_data import (
    money_value,
    optional_text,
    quantity_lines,
    quantity_value,
    required_text,
    sequence_number,
)

BEFORE_DELIVERY = frozenset({"active", "confirmed", "picked"})  # nothing delivered, invoiced or canceled
SALES_EDITABLE = BEFORE_DELIVERY
SALES_DELETABLE = frozenset({"active"})
LINE_FIELDS = ("product_number", "quantity", "unit_price", "line_discount_amount", "total_charges_amount",
               "site", "warehouse")
PRICING_FIELDS = ("product_number", "unit_price", "line_discount_amount", "total_charges_amount")


# --- creation -----------------------------------------------------------------------------------

def new_order(number: str, origin: str, data: dict[str, Any], features: Features,
              quotation: QuotationSnapshot | None = None) -> Order:
    """`order.create` from SCM or Sales. A Sales order naming a quotation the service has a
    copy of takes the quotation's name and requested date where it leaves them empty, while
    CopyQuotationDataToSalesOrders is on."""
    name = optional_text(data, "name")
    requested = optional_text(data, "requested_delivery_date")
    copy_from = copy_source("sales" if origin == SALES else "scm", features, quotation)
    if copy_from is not None:
        name = name or copy_from.SALESQUOTATIONNAME
        requested = requested or copy_from.REQUESTEDSHIPPINGDATE
    order = Order(number=number, origin=origin, customer=required_text(data, "customer_account"),
                  currency=required_text(data, "currency"), name=name,
                  quotation_number=optional_text(data, "quotation_number"), requested_shipping_date=requested)
    lines, problem = limits.line_objects(data.get("lines"), required=False)
    if problem:
        raise InvalidCommand(problem)
    for n, line_data in enumerate(lines, start=1):
        order = _add_line(order, {"sequence_number": n, **line_data}, features, copy_from)
    return within_totals(order)


def within_totals(order: Order) -> Order:
    """Every line amount and the order total are money SCM can hold (DOMAIN.md §5): lines
    within the limits may still multiply beyond them."""
    amounts = [(line.sequence, line.amount) for line in order.lines]
    for sequence, amount in amounts:
        if amount.copy_abs() > limits.MONEY_LIMIT:
            raise InvalidCommand(f"line {sequence}: the line amount quantity × (unit_price − "
                                 f"line_discount_amount) + total_charges_amount must be within "
                                 f"±{limits.MONEY_LIMIT:,}, got {money(amount)}")
    total = sum((amount for _, amount in amounts), ZERO)
    if total.copy_abs() > limits.MONEY_LIMIT:
        raise InvalidCommand(f"the order total must be within ±{limits.MONEY_LIMIT:,}, got {money(total)}")
    return order


def copy_source(issuer: str, features: Features, quotation: QuotationSnapshot | None) -> QuotationSnapshot | None:
    """The quotation whose values a Sales change takes where it leaves them empty, if any."""
    return quotation if issuer == "sales" and features.copy_quotation_data else None


def makes_order_on_confirm(event_type: str, quotation: QuotationSnapshot) -> bool:
    """TV-17: a quotation confirmed in SCM while SCM owns it becomes an SCM order."""
    return event_type == "quote.confirmed" and effective_owner(quotation.SALESQUOTATIONHEADERCREATIONMETHOD,
                                                                     quotation.SALESQUOTATIONOWNERSHIP) == SCM


def order_from_quotation(number: str, quotation: QuotationSnapshot) -> Order:
    return Order(
        number=number, origin=SCM, customer=quotation.REQUESTINGCUSTOMERACCOUNTNUMBER,
        currency=quotation.CURRENCYCODE, name=quotation.SALESQUOTATIONNAME,
        quotation_number=quotation.SALESQUOTATIONNUMBER, requested_shipping_date=quotation.REQUESTEDSHIPPINGDATE,
        lines=tuple(
            Line(sequence=q.LINECREATIONSEQUENCENUMBER, product=q.PRODUCTNUMBER,
                 quantity=Decimal(q.REQUESTEDSALESQUANTITY), unit_price=Decimal(q.SALESPRICE),
                 line_discount=Decimal(q.LINEDISCOUNTAMOUNT), charges=Decimal(q.TOTALCHARGESAMOUNT),
                 site=q.SHIPPINGSITEID, warehouse=q.SHIPPINGWAREHOUSEID)
            for q in sorted(quotation.lines, key=lambda x: x.LINECREATIONSEQUENCENUMBER)),
    )


# --- who may edit -------------------------------------------------------------------------------

def check_scm_edit(order: Order) -> None:
    """SCM edits header and lines until the order is canceled or fully invoiced."""
    status = processing_status(order)
    if status in ("canceled", "invoiced"):
        raise Refused(refusals.ORDER_INVALID_TRANSITION, refusals.order_invalid_transition_text("changed", status))


def check_sales_edit(order: Order, command_type: str) -> None:
    """Sales edits while nothing is delivered, invoiced or canceled; deletes only while active."""
    allowed = SALES_DELETABLE if command_type == "order.delete" else SALES_EDITABLE
    if processing_status(order) not in allowed:
        raise Refused.of(refusals.ORDER_READ_ONLY)


# --- data edits ---------------------------------------------------------------------------------

def update_header(order: Order, data: dict[str, Any]) -> Order:
    changes: dict[str, Any] = {}
    if "name" in data:
        changes["name"] = optional_text(data, "name")
    if "requested_delivery_date" in data:
        changes["requested_shipping_date"] = optional_text(data, "requested_delivery_date")
    if "customer_account" in data:
        changes["customer"] = required_text(data, "customer_account")
    if "currency" in data:
        changes["currency"] = required_text(data, "currency")
    if not changes:
        raise InvalidCommand("data names nothing to update: give any of name, customer_account, currency, "
                             "requested_delivery_date")
    return replace(order, **changes)


def add_line(order: Order, data: dict[str, Any], features: Features,
             quotation: QuotationSnapshot | None = None) -> Order:
    return within_totals(_add_line(order, data, features, quotation))


def _add_line(order: Order, data: dict[str, Any], features: Features,
              quotation: QuotationSnapshot | None = None) -> Order:
    """`quotation` is given for a Sales line of an order made from a quotation while
    CopyQuotationDataToSalesOrders is on: its line of the same number gives site and warehouse."""
    sequence = sequence_number(data)
    if order.line(sequence):
        raise InvalidCommand(f"line {sequence} already exists on sales order {order.number}")
    if len(order.lines) >= limits.MAX_LINES:
        raise InvalidCommand(f"sales order {order.number} has {limits.MAX_LINES:,} lines, the most a document holds")
    site, warehouse = features.default_site, features.default_warehouse
    source = next((q for q in quotation.lines if q.LINECREATIONSEQUENCENUMBER == sequence), None) \
        if quotation else None
    if source is not None:
        site, warehouse = source.SHIPPINGSITEID, source.SHIPPINGWAREHOUSEID
    line = Line(
        sequence=sequence, product=required_text(data, "product_number"),
        quantity=quantity_value(data.get("quantity"), "data.quantity"),
        unit_price=_price(data.get("unit_price")),
        line_discount=_optional_money(data, "line_discount_amount", ZERO),
        charges=_optional_money(data, "total_charges_amount", ZERO),
        site=optional_text(data, "site") or site, warehouse=optional_text(data, "warehouse") or warehouse,
    )
    return replace(order, lines=tuple(sorted((*order.lines, line), key=lambda x: x.sequence)))


def update_line(order: Order, data: dict[str, Any]) -> Order:
    sequence = sequence_number(data)
    current = _existing_line(order, sequence)
    if not any(key in data for key in LINE_FIELDS):
        raise InvalidCommand(f"data names nothing to update on the line: give any of {', '.join(LINE_FIELDS)}")
    line = replace(
        current,
        product=required_text(data, "product_number") if "product_number" in data else current.product,
        quantity=quantity_value(data["quantity"], "data.quantity") if "quantity" in data else current.quantity,
        unit_price=_price(data["unit_price"]) if "unit_price" in data else current.unit_price,
        line_discount=_optional_money(data, "line_discount_amount", current.line_discount),
        charges=_optional_money(data, "total_charges_amount", current.charges),
        site=optional_text(data, "site") or current.site,
        warehouse=optional_text(data, "warehouse") or current.warehouse,
    )
    if line.quantity < current.delivered:
        raise InvalidCommand(f"data.quantity {quantity(line.quantity)} is below the delivered quantity "
                             f"{quantity(current.delivered)} of line {sequence}")
    # What is invoiced was priced from the line: changing its price would make the line's
    # invoices no longer add up to its LINEAMOUNT (DOMAIN.md §8).
    if current.invoiced > 0 and _pricing(line) != _pricing(current):
        raise InvalidCommand(f"line {sequence} is partly invoiced: its {', '.join(PRICING_FIELDS)} cannot change")
    return within_totals(replace(order, lines=tuple(line if x.sequence == sequence else x for x in order.lines)))


def delete_line(order: Order, data: dict[str, Any]) -> Order:
    sequence = sequence_number(data)
    line = _existing_line(order, sequence)
    if line.delivered > 0 or line.invoiced > 0:
        raise InvalidCommand(f"line {sequence} has delivered or invoiced quantities and cannot be deleted")
    return replace(order, lines=tuple(x for x in order.lines if x.sequence != sequence))


def _existing_line(order: Order, sequence: int) -> Line:
    line = order.line(sequence)
    if line is None:
        raise InvalidCommand(f"line {sequence} does not exist on sales order {order.number}")
    return line


def _pricing(line: Line) -> tuple[object, ...]:
    return line.product, line.unit_price, line.line_discount, line.charges


def _price(value: object) -> Decimal:
    if value is None:
        raise InvalidCommand("data.unit_price is required")
    price = money_value(value, "data.unit_price")
    if price < 0:
        raise InvalidCommand("data.unit_price must not be negative")
    return price


def _optional_money(data: dict[str, Any], key: str, default: Decimal) -> Decimal:
    value = data.get(key)
    return default if value is None else money_value(value, f"data.{key}")


# --- documents: confirmation, picking list, packing slip; cancel --------------------------------

def confirm(order: Order) -> Order:
    _before_delivery(order, "confirmed")
    return replace(order, confirmed=True, document_status="confirmation")


def pick(order: Order) -> Order:
    _before_delivery(order, "picked")
    return replace(order, picked=True, document_status="pickinglist")


def cancel(order: Order) -> Order:
    _before_delivery(order, "canceled")
    return replace(order, canceled=True)


def deliver(order: Order, data: dict[str, Any]) -> Order:
    """A packing slip: each quantity up to the line's undelivered quantity."""
    if order.canceled:
        raise _invalid_transition("delivered", order)
    lines = {line.sequence: line for line in order.lines}
    for sequence, delivered in quantity_lines(data):
        line = _known(order, lines, sequence)
        _within(sequence, delivered, line.quantity - line.delivered)
        lines[sequence] = replace(line, delivered=line.delivered + delivered)
    return replace(order, lines=tuple(lines.values()), document_status="packingslip")


def _before_delivery(order: Order, participle: str) -> None:
    if processing_status(order) not in BEFORE_DELIVERY:
        raise _invalid_transition(participle, order)


def _invalid_transition(participle: str, order: Order) -> Refused:
    return Refused(refusals.ORDER_INVALID_TRANSITION,
                   refusals.order_invalid_transition_text(participle, processing_status(order)))


def _known(order: Order, lines: dict[int, Line], sequence: int) -> Line:
    if sequence not in lines:
        raise InvalidCommand(f"data.lines: line {sequence} does not exist on sales order {order.number}")
    return lines[sequence]


def _within(sequence: int, wanted: Decimal, remaining: Decimal) -> None:
    if wanted > remaining:
        raise Refused(refusals.ORDER_QUANTITY_EXCEEDED,
                      refusals.quantity_exceeded_text(sequence, quantity(wanted), quantity(remaining)))


# --- invoicing (the order side) -----------------------------------------------------------------

@dataclass(frozen=True)
class Invoicing:
    order: Order
    lines: tuple[InvoicingLine, ...]


def invoice(order: Order, data: dict[str, Any]) -> Invoicing:
    """Take the quantities off the lines' remainders (never more than ordered − invoiced).
    What is invoiced counts as delivered: SCM posts the packing slip with the invoice."""
    if order.canceled:
        raise _invalid_transition("invoiced", order)
    lines = {line.sequence: line for line in order.lines}
    priced = []
    for sequence, invoiced in quantity_lines(data):
        line = _known(order, lines, sequence)
        _within(sequence, invoiced, line.quantity - line.invoiced)
        total = line.invoiced + invoiced
        lines[sequence] = replace(line, invoiced=total, delivered=max(line.delivered, total))
        priced.append(InvoicingLine(
            sequence_number=sequence, product_number=line.product, quantity=quantity(invoiced),
            unit_price=money(line.unit_price), line_amount=money(line.amount),
            ordered_quantity=quantity(line.quantity), invoiced_before=quantity(line.invoiced),
            completes_line=total == line.quantity))
    return Invoicing(replace(order, lines=tuple(lines.values()), document_status="invoice"), tuple(priced))
