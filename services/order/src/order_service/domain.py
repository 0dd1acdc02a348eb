"""Sales orders in SCM (DOMAIN.md §4, §7; docs/orders-and-invoices.md): the order and its
lines, the statuses derived from them, line amounts and totals, and the snapshot in SCM
data-entity names. Pure: no I/O. The command decisions are in `decisions.py`."""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from q2c_contracts import features as catalog
from q2c_contracts import refusals
from q2c_contracts.decimals import line_amount, money, quantity
from q2c_contracts.order import OrderLineSnapshot, OrderSnapshot

ZERO = Decimal("0")


class Refused(Exception):
    """A command that changes nothing: answered `rejected` with this code and text."""

    def __init__(self, code: str, text: str) -> None:
        super().__init__(f"{code}: {text}")
        self.code = code
        self.text = text

    @classmethod
    def of(cls, pair: refusals.CodeText) -> "Refused":
        return cls(*pair)


class InvalidCommand(Refused):
    """The command's data is wrong (`command.invalid`, the text names the field)."""

    def __init__(self, text: str) -> None:
        super().__init__(refusals.COMMAND_INVALID, text)


@dataclass(frozen=True)
class Features:
    """The features and parameters the order service uses (DOMAIN.md §3); the defaults are
    the catalog's (q2c_contracts.features)."""

    copy_quotation_data: bool = catalog.flag_default(catalog.COPY_QUOTATION_DATA_TO_SALES_ORDERS)
    number_prefix: str = catalog.text_default(catalog.SCM_SALES_ORDER_NUMBER_PREFIX)
    default_site: str = catalog.text_default(catalog.DEFAULT_SITE)
    default_warehouse: str = catalog.text_default(catalog.DEFAULT_WAREHOUSE)

    @classmethod
    def from_settings(cls, values: dict[str, Any]) -> "Features":
        names = {
            catalog.COPY_QUOTATION_DATA_TO_SALES_ORDERS: "copy_quotation_data",
            catalog.SCM_SALES_ORDER_NUMBER_PREFIX: "number_prefix",
            catalog.DEFAULT_SITE: "default_site",
            catalog.DEFAULT_WAREHOUSE: "default_warehouse",
        }
        return cls(**{attr: values[name] for name, attr in names.items() if name in values})


@dataclass(frozen=True)
class Line:
    sequence: int
    product: str
    quantity: Decimal  # ordered
    unit_price: Decimal
    line_discount: Decimal  # per unit (LINEDISCOUNTAMOUNT)
    charges: Decimal  # TOTALCHARGESAMOUNT: the residue of the discount split
    site: str
    warehouse: str
    delivered: Decimal = ZERO
    invoiced: Decimal = ZERO

    @property
    def amount(self) -> Decimal:
        return line_amount(self.quantity, self.unit_price, self.line_discount, self.charges)

    @property
    def fully_delivered(self) -> bool:
        return self.delivered >= self.quantity

    @property
    def fully_invoiced(self) -> bool:
        return self.invoiced >= self.quantity


@dataclass(frozen=True)
class Order:
    number: str
    origin: str
    customer: str
    currency: str
    name: str | None = None
    quotation_number: str | None = None
    requested_shipping_date: str | None = None
    confirmed: bool = False  # a confirmation has been posted
    picked: bool = False  # a picking list has been posted
    canceled: bool = False
    document_status: str = "none"  # the latest document posted
    lines: tuple[Line, ...] = ()
    version: int = 1

    def line(self, sequence: int) -> Line | None:
        return next((line for line in self.lines if line.sequence == sequence), None)

    @property
    def total(self) -> Decimal:
        """ORDERTOTALAMOUNT: the sum of the line amounts (no tax, no header charges in v2)."""
        return sum((line.amount for line in self.lines), ZERO)


# --- derived statuses (DOMAIN.md §7, reference §1.4 variant B) ----------------------------------

def processing_status(order: Order) -> str:
    """First match wins. An order without lines is never "fully" anything."""
    lines = order.lines
    if order.canceled:
        return "canceled"
    if lines and all(line.fully_invoiced for line in lines):
        return "invoiced"
    if any(line.invoiced > 0 for line in lines):
        return "deliveredpartiallyinvoiced" if all(line.fully_delivered for line in lines) else "partiallyinvoiced"
    if lines and all(line.fully_delivered for line in lines):
        return "delivered"
    if any(line.delivered > 0 for line in lines):
        return "partiallydelivered"
    if order.picked:
        return "picked"
    if order.confirmed:
        return "confirmed"
    return "active"


ORDER_STATUS = {
    "active": "backorder", "confirmed": "backorder", "picked": "backorder", "partiallydelivered": "backorder",
    "partiallyinvoiced": "backorder", "delivered": "delivered", "deliveredpartiallyinvoiced": "delivered",
    "invoiced": "invoiced", "canceled": "canceled",
}


def order_status(order: Order) -> str:
    """SALESORDERSTATUS from the processing status."""
    return ORDER_STATUS[processing_status(order)]


def line_status(order: Order, line: Line) -> str:
    if order.canceled:
        return "canceled"
    if line.fully_invoiced:
        return "invoiced"
    if line.fully_delivered:
        return "delivered"
    return "backorder"


# --- the snapshot -----------------------------------------------------------------------------

def snapshot(order: Order) -> OrderSnapshot:
    """The order in the SCM data-entity names of CONTRACT.md §5.1."""
    # Why the ignore[arg-type] below: the domain keeps origin and statuses as str its own rules
    # narrow; pydantic checks each against the contract's Literal at build time.
    return OrderSnapshot(
        SALESORDERNUMBER=order.number,
        SALESORDERORIGIN=order.origin,  # type: ignore[arg-type]
        QUOTATIONNUMBER=order.quotation_number,
        SALESORDERNAME=order.name,
        ORDERINGCUSTOMERACCOUNTNUMBER=order.customer,
        CURRENCYCODE=order.currency,
        REQUESTEDSHIPPINGDATE=order.requested_shipping_date,
        SALESORDERSTATUS=order_status(order),  # type: ignore[arg-type]
        SALESORDERDOCUMENTSTATUS=order.document_status,  # type: ignore[arg-type]
        SALESORDERPROCESSINGSTATUS=processing_status(order),  # type: ignore[arg-type]
        ORDERTOTALAMOUNT=money(order.total),
        lines=[
            OrderLineSnapshot(
                LINECREATIONSEQUENCENUMBER=line.sequence,
                PRODUCTNUMBER=line.product,
                ORDEREDSALESQUANTITY=quantity(line.quantity),
                SALESPRICE=money(line.unit_price),
                LINEDISCOUNTAMOUNT=money(line.line_discount),
                TOTALCHARGESAMOUNT=money(line.charges),
                LINEAMOUNT=money(line.amount),
                DELIVEREDQUANTITY=quantity(line.delivered),
                INVOICEDQUANTITY=quantity(line.invoiced),
                SALESORDERLINESTATUS=line_status(order, line),  # type: ignore[arg-type]
                SHIPPINGSITEID=line.site,
                SHIPPINGWAREHOUSEID=line.warehouse,
            )
            for line in order.lines
        ],
    )


def format_number(prefix: str, value: int) -> str:
    return f"{prefix}{value:06d}"
