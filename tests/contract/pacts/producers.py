"""q2c as message provider: the records q2c's real code puts on the topics for each provider
state of the pacts. Each producer runs the functions that build what goes to Kafka (the
services' `answers`, the adapter's `Sync._write` / `_notify` over the real table maps and
decisions, the domain snapshots) against a real `Outbox` whose connection only captures the
outbox rows, so no broker and no database are needed; the catalog still checks the writer."""

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Any

from dual_write_adapter import decisions as core
from dual_write_adapter.sync import Sync
from dual_write_adapter.tablemap import TableMap, load_maps
from feature_state_service import domain as feature_domain
from feature_state_service.service import publish_setting
from invoice_service import answers as invoice_answers
from invoice_service import domain as invoice_domain
from order_service import answers as order_answers
from order_service import domain as order_domain
from q2c_contracts import refusals
from q2c_contracts.order import InvoicingLine
from q2c_localstack.config import DEPLOY
from q2c_messaging.catalog import load_catalog
from q2c_messaging.outbox import Outbox
from quote_service import answers as quote_answers
from quote_service import domain as quote_domain
from quote_service.processor import publish_state

CATALOG = load_catalog(DEPLOY / "kafka" / "topics.yaml")
MAPS = load_maps()
FEATURES = {"IntegrateQuotationLifecycle": True, "PriceMaster": False, "CopyQuotationDataToSalesOrders": True}


@dataclass(frozen=True)
class Record:
    topic: str
    key: str
    value: dict[str, Any]
    headers: dict[str, str]

    def message(self) -> dict[str, Any]:
        """As the pact verifier wants it: the value, and the topic and key as metadata."""
        return {"contents": json.dumps(self.value).encode(), "content_type": "application/json",
                "metadata": {"topic": self.topic, "key": self.key}}


class CapturingConnection:
    """Stands in for asyncpg: keeps the outbox rows, and answers the few questions the
    producers ask their tables as a fresh service would."""

    def __init__(self) -> None:
        self.records: list[Record] = []

    async def execute(self, sql: str, *args: Any) -> None:
        """Outbox rows are kept; the service's own bookkeeping (logs, pending posts) is not needed."""
        if "INSERT INTO outbox" in sql:
            topic, key, value, headers, *_trace_context = args  # traceparent, tracestate: not the contract's
            self.records.append(Record(topic, key, json.loads(value), headers))

    async def executemany(self, sql: str, args: Any) -> None:
        assert "outbox" not in sql, sql

    async def fetchval(self, sql: str, *args: Any) -> Any:
        if "notified" in sql:
            return True  # the first notification of this refused change
        if "count(*)" in sql:
            return 0  # the first command forwarded for this Sales change
        return None  # nothing stored: features take their defaults

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        return []  # no feature heard (the feature copy is read whole): every default


def produce(service: str, action: Callable[[Outbox, Any], Awaitable[None]]) -> list[Record]:
    conn = CapturingConnection()
    # Why the ignore: a stand-in that records what is appended instead of a database connection.
    outbox = Outbox(conn=conn, service=service, catalog=CATALOG)  # type: ignore[arg-type]
    asyncio.run(action(outbox, conn))
    return conn.records


# --- the documents of the provider states, built with the services' domain code -------------------

def quotation_c1001_sent() -> quote_domain.Quotation:
    features = quote_domain.Features()
    quote = quote_domain.new_quotation("C-1001", "sales", {
        "customer_account": "US-001", "currency": "USD", "name": "Office PCs",
        "lines": [{"product_number": "PC-1", "quantity": "3", "unit_price": "500.00",
                   "line_discount_amount": "3.33", "total_charges_amount": "-0.01"}]}, features)
    sent = quote_domain.apply_lifecycle(quote, "send", {}, features)
    return replace(sent.quote, version=4)


def order_c_so_1001_confirmed() -> order_domain.Order:
    line = order_domain.Line(sequence=1, product="PC-1", quantity=Decimal("3"), unit_price=Decimal("500.00"),
                             line_discount=Decimal("3.33"), charges=Decimal("-0.01"), site="1", warehouse="11")
    return order_domain.Order(number="C-SO-1001", origin="Dynamics365Sales", customer="US-001", currency="USD",
                              name="Office PCs", quotation_number="C-1001", confirmed=True,
                              document_status="confirmation", lines=(line,), version=2)


