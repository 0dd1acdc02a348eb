"""The order-to-cash part of `make demo`, after the quotation part: a quotation won in Sales
becomes a Sales order (CONTRACT §1.1: the quote update to 2/4, the salesorder create naming
it, its salesorderdetail create); an SCM user confirms, picks, delivers it in two packing
slips and invoices it in two invoices; then posts a free-text invoice, which Sales never
receives. After each step one table row shows both sides once both have settled. Every
value printed is read back from the topics: SCM from `scm.quote.events`, `scm.order.events`
and `scm.invoice.events`, Sales from the last `dataverse.*.writes` of the row."""

import json
from typing import Any
from uuid import uuid4

from q2c_messaging.security import KafkaCredentials

from .demo_q2c import Stage, _now
from .probe import Record, TopicProbe, Watched

TOPICS = ["dataverse.quote.writes", "dataverse.notifications", "dataverse.salesorder.writes",
          "dataverse.invoice.writes", "dataverse.invoicedetail.writes", "scm.quote.events", "scm.order.events",
          "scm.invoice.events", "scm.command.results"]
# CONTRACT §2.1
PROCESSING_NAMES = {192350000: "active", 192350001: "confirmed", 192350002: "picked",
                    192350003: "partially delivered", 192350004: "delivered", 192350005: "invoiced",
                    192350006: "partially invoiced", 192350007: "canceled",
                    192350008: "delivered, partially invoiced"}
ORDER_STATE_NAMES = {(0, 1): "Active", (3, 100001): "Fulfilled", (4, 100003): "Invoiced", (2, 4): "Canceled"}
COLUMNS = ["step", "quotation", "→ order", "SCM status", "document", "processing (SCM)",
           "Sales processing", "Sales state", "invoice", "amount"]
WIDTHS = [38, 9, 12, 10, 12, 26, 41, 18, 12, 8]


