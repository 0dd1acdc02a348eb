"""Quotations in SCM (DOMAIN.md §1, §2, §4, §6): state, data edits and their read-only
rules, the effect of an approved lifecycle step, journals and processor messages, and the
snapshot in data-entity names. Pure: no I/O. Lifecycle approval is the ownership service's."""

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from q2c_contracts import features as catalog
from q2c_contracts import limits, refusals
from q2c_contracts.decimals import line_amount, money, quantity
from q2c_contracts.quote import JournalRef, QuotationLineSnapshot, QuotationSnapshot
from q2c_contracts.vocabulary import BASED_ON_ORIGIN, SALES, SCM, effective_owner

CLOSED = frozenset({"confirmed", "lost", "cancelled", "revised"})

# What an approved lifecycle step does to the SCM status.
STATUS_AFTER = {"send": "sent", "confirm": "confirmed", "lose": "lost", "cancel": "cancelled", "revise": "revised"}
LIFECYCLE_TYPES = {
    "quote.send": "send", "quote.confirm": "confirm", "quote.lose": "lose", "quote.cancel": "cancel",
    "quote.revise": "revise", "quote.delete": "delete", "quote.change-ownership": "change-ownership",
}
EVENT_AFTER = {"send": "quote.sent", "confirm": "quote.confirmed", "lose": "quote.lost", "cancel": "quote.cancelled",
               "revise": "quote.revised", "delete": "quote.deleted", "change-ownership": "quote.ownership-changed"}

LINK_SALES_ORDER = "link-sales-order"


class InvalidCommand(ValueError):
    """The command's data is wrong: answered with `command.invalid` and this text."""


@dataclass(frozen=True)
class Features:
    """The features and parameters the quote service uses (DOMAIN.md §3); the defaults are
    the catalog's (q2c_contracts.features)."""

    lifecycle_integration: bool = catalog.flag_default(catalog.INTEGRATE_QUOTATION_LIFECYCLE)
    default_ownership_feature: bool = catalog.flag_default(catalog.DEFAULT_QUOTATION_OWNERSHIP)
    use_message_processor: bool = catalog.flag_default(catalog.USE_MESSAGE_PROCESSOR)
    default_ownership: str = catalog.text_default(catalog.DEFAULT_OWNERSHIP)
    quotation_journal_in_batch: bool = catalog.flag_default(catalog.CREATE_QUOTATION_JOURNAL_IN_BATCH)
    confirmation_journal_in_batch: bool = catalog.flag_default(catalog.CREATE_CONFIRMATION_JOURNAL_IN_BATCH)
    processor_running: bool = catalog.flag_default(catalog.MESSAGE_PROCESSOR_RUNNING)
    number_prefix: str = catalog.text_default(catalog.SCM_QUOTATION_NUMBER_PREFIX)
    default_site: str = catalog.text_default(catalog.DEFAULT_SITE)
    default_warehouse: str = catalog.text_default(catalog.DEFAULT_WAREHOUSE)

    @classmethod
    def from_settings(cls, values: dict[str, Any]) -> "Features":
        names = {
            catalog.INTEGRATE_QUOTATION_LIFECYCLE: "lifecycle_integration",
            catalog.DEFAULT_QUOTATION_OWNERSHIP: "default_ownership_feature",
            catalog.USE_MESSAGE_PROCESSOR: "use_message_processor",
            catalog.DEFAULT_OWNERSHIP: "default_ownership",
            catalog.CREATE_QUOTATION_JOURNAL_IN_BATCH: "quotation_journal_in_batch",
            catalog.CREATE_CONFIRMATION_JOURNAL_IN_BATCH: "confirmation_journal_in_batch",
            catalog.MESSAGE_PROCESSOR_RUNNING: "processor_running",
            catalog.SCM_QUOTATION_NUMBER_PREFIX: "number_prefix",
            catalog.DEFAULT_SITE: "default_site",
            catalog.DEFAULT_WAREHOUSE: "default_warehouse",
        }
        return cls(**{attr: values[name] for name, attr in names.items() if name in values})


@dataclass(frozen=True)
class Line:
    sequence: int
    product: str
    quantity: Decimal
    unit_price: Decimal
    line_discount: Decimal  # per unit (LINEDISCOUNTAMOUNT)
    charges: Decimal  # TOTALCHARGESAMOUNT: the residue of the discount split
    site: str
    warehouse: str

    @property
    def amount(self) -> Decimal:
        return line_amount(self.quantity, self.unit_price, self.line_discount, self.charges)