def invoice_of_c_so_1001() -> invoice_domain.Invoice:
    post = invoice_domain.parse_post({"sales_order_number": "C-SO-1001",
                                      "lines": [{"sequence_number": 1, "quantity": "3"}],
                                      "invoice_date": "2026-11-23"}, date(2026, 11, 23))
    approved = [InvoicingLine(sequence_number=1, product_number="PC-1", quantity="3", unit_price="500.00",
                              line_amount="1490.00", ordered_quantity="3", invoiced_before="0",
                              completes_line=True)]
    return invoice_domain.order_invoice("F-INV-000001", post, "US-001", "USD", approved, {})


def free_text_invoice() -> invoice_domain.Invoice:
    free = invoice_domain.parse_free_text({"customer_account": "US-001", "currency": "USD",
                                           "lines": [{"description": "Consulting", "ledger_account": "401100",
                                                      "amount": "800.00"}]}, date(2026, 11, 23))
    return invoice_domain.free_text_invoice("F-INV-000002", free)


# --- q2c → Sales: writes and notifications (the dual-write adapter) --------------------------------

def _writes(tmap: TableMap, document: dict[str, Any], caused_by: str,
            looked_up: dict[tuple[str, str], dict[str, Any]] | None = None) -> list[Record]:
    async def run(outbox: Outbox, conn: Any) -> None:
        for scm in tmap.scm_records(document):
            for effect in core.scm_record(tmap, scm, mirror=None, features=FEATURES, looked_up=looked_up):
                if isinstance(effect, core.Write):
                    await Sync(MAPS)._write(outbox, tmap, effect, caused_by)
    return produce("dual-write-adapter", run)


def quotation_writes(map_name: str) -> list[Record]:
    document = quote_domain.snapshot(quotation_c1001_sent()).model_dump(mode="json")
    return _writes(MAPS[map_name], document, "evt-quote-sent")


def order_writes(map_name: str) -> list[Record]:
    document = order_domain.snapshot(order_c_so_1001_confirmed()).model_dump(mode="json")
    return _writes(MAPS[map_name], document, "evt-order-confirmed")


def invoice_writes(map_name: str) -> list[Record]:
    tmap = MAPS[map_name]
    document = invoice_domain.snapshot(invoice_of_c_so_1001()).model_dump(mode="json")
    owner = {lookup: {"ownerid": "team-east"} for lookup in tmap.lookups(document)}
    return _writes(tmap, document, "evt-invoice-posted", owner)


def feature_state_write() -> list[Record]:
    [event] = feature_events("PriceMaster", "feature", True)
    return _writes(MAPS["feature-states"], event.value, "evt-feature")


def notification(map_name: str, key: str, code_text: tuple[str, str]) -> list[Record]:
    tmap = MAPS[map_name]

    async def run(outbox: Outbox, conn: Any) -> None:
        await Sync(MAPS)._notify(conn, outbox, tmap, key, core.Notify(*code_text), "sales-change-1")
    return produce("dual-write-adapter", run)


# --- q2c → SCM users: results and events -----------------------------------------------------------

def quote_result(outcome: str, code_text: tuple[str, str] | None) -> list[Record]:
    command = quote_answers.Command(command_id="cmd-1", type="quote.send", target="F-000007", issuer="scm")
    code, text = code_text or (None, None)

    async def run(outbox: Outbox, conn: Any) -> None:
        await quote_answers.answer(outbox, command, outcome, code=code, text=text)
    return produce("quote", run)


def invoice_post_accepted() -> list[Record]:
    command = invoice_answers.Command(command_id="cmd-2", type="invoice.post", target="C-SO-1001")

    async def run(outbox: Outbox, conn: Any) -> None:
        await invoice_answers.answer(outbox, command, "accepted", target="F-INV-000001")
    return produce("invoice", run)


def quote_events() -> list[Record]:
    async def run(outbox: Outbox, conn: Any) -> None:
        await quote_answers.publish_quote(outbox, quotation_c1001_sent(), "quote.sent", "cmd-1")
    return produce("quote", run)


