"""Invoice messages (contract v2, CONTRACT.md §5.1): the posted invoice as SCM knows it."""

from pydantic import BaseModel, ConfigDict, Field

from .timestamps import UtcDatetime


class InvoiceLineSnapshot(BaseModel):
    """An invoice line. Lines of a sales-order invoice keep the order line's sequence number
    and carry PRODUCTNUMBER; free-text lines are numbered 1..n and carry DESCRIPTION and
    LEDGERACCOUNT (quantity 1, price = amount)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    LINECREATIONSEQUENCENUMBER: int
    PRODUCTNUMBER: str | None = None
    DESCRIPTION: str | None = None
    LEDGERACCOUNT: str | None = None
    INVOICEDQUANTITY: str
    SALESPRICE: str
    LINEAMOUNT: str


class InvoiceSnapshot(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    INVOICENUMBER: str
    SALESORDERNUMBER: str | None  # null for a free-text invoice
    INVOICECUSTOMERACCOUNTNUMBER: str
    CURRENCYCODE: str
    INVOICEDATE: str  # YYYY-MM-DD
    TOTALINVOICEAMOUNT: str
    lines: list[InvoiceLineSnapshot] = Field(default_factory=list)


class InvoiceEvent(BaseModel):
    """`scm.invoice.events` (key: invoice number), type `invoice.posted`."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_id: str
    type: str
    occurred_at: UtcDatetime
    caused_by: str | None
    version: int
    invoice: InvoiceSnapshot