class OrderStage(Stage):
    """The quotation demo's Stage, plus a Sales order and an SCM user on orders and invoices."""

    def __init__(self, probe: TopicProbe) -> None:
        super().__init__(probe)
        self.order_rows: list[list[str]] = []

    async def sales_order(self, number: str, quotation: str) -> None:
        """Create order (win), CONTRACT §1.1: the salesorder row naming the won quote, then its line.
        Name, site and warehouse are left empty: SCM fills them from the quotation."""
        self.ids[number] = str(uuid4())
        await self.probe.publish("dataverse.salesorder.changes", self.ids[number], {
            "message_id": str(uuid4()), "table": "salesorder", "operation": "create", "occurred_at": _now(),
            "user": "alice", "record": {
                "salesorderid": self.ids[number], "msdyn_salesordernumber": number,
                "msdyn_quotationnumber": quotation, "customerid": "US-001", "transactioncurrencyid": "USD",
                "ownerid": "alice", "statecode": 0, "statuscode": 1}})
        line_id = str(uuid4())
        await self.probe.publish("dataverse.salesorderdetail.changes", line_id, {
            "message_id": str(uuid4()), "table": "salesorderdetail", "operation": "create", "occurred_at": _now(),
            "user": "alice", "record": {
                "salesorderdetailid": line_id, "salesorderid": self.ids[number], "msdyn_salesordernumber": number,
                "sequencenumber": 1, "productid": "PC-1", "quantity": "3", "priceperunit": "500.00",
                "manualdiscountamount": "10.00"}})

    async def scm_on(self, topic: str, type_: str, target: str | None, data: dict[str, Any] | None = None,
                     ) -> dict[str, Any]:
        command = {"command_id": str(uuid4()), "type": type_, "issued_at": _now(),
                   "user": {"name": "bob", "privileges": []}, "target": target, "data": data or {}}
        await self.probe.publish(topic, target or command["command_id"], command)
        [result] = await self.probe.wait_for("scm.command.results", lambda r: r.key == command["command_id"])
        if result.value["outcome"] != "accepted":
            raise RuntimeError(f"{type_} {target}: {result.value}")
        return result.value

    # --- what each side shows -----------------------------------------------------------------

    async def order_settled(self, number: str, caused_by: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
        """The SCM order after the command `caused_by` and the Sales order row written from that
        very event; with no command (a Sales order), once both sides have its line and total."""
        if caused_by is None:
            [event, *_] = await self.probe.wait_for(
                "scm.order.events", lambda r: r.key == number and len(r.value["order"]["lines"]) == 1)
            total = event.value["order"]["ORDERTOTALAMOUNT"]
            await self.probe.wait_for("dataverse.salesorder.writes",
                                      lambda r: r.key == number and r.value["record"].get("totalamount") == total)
        else:
            [event, *_] = await self.probe.wait_for(
                "scm.order.events", lambda r: r.key == number and r.value["caused_by"] == caused_by)
            event_id = event.value["event_id"]
            await self.probe.wait_for("dataverse.salesorder.writes",
                                      lambda r: r.key == number and r.value["caused_by"] == event_id)
        order = self._last("scm.order.events", number).value["order"]
        sales = self._last("dataverse.salesorder.writes", number).value["record"]
        return order, sales

    async def invoice_settled(self, number: str, caused_by: str) -> dict[str, Any]:
        """The Sales invoice row written from the invoice event of the post `caused_by`."""
        [event] = await self.probe.wait_for("scm.invoice.events",
                                            lambda r: r.key == number and r.value["caused_by"] == caused_by)
        event_id = event.value["event_id"]
        await self.probe.wait_for("dataverse.invoice.writes",
                                  lambda r: r.key == number and r.value["caused_by"] == event_id)
        return self._last("dataverse.invoice.writes", number).value["record"]

    def _last(self, topic: str, key: str) -> Record:
        return self.probe.matching(topic, lambda r: r.key == key)[-1]

    def quotation(self, number: str) -> dict[str, Any]:
        return self._last("scm.quote.events", number).value["quotation"]

    async def row(self, step: str, quotation: str, order_number: str | None, caused_by: str | None = None,
                  invoice: tuple[str, str] | None = None) -> None:
        """Once both sides show the step, print its row. `invoice`: (number, post command id)."""
        order, sales = await self.order_settled(order_number, caused_by) if order_number else ({}, {})
        quote = self.quotation(quotation)
        cells = [step, quote["SALESQUOTATIONSTATUS"], quote["GENERATEDSALESORDERNUMBER"] or "-"]
        if not order:
            cells += ["-"] * 5
        else:
            code, state = sales.get("msdyn_processingstatus"), (sales.get("statecode"), sales.get("statuscode"))
            cells += [order["SALESORDERSTATUS"], order["SALESORDERDOCUMENTSTATUS"],
                      order["SALESORDERPROCESSINGSTATUS"], f"{PROCESSING_NAMES.get(code, '?')} ({code})",
                      f"{ORDER_STATE_NAMES.get(state, '?')} {state[0]}/{state[1]}"]
        if invoice is None:
            cells += ["", ""]
        else:
            record = await self.invoice_settled(*invoice)
            cells += [record["msdyn_invoicenumber"], record["msdyn_totalamount"]]
        self.order_rows.append(cells)
        if len(self.order_rows) == 1:
            print("  " + " | ".join(c.ljust(w) for c, w in zip(COLUMNS, WIDTHS, strict=True)))
            print("  " + "-+-".join("-" * w for w in WIDTHS))
        print("  " + " | ".join(v.ljust(w) for v, w in zip(cells, WIDTHS, strict=True)))


async def run_order_to_cash(bootstrap: str, watch: Watched, login: KafkaCredentials | None = None) -> None:
    async with TopicProbe(bootstrap, TOPICS, watch=watch, credentials=login) as probe:
        run = uuid4().hex[:4].upper()
        await order_to_cash(OrderStage(probe), f"C-{run}6", f"C-SO-{run}1")


async def order_to_cash(stage: OrderStage, quote: str, order: str) -> None:
    print(f"\nOrder to cash: quotation {quote} won in Sales becomes Sales order {order}; SCM confirms, picks, "
          "delivers and invoices it")
    print("  quotation: SALESQUOTATIONSTATUS, → order: its GENERATEDSALESORDERNUMBER (scm.quote.events); "
          "SCM status, document, processing (SCM): SALESORDERSTATUS, SALESORDERDOCUMENTSTATUS, "
          "SALESORDERPROCESSINGSTATUS (scm.order.events);\n  Sales processing: msdyn_processingstatus, Sales state: "
          "statecode/statuscode (the last dataverse.salesorder.writes of the order); invoice, amount: "
          "msdyn_invoicenumber, msdyn_totalamount (dataverse.invoice.writes)")
    await stage.sales(quote, "create", name="Office PCs", customerid="US-001", transactioncurrencyid="USD",
                      statecode=0, statuscode=1, revisionnumber=0)
    await stage.sales_line(quote)
    await stage.settled(quote, "created")
    await stage.row(f"Sales: create {quote} with a line", quote, None)
    await stage.sales(quote, "update", statecode=1, statuscode=2)
    await stage.settled(quote, "sent")
    await stage.row(f"Sales: activate {quote}", quote, None)
    # Create order (win): the quote update to 2/4, then the salesorder create naming it, then its line.
    await stage.sales(quote, "update", statecode=2, statuscode=4)
    await stage.sales_order(order, quote)
    await stage.settled(quote, "confirmed")
    await stage.probe.wait_for("scm.quote.events", lambda r: r.key == quote
                               and r.value["quotation"]["GENERATEDSALESORDERNUMBER"] == order)
    await stage.row(f"Sales: win {quote}, create {order}", quote, order)

    orders, invoices = "scm.order.commands", "scm.invoice.commands"
    steps: list[tuple[str, str, str, dict[str, Any] | None]] = [
        ("SCM: confirm", orders, "order.confirm", None),
        ("SCM: picking list", orders, "order.pick", None),
        ("SCM: packing slip 1 (1 of 3)", orders, "order.deliver", {"lines": line_1("1")}),
        ("SCM: packing slip 2 (2 of 3)", orders, "order.deliver", {"lines": line_1("2")}),
        ("SCM: invoice 1 (1 of 3)", invoices, "invoice.post", {"sales_order_number": order, "lines": line_1("1")}),
        ("SCM: invoice 2 (2 of 3)", invoices, "invoice.post", {"sales_order_number": order, "lines": line_1("2")}),
    ]
    for step, topic, type_, data in steps:
        result = await stage.scm_on(topic, type_, order, data)
        invoice = (result["target"], result["command_id"]) if type_ == "invoice.post" else None
        await stage.row(step, quote, order, result["command_id"], invoice)

    posted = [r.value["record"] for r in stage.probe.matching(
        "dataverse.invoice.writes", lambda r: r.value["record"].get("msdyn_salesordernumber") == order)]
    total = stage.probe.matching("dataverse.salesorder.writes", lambda r: r.key == order)[-1].value["record"]
    print(f"  Sales: invoices of {order}: " + " + ".join(
        f"{w['msdyn_invoicenumber']} {w['msdyn_totalamount']}" for w in posted)
        + f" = order totalamount {total['totalamount']}")
    await free_text(stage)


def line_1(quantity: str) -> list[dict[str, Any]]:
    return [{"sequence_number": 1, "quantity": quantity}]


async def free_text(stage: OrderStage) -> None:
    result = await stage.scm_on("scm.invoice.commands", "invoice.post-free-text", None, {
        "customer_account": "US-001", "currency": "USD",
        "lines": [{"description": "Consulting", "ledger_account": "401100", "amount": "250.00"}]})
    number = result["target"]
    [event] = await stage.probe.wait_for("scm.invoice.events", lambda r: r.key == number)
    invoice = event.value["invoice"]
    await stage.probe.quiescent()  # the stack is quiet: a write to Sales would be here by now
    to_sales = stage.probe.matching("dataverse.invoice.writes", lambda r: r.key == number) + stage.probe.matching(
        "dataverse.invoicedetail.writes", lambda r: r.key.startswith(f"{number}/"))
    print(f"\nFree-text invoice (SCM invoice.post-free-text, no sales order): {number}")
    print(f"  SCM   scm.invoice.events: {event.value['type']} {invoice['INVOICENUMBER']}, SALESORDERNUMBER "
          f"{json.dumps(invoice['SALESORDERNUMBER'])}, {invoice['lines'][0]['DESCRIPTION']} "
          f"{invoice['TOTALINVOICEAMOUNT']} {invoice['CURRENCYCODE']}")
    print(f"  Sales dataverse.invoice.writes / invoicedetail.writes for {number} once the stack is quiet: "
          f"{len(to_sales)}" + (" (never written to Sales)" if not to_sales else " (unexpected!)"))