def order_events() -> list[Record]:
    async def run(outbox: Outbox, conn: Any) -> None:
        await order_answers.publish_order(outbox, order_c_so_1001_confirmed(), "order.confirmed", "cmd-3")
    return produce("order", run)


def invoice_events(invoice: invoice_domain.Invoice) -> list[Record]:
    async def run(outbox: Outbox, conn: Any) -> None:
        await invoice_answers.publish_posted(outbox, invoice, "cmd-2")
    return produce("invoice", run)


def feature_events(name: str, kind: str, value: Any) -> list[Record]:
    async def run(outbox: Outbox, conn: Any) -> None:
        # Why the ignore: the pact's examples give the kind as str; Setting's is the Literal.
        await publish_setting(outbox, feature_domain.Setting(name, kind, value))  # type: ignore[arg-type]
    return produce("feature-state", run)


def processor_events() -> list[Record]:
    row = {"message_id": "msg-2", "type": quote_domain.LINK_SALES_ORDER, "document": "C-1001",
           "depends_on": "msg-1"}

    async def run(outbox: Outbox, conn: Any) -> None:
        await publish_state(outbox, row, "Queued")
    return produce("quote", run)


# The provider states of the pacts q2c must honour, each with what q2c then produces. An
# interaction names one state and describes one of its records, found by topic and key.
STATES: dict[str, Callable[[], list[Record]]] = {
    "quotation C-1001 from Sales was sent in SCM": lambda: [
        *quotation_writes("quotation-header"), *quotation_writes("quotation-lines"), *quote_events()],
    "order C-SO-1001 from quote C-1001 was confirmed in SCM": lambda: [
        *order_writes("sales-order-header"), *order_writes("sales-order-lines"), *order_events()],
    "invoice F-INV-000001 of order C-SO-1001 (owner team-east) was posted": lambda: [
        *invoice_writes("sales-invoice-header"), *invoice_writes("sales-invoice-lines"),
        *invoice_events(invoice_of_c_so_1001()), *invoice_post_accepted()],
    "free-text invoice F-INV-000002 was posted": lambda: invoice_events(free_text_invoice()),
    "feature PriceMaster was switched on": lambda: [*feature_state_write(),
                                                     *feature_events("PriceMaster", "feature", True)],
    "SCM-owned quote F-000007 was changed in Sales": lambda: notification(
        "quotation-header", "F-000007", refusals.NOT_OWNED_BY_SALES),
    "Sales changed the status of order C-SO-1001": lambda: notification(
        "sales-order-header", "C-SO-1001", refusals.ORDER_STATUS_IN_SCM),
    "quote F-000007 is owned by Sales and an SCM user sends it": lambda: quote_result(
        "rejected", refusals.OWNED_BY_SALES),
    "a link-sales-order message waits for the confirmation journal of C-1001": processor_events,
}


def record_for(state: str, topic: str, key: str) -> Record:
    records = STATES[state]()
    found = [r for r in records if r.topic == topic and r.key == key]
    assert found, f"{state!r} produces no record on {topic} with key {key!r}: {[(r.topic, r.key) for r in records]}"
    return found[-1]


# --- internal topics: each service's real code for what it sends another ----------------------------

def _forwarded(example_topic: str) -> list[Record]:
    """The adapter's command for the SCM service, from the contract's example of a Sales create."""
    from dual_write_adapter.app import parse_change

    from ..examples import examples

    example = next(e for e in examples() if e.topic == example_topic)
    tmap = next(m for m in MAPS.values() if m.sales.table == example.value["table"])
    change = parse_change(example.value, tmap)
    effects = core.sales_change(tmap, change, mirror=None, parent_known=True, authoritative=None,
                                features=FEATURES, looked_up={})
    [forward] = [e for e in effects if isinstance(e, core.Forward)]

    async def run(outbox: Outbox, conn: Any) -> None:
        await Sync(MAPS)._forward(conn, outbox, tmap, change, forward)
    return produce("dual-write-adapter", run)