@dataclass(frozen=True)
class Journal:
    number: str
    type: str  # "quotation" | "confirmation"


@dataclass(frozen=True)
class Quotation:
    number: str
    status: str
    origin: str
    ownership: str
    customer: str
    currency: str
    name: str | None = None
    requested_shipping_date: str | None = None
    generated_sales_order: str | None = None
    lines: tuple[Line, ...] = ()
    journals: tuple[Journal, ...] = ()
    version: int = 1

    @property
    def effective_owner(self) -> str:
        return effective_owner(self.origin, self.ownership)

    def line(self, sequence: int) -> Line | None:
        return next((line for line in self.lines if line.sequence == sequence), None)


# --- creation -------------------------------------------------------------------------

def origin_and_ownership(issuer: str, features: Features) -> tuple[str, str]:
    """DOMAIN.md §1, §3: origin is the creating system while the lifecycle is integrated,
    else always SCM; ownership is the default-ownership parameter when its feature is on."""
    if not features.lifecycle_integration:
        return SCM, BASED_ON_ORIGIN
    origin = SALES if issuer == "sales" else SCM
    ownership = features.default_ownership if features.default_ownership_feature else BASED_ON_ORIGIN
    return origin, ownership


def format_number(prefix: str, value: int) -> str:
    return f"{prefix}{value:06d}"


def new_quotation(number: str, issuer: str, data: dict[str, Any], features: Features) -> Quotation:
    if not isinstance(number, str) or not number.strip():  # the service checks it too; the domain does not trust it
        raise InvalidCommand("data.quotation_number must be a non-empty text")
    problem = limits.text_problem(number, limits.DEFAULT_TEXT_LIMIT)
    if problem is not None:
        raise InvalidCommand(f"data.quotation_number {problem}")
    customer = _required_text(data, "customer_account")
    currency = _required_text(data, "currency")
    origin, ownership = origin_and_ownership(issuer, features)
    quote = Quotation(number=number, status="created", origin=origin, ownership=ownership, customer=customer,
                      currency=currency, name=_optional_text(data, "name"),
                      requested_shipping_date=_optional_text(data, "requested_shipping_date"))
    lines, problem = limits.line_objects(data.get("lines"), required=False)
    if problem:
        raise InvalidCommand(problem)
    for n, line_data in enumerate(lines, start=1):
        line_data = {"sequence_number": n, **line_data}
        quote = _add_line(quote, line_data, features)
    return _within_totals(quote)


# --- data edits -------------------------------------------------------------------------

def edit_refusal(quote: Quotation, issuer: str, features: Features) -> tuple[str, str] | None:
    """May `issuer` change header data or lines of `quote` now? None = yes, else the refusal.

    DOMAIN.md §1–§2: closed quotations are read-only; the effective owner edits while
    created (and SCM, as owner, also while sent); the other system edits only while created.
    An SCM edit the status forbids answers `quote.read-only` whoever owns the quotation: the
    ownership codes answer lifecycle commands only (those are the ownership service's)."""
    if issuer == "scm":
        non_owner = features.lifecycle_integration and quote.effective_owner == SALES
        if quote.status in CLOSED or (non_owner and quote.status != "created"):
            return refusals.READ_ONLY
        return None
    # Sales: only a draft quote can be edited, and a non-owner sees the ownership message.
    if quote.status == "created":
        return None
    if features.lifecycle_integration and quote.effective_owner != SALES:
        return refusals.READ_ONLY_NOT_OWNED_BY_SALES if quote.status == "sent" else refusals.NOT_OWNED_BY_SALES
    return refusals.NOT_DRAFT


def update_header(quote: Quotation, data: dict[str, Any]) -> Quotation:
    fields = {"name": "name", "customer_account": "customer", "currency": "currency",
              "requested_shipping_date": "requested_shipping_date"}
    changes: dict[str, Any] = {}
    for key, attr in fields.items():
        if key in data:
            changes[attr] = _optional_text(data, key) if attr in ("name", "requested_shipping_date") \
                else _required_text(data, key)
    if not changes:
        raise InvalidCommand(f"data names nothing to update: give any of {', '.join(fields)}")
    return replace(quote, **changes)


def add_line(quote: Quotation, data: dict[str, Any], features: Features) -> Quotation:
    return _within_totals(_add_line(quote, data, features))


