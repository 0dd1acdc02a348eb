"""Quotation messages: the observable SCM state (CONTRACT.md §5) and the internal messages
between the dual-write adapter and the quote service (docs/quote-lifecycle.md)."""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .scm import ScmUser
from .timestamps import UtcDatetime
from .vocabulary import Origin, Ownership

QuoteStatus = Literal["created", "sent", "confirmed", "lost", "cancelled", "revised"]
JournalType = Literal["quotation", "confirmation"]


class QuotationLineSnapshot(BaseModel):
    """One line, SCM data-entity field names (DUALWRITE-REFERENCE §4.3). Money and
    quantities are decimal strings."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    LINECREATIONSEQUENCENUMBER: int
    PRODUCTNUMBER: str
    REQUESTEDSALESQUANTITY: str
    SALESPRICE: str
    LINEDISCOUNTAMOUNT: str
    TOTALCHARGESAMOUNT: str
    SHIPPINGSITEID: str
    SHIPPINGWAREHOUSEID: str
    LINEAMOUNT: str
    SALESQUOTATIONSTATUS: QuoteStatus


class JournalRef(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    type: JournalType
    journal_number: str


class QuotationSnapshot(BaseModel):
    """The whole quotation as SCM knows it (DUALWRITE-REFERENCE §4.2 names)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    SALESQUOTATIONNUMBER: str
    SALESQUOTATIONSTATUS: QuoteStatus
    SALESQUOTATIONHEADERCREATIONMETHOD: Origin
    SALESQUOTATIONOWNERSHIP: Ownership
    SALESQUOTATIONNAME: str | None = None
    REQUESTINGCUSTOMERACCOUNTNUMBER: str
    CURRENCYCODE: str
    REQUESTEDSHIPPINGDATE: str | None = None
    GENERATEDSALESORDERNUMBER: str | None = None
    lines: list[QuotationLineSnapshot] = Field(default_factory=list)
    journals: list[JournalRef] = Field(default_factory=list)


class QuoteEvent(BaseModel):
    """`scm.quote.events`: after every change, the whole snapshot; `version` +1 per change."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_id: str
    type: str
    occurred_at: UtcDatetime
    caused_by: str | None
    version: int
    quotation: QuotationSnapshot


ProcessorMessageType = Literal[
    "create-quotation-journal", "create-quotation-confirmation-journal", "link-sales-order"]
ProcessorState = Literal["Queued", "Processed", "Failed", "Canceled"]


class ProcessorMessageEvent(BaseModel):
    """`scm.processor.events`, key = message id: one record per state change."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    message_id: str
    type: ProcessorMessageType
    document: str
    state: ProcessorState
    depends_on: str | None = None
    error: str | None = None


class SalesQuoteCommand(BaseModel):
    """A lifecycle or data change made in Sales, for the quote service (payload of the
    internal `quote.sales-command` envelope). `command_id` is the Sales message id."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    command_id: str = Field(min_length=1)
    type: str = Field(min_length=1)
    target: str = Field(min_length=1)
    user: ScmUser | None = None
    data: dict[str, Any] = Field(default_factory=dict)


class SalesQuoteResult(BaseModel):
    """The quote service's answer to a Sales command: on `rejected`, the Sales notification
    code and text, the refused Sales message id and the authoritative snapshot. Only refusals
    are published; a command carried out is answered by the event it caused."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    command_id: str
    type: str
    target: str
    outcome: Literal["accepted", "rejected"]
    code: str | None = None
    text: str | None = None
    refused_message_id: str | None = None
    quotation: QuotationSnapshot | None = None
