"""The consumer-driven pacts (pact-python's v3 API, Pact specification V4, asynchronous
message interactions), committed in contracts/pacts/:

- `sales-connector` ← `q2c`: what a Sales connector relies on in `dataverse.*.writes` and
  `dataverse.notifications`;
- `scm-client` ← `q2c`: what an SCM client relies on in `scm.command.results` and `scm.*.events`;
- `q2c-dual-write-adapter` ← `sales-connector` and `q2c-services` ← `scm-client`: what q2c's
  consumers rely on in `dataverse.*.changes` and `scm.*.commands` (the reverse direction).

Each interaction: a description, a provider state, the topic and key as message metadata, and
the body with matchers where the value is the provider's to choose (ids, timestamps, amounts)
and literal values where the consumer relies on them (codes, option values, statuses)."""

from dataclasses import dataclass
from typing import Any

from pact import Pact, match

TIMESTAMP = match.regex("2026-11-22T14:00:00Z", regex=r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
DATE = match.regex("2026-11-23", regex=r"^\d{4}-\d\d-\d\d$")


def an_id(example: str = "3f0c6a9e-2d4b-4f1a-8c7e-5b6a7d8e9f01") -> Any:
    return match.str(example)


def decimal(example: str) -> Any:
    return match.regex(example, regex=r"^-?\d+(\.\d+)?$")


@dataclass(frozen=True)
class Expectation:
    description: str
    state: str
    topic: str
    key: str
    body: dict[str, Any]


@dataclass(frozen=True)
class PactSpec:
    consumer: str
    provider: str
    expectations: tuple[Expectation, ...]

    @property
    def file_name(self) -> str:
        return f"{self.consumer}-{self.provider}.json"

    def build(self) -> Pact:
        pact = Pact(self.consumer, self.provider).with_specification("V4")
        for e in self.expectations:
            (pact.upon_receiving(e.description, "Async")
             .given(e.state)
             .with_body(e.body, "application/json")
             .with_metadata({"topic": e.topic, "key": e.key}))
        return pact


def write(table: str, key: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
    return {"message_id": an_id(), "table": table, "operation": "upsert", "alternate_key": key,
            "record": record, "caused_by": an_id("evt-1"), "occurred_at": TIMESTAMP}


QUOTE_SENT = "quotation C-1001 from Sales was sent in SCM"
ORDER_CONFIRMED = "order C-SO-1001 from quote C-1001 was confirmed in SCM"
INVOICE_POSTED = "invoice F-INV-000001 of order C-SO-1001 (owner team-east) was posted"

SALES_CONNECTOR = PactSpec("sales-connector", "q2c", (
    Expectation("a write of the sent quote C-1001", QUOTE_SENT, "dataverse.quote.writes", "C-1001", write(
        "quote", {"msdyn_quotenumber": "C-1001"},
        {"msdyn_quotenumber": "C-1001", "name": match.str("Office PCs"), "customerid": match.str("US-001"),
         "transactioncurrencyid": match.str("USD"), "msdyn_salesquotationstatus": 192350001,
         "msdyn_quotationcreationmethod": 776160001, "msdyn_quotationownership": 776160000,
         "statecode": 1, "statuscode": 2})),
    Expectation("a write of line 1 of quote C-1001", QUOTE_SENT, "dataverse.quotedetail.writes", "C-1001/1", write(
        "quotedetail", {"msdyn_quotenumber": "C-1001", "sequencenumber": 1},
        {"msdyn_quotenumber": "C-1001", "sequencenumber": 1, "productid": match.str("PC-1"),
         "quantity": decimal("3"), "priceperunit": decimal("500.00"), "manualdiscountamount": decimal("10.00"),
         "extendedamount": decimal("1490.00"), "msdyn_shippingsite": match.str("1"),
         "msdyn_shippingwarehouse": match.str("11"), "msdyn_salesquotationstatus": 192350001})),
    Expectation("a write of the confirmed order C-SO-1001", ORDER_CONFIRMED, "dataverse.salesorder.writes",
                "C-SO-1001", write(
        "salesorder", {"msdyn_salesordernumber": "C-SO-1001"},
        {"msdyn_salesordernumber": "C-SO-1001", "name": match.str("Office PCs"), "customerid": match.str("US-001"),
         "transactioncurrencyid": match.str("USD"), "msdyn_quotationnumber": "C-1001",
         "msdyn_processingstatus": 192350001, "statecode": 0, "statuscode": 1, "totalamount": decimal("1490.00")})),
    Expectation("a write of line 1 of order C-SO-1001", ORDER_CONFIRMED, "dataverse.salesorderdetail.writes",
                "C-SO-1001/1", write(
        "salesorderdetail", {"msdyn_salesordernumber": "C-SO-1001", "sequencenumber": 1},
        {"msdyn_salesordernumber": "C-SO-1001", "sequencenumber": 1, "productid": match.str("PC-1"),
         "quantity": decimal("3"), "priceperunit": decimal("500.00"), "extendedamount": decimal("1490.00"),
         "msdyn_linestatus": 192350001})),
    Expectation("a write of invoice F-INV-000001", INVOICE_POSTED, "dataverse.invoice.writes", "F-INV-000001", write(
        "invoice", {"msdyn_invoicenumber": "F-INV-000001"},
        {"msdyn_invoicenumber": "F-INV-000001", "msdyn_salesordernumber": "C-SO-1001",
         "customerid": match.str("US-001"), "transactioncurrencyid": match.str("USD"), "msdyn_invoicedate": DATE,
         "msdyn_totalamount": decimal("1490.00"), "ownerid": "team-east", "statecode": 0, "statuscode": 4,
         "ispricelocked": False})),
    Expectation("a write of line 1 of invoice F-INV-000001", INVOICE_POSTED, "dataverse.invoicedetail.writes",
                "F-INV-000001/1", write(
        "invoicedetail", {"msdyn_invoicenumber": "F-INV-000001", "sequencenumber": 1},
        {"msdyn_invoicenumber": "F-INV-000001", "sequencenumber": 1, "productid": match.str("PC-1"),
         "quantity": decimal("3"), "priceperunit": decimal("500.00"), "extendedamount": decimal("1490.00")})),
    Expectation("a write of the feature state PriceMaster", "feature PriceMaster was switched on",
                "dataverse.msdyn_supplychainfeaturestate.writes", "PriceMaster", write(
        "msdyn_supplychainfeaturestate", {"msdyn_name": "PriceMaster"},
        {"msdyn_name": "PriceMaster", "statecode": 0})),
    Expectation("a refusal of a change to SCM-owned quote F-000007", "SCM-owned quote F-000007 was changed in Sales",
                "dataverse.notifications", "F-000007", {
        "message_id": an_id(), "table": "quote", "alternate_key": {"msdyn_quotenumber": "F-000007"},
        "level": "error", "code": "quote.not-owned-by-sales",
        "text": "This quote is not owned by Dynamics 365 Sales", "refused_message_id": an_id(),
        "occurred_at": TIMESTAMP}),
    Expectation("a refusal of a status change of order C-SO-1001", "Sales changed the status of order C-SO-1001",
                "dataverse.notifications", "C-SO-1001", {
        "message_id": an_id(), "table": "salesorder", "alternate_key": {"msdyn_salesordernumber": "C-SO-1001"},
        "level": "error", "code": "order.status-in-scm",
        "text": "Order status is maintained in Supply Chain Management", "refused_message_id": an_id(),
        "occurred_at": TIMESTAMP}),
))


def event(kind: str, type_: str, state: dict[str, Any]) -> dict[str, Any]:
    return {"event_id": an_id(), "type": type_, "occurred_at": TIMESTAMP, "caused_by": an_id("cmd-1"),
            "version": match.int(1), kind: state}


SCM_CLIENT = PactSpec("scm-client", "q2c", (
    Expectation("a rejection of quote.send for a Sales-owned quote",
                "quote F-000007 is owned by Sales and an SCM user sends it", "scm.command.results", "cmd-1", {
        "command_id": "cmd-1", "type": "quote.send", "target": "F-000007", "outcome": "rejected",
        "code": "quote.owned-by-sales", "text": "This quotation is owned by Dynamics 365 Sales",
        "occurred_at": TIMESTAMP}),
    Expectation("the acceptance of invoice.post naming the new invoice", INVOICE_POSTED, "scm.command.results",
                "cmd-2", {
        "command_id": "cmd-2", "type": "invoice.post", "target": match.regex("F-INV-000001", regex=r"^F-INV-\d+$"),
        "outcome": "accepted", "occurred_at": TIMESTAMP}),
    Expectation("the sent quotation C-1001", QUOTE_SENT, "scm.quote.events", "C-1001", event(
        "quotation", "quote.sent", {
            "SALESQUOTATIONNUMBER": "C-1001", "SALESQUOTATIONSTATUS": "sent",
            "SALESQUOTATIONHEADERCREATIONMETHOD": "Dynamics365Sales", "SALESQUOTATIONOWNERSHIP": "BasedOnOrigin",
            "SALESQUOTATIONNAME": match.str("Office PCs"), "REQUESTINGCUSTOMERACCOUNTNUMBER": match.str("US-001"),
            "CURRENCYCODE": match.str("USD"), "GENERATEDSALESORDERNUMBER": None,
            "lines": match.each_like({
                "LINECREATIONSEQUENCENUMBER": match.int(1), "PRODUCTNUMBER": match.str("PC-1"),
                "REQUESTEDSALESQUANTITY": decimal("3"), "SALESPRICE": decimal("500.00"),
                "LINEDISCOUNTAMOUNT": decimal("3.33"), "TOTALCHARGESAMOUNT": decimal("-0.01"),
                "SHIPPINGSITEID": match.str("1"), "SHIPPINGWAREHOUSEID": match.str("11"),
                "LINEAMOUNT": decimal("1490.00"), "SALESQUOTATIONSTATUS": "sent"}),
            "journals": match.like([])})),
    Expectation("the confirmed order C-SO-1001", ORDER_CONFIRMED, "scm.order.events", "C-SO-1001", event(
        "order", "order.confirmed", {
            "SALESORDERNUMBER": "C-SO-1001", "SALESORDERORIGIN": "Dynamics365Sales", "QUOTATIONNUMBER": "C-1001",
            "SALESORDERNAME": match.str("Office PCs"), "ORDERINGCUSTOMERACCOUNTNUMBER": match.str("US-001"),
            "CURRENCYCODE": match.str("USD"), "SALESORDERSTATUS": "backorder",
            "SALESORDERDOCUMENTSTATUS": "confirmation", "SALESORDERPROCESSINGSTATUS": "confirmed",
            "ORDERTOTALAMOUNT": decimal("1490.00"),
            "lines": match.each_like({
                "LINECREATIONSEQUENCENUMBER": match.int(1), "PRODUCTNUMBER": match.str("PC-1"),
                "ORDEREDSALESQUANTITY": decimal("3"), "SALESPRICE": decimal("500.00"),
                "LINEDISCOUNTAMOUNT": decimal("3.33"), "TOTALCHARGESAMOUNT": decimal("-0.01"),
                "LINEAMOUNT": decimal("1490.00"), "DELIVEREDQUANTITY": decimal("0"),
                "INVOICEDQUANTITY": decimal("0"), "SALESORDERLINESTATUS": "backorder",
                "SHIPPINGSITEID": match.str("1"), "SHIPPINGWAREHOUSEID": match.str("11")})})),
    Expectation("the posted invoice F-INV-000001 of order C-SO-1001", INVOICE_POSTED, "scm.invoice.events",
                "F-INV-000001", event("invoice", "invoice.posted", {
        "INVOICENUMBER": "F-INV-000001", "SALESORDERNUMBER": "C-SO-1001",
        "INVOICECUSTOMERACCOUNTNUMBER": match.str("US-001"), "CURRENCYCODE": match.str("USD"),
        "INVOICEDATE": DATE, "TOTALINVOICEAMOUNT": decimal("1490.00"),
        "lines": match.each_like({"LINECREATIONSEQUENCENUMBER": match.int(1), "PRODUCTNUMBER": match.str("PC-1"),
                                  "INVOICEDQUANTITY": decimal("3"), "SALESPRICE": decimal("500.00"),
                                  "LINEAMOUNT": decimal("1490.00")})})),
    Expectation("the posted free-text invoice F-INV-000002", "free-text invoice F-INV-000002 was posted",
                "scm.invoice.events", "F-INV-000002", event("invoice", "invoice.posted", {
        "INVOICENUMBER": "F-INV-000002", "SALESORDERNUMBER": None,
        "INVOICECUSTOMERACCOUNTNUMBER": match.str("US-001"), "CURRENCYCODE": match.str("USD"),
        "INVOICEDATE": DATE, "TOTALINVOICEAMOUNT": decimal("800.00"),
        "lines": match.each_like({"LINECREATIONSEQUENCENUMBER": match.int(1), "DESCRIPTION": match.str("Consulting"),
                                  "LEDGERACCOUNT": match.str("401100"), "INVOICEDQUANTITY": "1",
                                  "SALESPRICE": decimal("800.00"), "LINEAMOUNT": decimal("800.00")})})),
    Expectation("the feature PriceMaster switched on", "feature PriceMaster was switched on", "scm.feature.events",
                "PriceMaster", {"event_id": an_id(), "name": "PriceMaster", "kind": "feature", "value": True,
                                "occurred_at": TIMESTAMP}),
    Expectation("a queued link-sales-order message",
                "a link-sales-order message waits for the confirmation journal of C-1001", "scm.processor.events",
                "msg-2", {"message_id": "msg-2", "type": "link-sales-order", "document": "C-1001", "state": "Queued",
                          "depends_on": match.str("msg-1")}),
))


# --- the reverse direction: q2c consumes what Sales and SCM users send ---------------------------

def _loosen(value: Any, fixed: set[str]) -> Any:
    """The example's record, each column matched by type (decimal strings by form), except the
    columns the consumer relies on literally (`fixed`)."""
    if isinstance(value, dict):
        return {k: v if k in fixed else _loosen(v, fixed) for k, v in value.items()}
    if isinstance(value, str):
        try:
            float(value)
            return decimal(value)
        except ValueError:
            return match.str(value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return match.int(value)
    return match.like(value)


def change_expectation(example: Any) -> Expectation:
    body = example.value
    key_columns = {"msdyn_quotenumber", "msdyn_salesordernumber", "msdyn_invoicenumber", "sequencenumber",
                   "statecode", "statuscode", "msdyn_quotationnumber"}
    return Expectation(
        f"a {body['operation']} of a {body['table']} row", f"Sales sends the contract example of {example.topic} "
        f"key={example.key}", example.topic, example.key,
        {"message_id": an_id(body["message_id"]), "table": body["table"], "operation": body["operation"],
         "occurred_at": TIMESTAMP, "user": match.str(body["user"]),
         "record": _loosen(body["record"], key_columns)})


def command_expectation(example: Any) -> Expectation:
    body = example.value
    data_fixed = {"feature", "name", "enabled", "sales_order_number", "sequence_number"}
    return Expectation(
        f"the command {body['type']}", f"an SCM user sends the contract example of {example.topic} key={example.key}",
        example.topic, example.key,
        {"command_id": an_id(body["command_id"]), "type": body["type"], "issued_at": TIMESTAMP,
         "user": {"name": match.str(body["user"]["name"]), "privileges": body["user"]["privileges"]},
         **({"target": body["target"]} if "target" in body else {}),
         "data": _loosen(body["data"], data_fixed)})


def reverse_pacts() -> tuple[PactSpec, PactSpec]:
    from ..examples import examples

    found = examples()
    changes = tuple(change_expectation(e) for e in found if e.topic.endswith(".changes"))
    commands = tuple(command_expectation(e) for e in found if e.topic.endswith(".commands"))
    return (PactSpec("q2c-dual-write-adapter", "sales-connector", changes),
            PactSpec("q2c-services", "scm-client", commands))


# --- internal topics: each q2c consumer pins what it reads from another service ----------------------

def envelope(type_: str, key: str, producer: str, payload: dict[str, Any]) -> dict[str, Any]:
    """An internal message: the Envelope (docs/architecture.md) around the payload."""
    return {"message_id": an_id(), "type": type_, "version": match.int(1), "occurred_at": TIMESTAMP,
            "producer": producer, "source_system": match.regex("internal", regex=r"^(sales|scm|internal)$"),
            "correlation_id": an_id(), "key": key, "payload": payload}


QUOTATION_F000007 = {"SALESQUOTATIONNUMBER": "F-000007", "SALESQUOTATIONSTATUS": "created",
                     "SALESQUOTATIONHEADERCREATIONMETHOD": "SCM", "SALESQUOTATIONOWNERSHIP": "BasedOnOrigin",
                     "REQUESTINGCUSTOMERACCOUNTNUMBER": match.str("US-002"), "CURRENCYCODE": match.str("EUR"),
                     "lines": match.each_like({"LINECREATIONSEQUENCENUMBER": match.int(1),
                                               "PRODUCTNUMBER": match.str("DESK-1"),
                                               "REQUESTEDSALESQUANTITY": decimal("2"),
                                               "SALESPRICE": decimal("250.00"), "LINEDISCOUNTAMOUNT": decimal("0"),
                                               "TOTALCHARGESAMOUNT": decimal("0"), "SHIPPINGSITEID": match.str("1"),
                                               "SHIPPINGWAREHOUSEID": match.str("11"), "LINEAMOUNT": decimal("500.00"),
                                               "SALESQUOTATIONSTATUS": "created"})}

ORDER_C_SO_1001 = {
    "SALESORDERNUMBER": "C-SO-1001", "SALESORDERORIGIN": "Dynamics365Sales",
    "ORDERINGCUSTOMERACCOUNTNUMBER": match.str("US-001"), "CURRENCYCODE": match.str("USD"),
    "SALESORDERSTATUS": "backorder", "SALESORDERDOCUMENTSTATUS": "confirmation",
    "SALESORDERPROCESSINGSTATUS": "confirmed", "ORDERTOTALAMOUNT": decimal("1490.00"),
    "lines": match.each_like({
        "LINECREATIONSEQUENCENUMBER": match.int(1), "PRODUCTNUMBER": match.str("PC-1"),
        "ORDEREDSALESQUANTITY": decimal("3"), "SALESPRICE": decimal("500.00"), "LINEDISCOUNTAMOUNT": decimal("3.33"),
        "TOTALCHARGESAMOUNT": decimal("-0.01"), "LINEAMOUNT": decimal("1490.00"), "DELIVEREDQUANTITY": decimal("0"),
        "INVOICEDQUANTITY": decimal("0"), "SALESORDERLINESTATUS": "backorder", "SHIPPINGSITEID": match.str("1"),
        "SHIPPINGWAREHOUSEID": match.str("11")})}

INTERNAL = [
    PactSpec("quote", "dual-write-adapter", (
        Expectation("a quote.create from Sales", "Sales created quote C-1001", "quote.sales-commands", "C-1001",
                    envelope("quote.sales-command", "C-1001", "dual-write-adapter", {
                        "command_id": an_id(), "type": "quote.create", "target": "C-1001",
                        "user": {"name": match.str("alice")},
                        "data": {"customer_account": match.str("US-001"), "currency": match.str("USD"),
                                 "name": match.str("Office PCs")}})),)),
    PactSpec("order", "dual-write-adapter", (
        Expectation("an order.create from Sales naming its quote", "Sales created order C-SO-1001 from quote C-1001",
                    "order.sales-commands", "C-SO-1001",
                    envelope("order.sales-command", "C-SO-1001", "dual-write-adapter", {
                        "command_id": an_id(), "type": "order.create", "target": "C-SO-1001",
                        "user": {"name": match.str("alice")},
                        "data": {"sales_order_number": "C-SO-1001", "quotation_number": "C-1001",
                                 "customer_account": match.str("US-001"), "currency": match.str("USD")}})),)),
    PactSpec("dual-write-adapter", "quote", (
        Expectation("a refusal with the authoritative quotation", "Sales edited SCM-owned quote F-000007",
                    "quote.sales-results", "F-000007",
                    envelope("quote.sales-result", "F-000007", "quote", {
                        "command_id": "sales-msg-1", "type": "quote.update", "target": "F-000007",
                        "outcome": "rejected", "code": "quote.not-owned-by-sales",
                        "text": "This quote is not owned by Dynamics 365 Sales", "refused_message_id": "sales-msg-1",
                        "quotation": QUOTATION_F000007})),)),
    PactSpec("dual-write-adapter", "order", (
        Expectation("a refusal with the authoritative order", "Sales changed the status of confirmed order C-SO-1001",
                    "order.sales-results", "C-SO-1001",
                    envelope("order.sales-result", "C-SO-1001", "order", {
                        "command_id": "sales-msg-2", "type": "order.update", "target": "C-SO-1001",
                        "outcome": "rejected", "code": "order.status-in-scm",
                        "text": "Order status is maintained in Supply Chain Management",
                        "order": ORDER_C_SO_1001})),)),
    PactSpec("ownership", "quote", (
        Expectation("a request to approve sending a quotation", "an SCM user sends SCM-owned quote F-000007",
                    "ownership.requests", "F-000007",
                    envelope("ownership.decide", "F-000007", "quote", {
                        "request_id": an_id("req-1"), "command_id": an_id("cmd-9"), "action": "send",
                        "issuer": {"system": "scm", "user": match.str("bob"), "privileges": []},
                        "quotation": QUOTATION_F000007, "version": match.int(1)})),)),
    PactSpec("quote", "ownership", (
        Expectation("an approval naming the version decided on",
                    "the ownership service decides on sending SCM-owned quote F-000007", "ownership.decisions",
                    "F-000007", envelope("ownership.approved", "F-000007", "ownership", {
                        "request_id": "req-1", "command_id": "cmd-9", "quotation_number": "F-000007",
                        "version": match.int(1), "action": "send", "outcome": "approved"})),)),
    PactSpec("order", "invoice", (
        Expectation("a request to invoice quantities", "an SCM user posts an invoice of all of order C-SO-1001",
                    "order.invoicing-requests", "C-SO-1001",
                    envelope("order.invoicing-request", "C-SO-1001", "invoice", {
                        "request_id": an_id("cmd-2"), "sales_order_number": "C-SO-1001",
                        "lines": match.each_like({"sequence_number": match.int(1), "quantity": decimal("3")})})),)),
    PactSpec("invoice", "order", (
        Expectation("an approval with the priced lines",
                    "the order service approves invoicing all of confirmed order C-SO-1001",
                    "order.invoicing-decisions", "C-SO-1001",
                    envelope("order.invoicing-approved", "C-SO-1001", "order", {
                        "request_id": "cmd-2", "sales_order_number": "C-SO-1001", "outcome": "approved",
                        "customer_account": match.str("US-001"), "currency": match.str("USD"),
                        "lines": match.each_like({
                            "sequence_number": match.int(1), "product_number": match.str("PC-1"),
                            "quantity": decimal("3"), "unit_price": decimal("500.00"),
                            "line_amount": decimal("1490.00"), "ordered_quantity": decimal("3"),
                            "invoiced_before": decimal("0"), "completes_line": True})})),)),
]


def all_pacts() -> list[PactSpec]:
    return [SALES_CONNECTOR, SCM_CLIENT, *reverse_pacts(), *INTERNAL]
