"""Sales order messages (contract v2): the observable SCM state (CONTRACT.md §5.1), and the
internal messages of docs/orders-and-invoices.md: the dual-write adapter's Sales entry point
of the order service, and the invoicing reservation between the invoice and order services."""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .scm import ScmUser
from .timestamps import UtcDatetime
from .vocabulary import Origin

OrderStatus = Literal["backorder", "delivered", "invoiced", "canceled"]
DocumentStatus = Literal["none", "confirmation", "pickinglist", "packingslip", "invoice"]
ProcessingStatus = Literal["active", "confirmed", "picked", "partiallydelivered", "delivered", "partiallyinvoiced",
                           "deliveredpartiallyinvoiced", "invoiced", "canceled"]
LineStatus = Literal["backorder", "delivered", "invoiced", "canceled"]


class OrderLineSnapshot(BaseModel):
    """One order line, SCM data-entity names (DUALWRITE-REFERENCE §4.5); decimal strings."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    LINECREATIONSEQUENCENUMBER: int
    PRODUCTNUMBER: str
    ORDEREDSALESQUANTITY: str
    SALESPRICE: str
    LINEDISCOUNTAMOUNT: str
    TOTALCHARGESAMOUNT: str
    LINEAMOUNT: str
    DELIVEREDQUANTITY: str
    INVOICEDQUANTITY: str
    SALESORDERLINESTATUS: LineStatus
    SHIPPINGSITEID: str
    SHIPPINGWAREHOUSEID: str


class OrderSnapshot(BaseModel):
    """The whole sales order as SCM knows it (DUALWRITE-REFERENCE §4.4 names)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    SALESORDERNUMBER: str
    SALESORDERORIGIN: Origin
    QUOTATIONNUMBER: str | None = None
    SALESORDERNAME: str | None = None
    ORDERINGCUSTOMERACCOUNTNUMBER: str
    CURRENCYCODE: str
    REQUESTEDSHIPPINGDATE: str | None = None
    SALESORDERSTATUS: OrderStatus
    SALESORDERDOCUMENTSTATUS: DocumentStatus
    SALESORDERPROCESSINGSTATUS: ProcessingStatus
    ORDERTOTALAMOUNT: str
    lines: list[OrderLineSnapshot] = Field(default_factory=list)


OrderEventType = Literal["order.created", "order.updated", "order.confirmed", "order.picked", "order.delivered",
                         "order.invoiced", "order.canceled", "order.deleted"]


class OrderEvent(BaseModel):
    """`scm.order.events` (key: sales order number): the whole order after every change."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_id: str
    type: str
    occurred_at: UtcDatetime
    caused_by: str | None
    version: int
    order: OrderSnapshot


# --- internal: the Sales entry point (dual-write adapter ⇄ order service) ---------------------

class SalesOrderCommand(BaseModel):
    """A Sales change of an order or its lines, for the order service (payload of the internal
    `order.sales-command` envelope on `order.sales-commands`). `command_id` is derived from the
    Sales message id. Types: order.create, order.update, order.add-line, order.update-line,
    order.delete-line, order.delete."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    command_id: str = Field(min_length=1)
    type: str = Field(min_length=1)
    target: str = Field(min_length=1)
    user: ScmUser | None = None
    data: dict[str, Any] = Field(default_factory=dict)


class SalesOrderResult(BaseModel):
    """The order service's answer to a Sales command (`order.sales-result` on
    `order.sales-results`). On `rejected`: the Sales notification code and text and the
    authoritative order (null when SCM has no such order) to restore the Sales rows. Only
    refusals are published; a command carried out is answered by the event it caused."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    command_id: str
    type: str
    target: str
    outcome: Literal["accepted", "rejected"]
    code: str | None = None
    text: str | None = None
    order: OrderSnapshot | None = None


# --- internal: invoicing reservation (invoice service ⇄ order service) --------------------------

class InvoicedQuantity(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    sequence_number: int
    quantity: str


class InvoicingRequest(BaseModel):
    """`order.invoicing-requests` (envelope `order.invoicing-request`, key: order number): the
    invoice service asks the order service, the single writer of invoiced quantities, to take
    these quantities off the order's remainders. `request_id` = the `invoice.post` command id."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    request_id: str
    sales_order_number: str
    lines: list[InvoicedQuantity]


class InvoicingLine(BaseModel):
    """An approved line: what the invoice service needs to price it (DOMAIN.md §8)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    sequence_number: int
    product_number: str
    quantity: str            # invoiced now
    unit_price: str
    line_amount: str         # the order line's LINEAMOUNT
    ordered_quantity: str
    invoiced_before: str     # invoiced by earlier posts
    completes_line: bool     # invoiced_before + quantity == ordered_quantity


class InvoicingDecision(BaseModel):
    """`order.invoicing-decisions` (envelopes `order.invoicing-approved` /
    `order.invoicing-rejected`, key: order number). A rejection carries the SCM result code
    and text (order.not-found, order.invalid-transition, order.quantity-exceeded,
    command.invalid); an approval the order's header values and the priced lines."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    request_id: str
    sales_order_number: str
    outcome: Literal["approved", "rejected"]
    code: str | None = None
    text: str | None = None
    customer_account: str | None = None
    currency: str | None = None
    lines: list[InvoicingLine] = Field(default_factory=list)