def scm_quotation_f000007() -> quote_domain.Quotation:
    quote = quote_domain.new_quotation("F-000007", "scm", {
        "customer_account": "US-002", "currency": "EUR",
        "lines": [{"product_number": "DESK-1", "quantity": "2", "unit_price": "250.00"}]}, quote_domain.Features())
    return quote


def quote_refuses_sales_edit() -> list[Record]:
    command = quote_answers.Command(command_id="sales-msg-1", type="quote.update", target="F-000007",
                                    issuer="sales", data={"name": "Renamed in Sales"})
    code, text = refusals.NOT_OWNED_BY_SALES

    async def run(outbox: Outbox, conn: Any) -> None:
        await quote_answers.answer(outbox, command, "rejected", code=code, text=text, quote=scm_quotation_f000007())
    return produce("quote", run)


def order_refuses_sales_status_change() -> list[Record]:
    command = order_answers.Command(command_id="sales-msg-2", type="order.update", target="C-SO-1001",
                                    issuer="sales")
    code, text = refusals.ORDER_STATUS_IN_SCM

    async def run(outbox: Outbox, conn: Any) -> None:
        await order_answers.rejected(outbox, command, code, text, order=order_c_so_1001_confirmed())
    return produce("order", run)


def ownership_request() -> list[Record]:
    from quote_service.service import _request_decision

    command = quote_answers.Command(command_id="cmd-9", type="quote.send", target="F-000007", issuer="scm",
                                   user="bob")

    async def run(outbox: Outbox, conn: Any) -> None:
        await _request_decision(outbox, "req-1", command, scm_quotation_f000007())
    return produce("quote", run)


def ownership_decision() -> list[Record]:
    from ownership_service.service import on_request
    from q2c_contracts.envelope import Envelope
    from q2c_contracts.ownership import OwnershipRequest
    from q2c_messaging.consumer import Handling, Typed

    [request_record] = ownership_request()
    envelope = Envelope.model_validate(request_record.value)
    request = OwnershipRequest.model_validate(envelope.payload)

    async def run(outbox: Outbox, conn: Any) -> None:
        handling = Handling(message=Typed(envelope, request), message_id=envelope.message_id, conn=conn,
                            outbox=outbox, source=None)  # type: ignore[arg-type]  # no Kafka record behind it
        await on_request(handling)
    return produce("ownership", run)


def invoicing_request() -> list[Record]:
    from invoice_service.service import InvoiceService

    command = invoice_answers.Command(command_id="cmd-2", type="invoice.post", target="C-SO-1001")
    data = {"sales_order_number": "C-SO-1001", "lines": [{"sequence_number": 1, "quantity": "3"}]}

    async def run(outbox: Outbox, conn: Any) -> None:
        service = object.__new__(InvoiceService)  # the method needs none of the service's wiring
        await service._ask_order_service(conn, outbox, command, data)
    return produce("invoice", run)


def invoicing_decision() -> list[Record]:
    from order_service.service import OrderService
    from q2c_contracts.order import InvoicedQuantity, InvoicingRequest

    request = InvoicingRequest(request_id="cmd-2", sales_order_number="C-SO-1001",
                               lines=[InvoicedQuantity(sequence_number=1, quantity="3")])

    async def run(outbox: Outbox, conn: Any) -> None:
        service = object.__new__(OrderService)  # the method needs none of the service's wiring
        decision = await service._decide_invoicing(conn, outbox, request, order_c_so_1001_confirmed())
        await order_answers.send_decision(outbox, decision)
    return produce("order", run)


STATES.update({
    "Sales created quote C-1001": lambda: _forwarded("dataverse.quote.changes"),
    "Sales created order C-SO-1001 from quote C-1001": lambda: _forwarded("dataverse.salesorder.changes"),
    "Sales edited SCM-owned quote F-000007": quote_refuses_sales_edit,
    "Sales changed the status of confirmed order C-SO-1001": order_refuses_sales_status_change,
    "an SCM user sends SCM-owned quote F-000007": ownership_request,
    "the ownership service decides on sending SCM-owned quote F-000007": ownership_decision,
    "an SCM user posts an invoice of all of order C-SO-1001": invoicing_request,
    "the order service approves invoicing all of confirmed order C-SO-1001": invoicing_decision,
})