def _add_line(quote: Quotation, data: dict[str, Any], features: Features) -> Quotation:
    sequence = _sequence(data)
    if quote.line(sequence):
        raise InvalidCommand(f"line {sequence} already exists on quotation {quote.number}")
    if len(quote.lines) >= limits.MAX_LINES:
        raise InvalidCommand(f"quotation {quote.number} has {limits.MAX_LINES:,} lines, the most a document holds")
    line = _line_from(data, sequence, None, features)
    return replace(quote, lines=tuple(sorted((*quote.lines, line), key=lambda x: x.sequence)))


def update_line(quote: Quotation, data: dict[str, Any], features: Features) -> Quotation:
    sequence = _sequence(data)
    current = quote.line(sequence)
    if current is None:
        raise InvalidCommand(f"line {sequence} does not exist on quotation {quote.number}")
    if set(data) <= {"sequence_number"}:
        raise InvalidCommand("data names nothing to update on the line: give any of product_number, quantity, "
                             "unit_price, line_discount_amount, site, warehouse")
    line = _line_from(data, sequence, current, features)
    return _within_totals(replace(quote, lines=tuple(line if x.sequence == sequence else x for x in quote.lines)))


def delete_line(quote: Quotation, data: dict[str, Any]) -> Quotation:
    sequence = _sequence(data)
    if quote.line(sequence) is None:
        raise InvalidCommand(f"line {sequence} does not exist on quotation {quote.number}")
    return replace(quote, lines=tuple(x for x in quote.lines if x.sequence != sequence))


def _within_totals(quote: Quotation) -> Quotation:
    """Every line amount and the quotation's total are money SCM can hold (DOMAIN.md §5):
    lines within the limits may still multiply beyond them."""
    amounts = [(line.sequence, line.amount) for line in quote.lines]
    for sequence, amount in amounts:
        if amount.copy_abs() > limits.MONEY_LIMIT:
            raise InvalidCommand(f"line {sequence}: the line amount quantity × (unit_price − "
                                 f"line_discount_amount) + total_charges_amount must be within "
                                 f"±{limits.MONEY_LIMIT:,}, got {money(amount)}")
    total = sum((amount for _, amount in amounts), Decimal("0"))
    if total.copy_abs() > limits.MONEY_LIMIT:
        raise InvalidCommand(f"the quotation total must be within ±{limits.MONEY_LIMIT:,}, got {money(total)}")
    return quote


def _line_from(data: dict[str, Any], sequence: int, current: Line | None, features: Features) -> Line:
    def decimal(key: str, default: Decimal | None, kind: str = "money") -> Decimal:
        if key not in data or data[key] is None:
            if default is None:
                raise InvalidCommand(f"data.{key} is required")
            return default
        value = data[key]
        problem = limits.quantity_problem(value) if kind == "quantity" else limits.money_problem(value)
        if problem is not None:
            raise InvalidCommand(f"data.{key} {problem}")
        return Decimal(str(value).strip())

    def text(key: str, default: str | None) -> str:
        value = data.get(key)
        if value is None:
            if default is None:
                raise InvalidCommand(f"data.{key} is required")
            return default
        if not isinstance(value, str) or not value.strip():
            raise InvalidCommand(f"data.{key} must be a non-empty text")
        return _within_limit(key, value)

    quantity_ = decimal("quantity", current.quantity if current else None, "quantity")
    price = decimal("unit_price", current.unit_price if current else None)
    if price < 0:
        raise InvalidCommand("data.unit_price must not be negative")
    discount = decimal("line_discount_amount", current.line_discount if current else Decimal("0"))
    return Line(
        sequence=sequence,
        product=text("product_number", current.product if current else None),
        quantity=quantity_,
        unit_price=price,
        line_discount=discount,
        charges=decimal("total_charges_amount", current.charges if current else Decimal("0")),
        # Site and warehouse are required on SCM lines; the parameters give the defaults.
        site=text("site", current.site if current else features.default_site),
        warehouse=text("warehouse", current.warehouse if current else features.default_warehouse),
    )


def _sequence(data: dict[str, Any]) -> int:
    value = data.get("sequence_number")
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidCommand(f"data.sequence_number must be a positive integer, got {value!r}")
    return value


def _required_text(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise InvalidCommand(f"data.{key} is required: a non-empty text")
    return _within_limit(key, value)


def _optional_text(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise InvalidCommand(f"data.{key} must be a text")
    return value if value is None else _within_limit(key, value)


def _within_limit(key: str, value: str) -> str:
    """DOMAIN.md §5: `name` holds 300 characters, every other text 100."""
    problem = limits.text_problem(value, limits.text_limit(key))
    if problem is not None:
        raise InvalidCommand(f"data.{key} {problem}")
    return value


# --- approved lifecycle steps ----------------------------------------------------------------

@dataclass(frozen=True)
class QueuedMessage:
    """A message for the message processor; `depends_on` is the index of an earlier one in
    the same plan (ids are assigned when stored)."""

    type: str
    depends_on: int | None = None
    sales_order_number: str | None = None


@dataclass(frozen=True)
class LifecycleEffect:
    quote: Quotation
    journals: tuple[str, ...] = ()  # journal types to create now, in order
    queued: tuple[QueuedMessage, ...] = ()
    deleted: bool = False


def defers_to_processor(quote: Quotation, features: Features) -> bool:
    """DOMAIN §6: are this quotation's journals and order link left to the message processor?"""
    return features.lifecycle_integration and features.use_message_processor and quote.effective_owner == SALES


def apply_lifecycle(quote: Quotation, action: str, data: dict[str, Any], features: Features) -> LifecycleEffect:
    """The effect of an approved step (the ownership service approved it on this version)."""
    if action == "delete":
        return LifecycleEffect(quote, deleted=True)
    if action == "change-ownership":
        return LifecycleEffect(replace(quote, ownership=data.get("ownership", quote.ownership)))
    status = STATUS_AFTER[action]
    changed = replace(quote, status=status)
    deferred = defers_to_processor(quote, features)
    if action == "send":
        if deferred and features.quotation_journal_in_batch:
            return LifecycleEffect(changed, queued=(QueuedMessage("create-quotation-journal"),))
        return LifecycleEffect(changed, journals=("quotation",))
    if action == "confirm":
        order = data.get("sales_order_number") if isinstance(data.get("sales_order_number"), str) else None
        if deferred:
            if features.confirmation_journal_in_batch:
                return LifecycleEffect(changed, queued=(
                    QueuedMessage("create-quotation-confirmation-journal"),
                    QueuedMessage(LINK_SALES_ORDER, depends_on=0, sales_order_number=order)))
            return LifecycleEffect(changed, journals=("confirmation",),
                                   queued=(QueuedMessage(LINK_SALES_ORDER, sales_order_number=order),))
        return LifecycleEffect(replace(changed, generated_sales_order=order or quote.generated_sales_order),
                               journals=("confirmation",))
    return LifecycleEffect(changed)


def with_journal(quote: Quotation, number: str, journal_type: str) -> Quotation:
    return replace(quote, journals=(*quote.journals, Journal(number, journal_type)))


# --- the snapshot ---------------------------------------------------------------------------

def snapshot(quote: Quotation) -> QuotationSnapshot:
    """The quotation in the SCM data-entity names of CONTRACT.md §5."""
    # Why the ignore[arg-type] below: the domain keeps status, origin, ownership and journal type as
    # str its own rules narrow; pydantic checks each against the contract's Literal at build time.
    return QuotationSnapshot(
        SALESQUOTATIONNUMBER=quote.number,
        SALESQUOTATIONSTATUS=quote.status,  # type: ignore[arg-type]
        SALESQUOTATIONHEADERCREATIONMETHOD=quote.origin,  # type: ignore[arg-type]
        SALESQUOTATIONOWNERSHIP=quote.ownership,  # type: ignore[arg-type]
        SALESQUOTATIONNAME=quote.name,
        REQUESTINGCUSTOMERACCOUNTNUMBER=quote.customer,
        CURRENCYCODE=quote.currency,
        REQUESTEDSHIPPINGDATE=quote.requested_shipping_date,
        GENERATEDSALESORDERNUMBER=quote.generated_sales_order,
        lines=[
            QuotationLineSnapshot(
                LINECREATIONSEQUENCENUMBER=line.sequence,
                PRODUCTNUMBER=line.product,
                REQUESTEDSALESQUANTITY=quantity(line.quantity),
                SALESPRICE=money(line.unit_price),
                LINEDISCOUNTAMOUNT=money(line.line_discount),
                TOTALCHARGESAMOUNT=money(line.charges),
                SHIPPINGSITEID=line.site,
                SHIPPINGWAREHOUSEID=line.warehouse,
                LINEAMOUNT=money(line.amount),
                SALESQUOTATIONSTATUS=quote.status,  # type: ignore[arg-type]
            )
            for line in quote.lines
        ],
        journals=[JournalRef(type=j.type, journal_number=j.number) for j in quote.journals],  # type: ignore[arg-type]
    )
