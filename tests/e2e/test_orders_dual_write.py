"""Sales orders and invoices through the running stack, both directions (issue 7): a Sales
system and an SCM user that speak only the contract (docs/contract.md §1.1, §2.1, §4.1,
§5.1) see orders made from wins and confirms, the processing status move through the
reference's variant B table, invoices that add up, and every Sales refusal with its
restoring write."""

import asyncio
from collections.abc import Callable
from typing import Any
from uuid import uuid4

import pytest

from .admin_clients import admin, map_line, wait_error, wait_state
from .quote_clients import QUOTE_TOPICS, QuoteClients, line, now
from .sales_clients import DATAVERSE_TOPICS, LINE_STATUS, ORDER_STATE, ORDER_TOPICS, PROCESSING, SalesSystem

SCM_TOPICS = ["scm.order.events", "scm.invoice.events"]


class ScmOrders:
    """An SCM user on scm.order.commands / scm.invoice.commands."""

    def __init__(self, quotes: QuoteClients) -> None:
        self.probe = quotes.probe

    async def command(self, topic: str, type_: str, target: str | None, data: dict[str, Any] | None = None,
                      key: str | None = None) -> dict[str, Any]:
        command = {"command_id": str(uuid4()), "type": type_, "issued_at": now(),
                   "user": {"name": "bob", "privileges": []}, "target": target, "data": data or {}}
        await self.probe.publish(topic, key or target or command["command_id"], command)
        [result] = await self.probe.wait_for("scm.command.results", lambda r: r.key == command["command_id"])
        return result.value

    async def order(self, type_: str, number: str | None, data: dict[str, Any] | None = None) -> dict[str, Any]:
        return await self.command("scm.order.commands", type_, number, data)

    async def invoice(self, number: str, lines: list[tuple[int, str]]) -> dict[str, Any]:
        data = {"sales_order_number": number, "lines": [{"sequence_number": s, "quantity": q} for s, q in lines]}
        return await self.command("scm.invoice.commands", "invoice.post", number, data)

    async def order_state(self, number: str, predicate: Callable[[dict[str, Any]], bool] = lambda o: True,
                          timeout: float = 30) -> dict[str, Any]:
        [record, *_] = await self.probe.wait_for(
            "scm.order.events", lambda r: r.key == number and predicate(r.value["order"]), timeout=timeout)
        return record.value["order"]


@pytest.fixture
async def parties(probe_factory) -> tuple[SalesSystem, QuoteClients, ScmOrders]:
    probe = await probe_factory(*DATAVERSE_TOPICS, *ORDER_TOPICS, *QUOTE_TOPICS, *SCM_TOPICS)
    quotes = QuoteClients(probe)
    return SalesSystem(probe), quotes, ScmOrders(quotes)


def state(record: dict[str, Any]) -> tuple[int, int]:
    return record["statecode"], record["statuscode"]


async def sales_order_with_lines(sales: SalesSystem, scm: ScmOrders, lines: int = 1, **columns: Any) -> str:
    number = await sales.create_order(**columns)
    for sequence in range(1, lines + 1):
        await sales.add_order_line(number, sequence)
    await scm.order_state(number, lambda o: len(o["lines"]) == lines)
    return number


async def test_a_sales_win_becomes_an_order_in_scm_linked_to_its_quote(parties) -> None:
    sales, quotes, scm = parties
    quote = await sales.create_quote()
    await sales.add_line_and_wait(quote)
    await sales.activate(quote)
    await sales.row_state(quote, "sent")
    # Create order (win): the quote update, then the salesorder create naming it, then its line
    await sales.win(quote)
    order = await sales.create_order(msdyn_quotationnumber=quote, name=None)
    await sales.add_order_line(order, 1, msdyn_shippingsite=None, msdyn_shippingwarehouse=None)

    scm_order = await scm.order_state(order, lambda o: len(o["lines"]) == 1)
    assert scm_order["SALESORDERORIGIN"] == "Dynamics365Sales"
    assert scm_order["QUOTATIONNUMBER"] == quote
    assert scm_order["SALESORDERPROCESSINGSTATUS"] == "active"
    # CopyQuotationDataToSalesOrders (on by default): what Sales left empty comes from the quotation
    assert scm_order["SALESORDERNAME"] == "Office PCs"
    [scm_line] = scm_order["lines"]
    assert (scm_line["SHIPPINGSITEID"], scm_line["SHIPPINGWAREHOUSEID"]) == ("1", "11")
    assert (scm_line["LINEDISCOUNTAMOUNT"], scm_line["TOTALCHARGESAMOUNT"], scm_line["LINEAMOUNT"]) == (
        "3.33", "-0.01", "1490.00")
    written = await sales.write("salesorder", order, lambda w: w["record"].get("totalamount") == "1490.00")
    assert state(written["record"]) == ORDER_STATE["Active"]
    assert written["record"]["msdyn_processingstatus"] == PROCESSING["active"]
    assert written["record"]["name"] == "Office PCs"
    line_write = await sales.write("salesorderdetail", f"{order}/1")
    assert line_write["record"]["extendedamount"] == "1490.00"
    assert line_write["record"]["msdyn_linestatus"] == LINE_STATUS["backorder"]
    # the link: the quotation names the order made from it, in SCM and in Sales. (The order may
    # overtake the win, which goes through the ownership service: then it links first.)
    await quotes.probe.wait_for("scm.quote.events", lambda r: r.key == quote and r.value["quotation"][
        "GENERATEDSALESORDERNUMBER"] == order and r.value["quotation"]["SALESQUOTATIONSTATUS"] == "confirmed")
    await sales.write("quote", quote, lambda w: w["record"].get("msdyn_generatedsalesordernumber") == order)


async def test_order_lines_that_arrive_before_their_order_are_held(parties) -> None:
    sales, _, scm = parties
    number = f"C-SO-{uuid4().hex[:8]}"
    for change in [await sales.add_order_line(number, 1), await sales.add_order_line(number, 2, quantity="1")]:
        await sales.taken(change)  # the lines are taken (and held) before their order exists
    await sales.create_order(number)

    order = await scm.order_state(number, lambda o: len(o["lines"]) == 2)
    assert [line["LINECREATIONSEQUENCENUMBER"] for line in order["lines"]] == [1, 2]
    assert order["ORDERTOTALAMOUNT"] == "1980.00"  # 1490.00 + (500.00 − 10.00)


async def test_an_scm_confirm_creates_the_order_and_sales_receives_it(parties) -> None:
    sales, quotes, scm = parties
    quote = await quotes.create_scm_quote(lines=2)
    result = await quotes.scm("quote.confirm", quote)
    assert result["outcome"] == "accepted", result

    [event, *_] = await quotes.probe.wait_for("scm.order.events", lambda r: r.value["order"][
        "QUOTATIONNUMBER"] == quote)
    order = event.value["order"]
    number = order["SALESORDERNUMBER"]
    assert number.startswith("F-SO-")
    assert order["SALESORDERORIGIN"] == "SCM"
    assert [line["PRODUCTNUMBER"] for line in order["lines"]] == [line(1)["product_number"], line(2)["product_number"]]
    written = await sales.write("salesorder", number)
    assert written["record"]["msdyn_quotationnumber"] == quote
    assert written["alternate_key"] == {"msdyn_salesordernumber": number}
    await sales.write("salesorderdetail", f"{number}/2")
    await quotes.probe.wait_for("scm.quote.events", lambda r: r.key == quote and r.value["quotation"][
        "GENERATEDSALESORDERNUMBER"] == number)


async def test_the_processing_status_moves_through_variant_b_on_both_sides(parties) -> None:
    sales, _, scm = parties
    number = await sales_order_with_lines(sales, scm, lines=2)
    steps: list[tuple[str, Any, str, tuple[int, int]]] = [
        ("order.confirm", None, "confirmed", ORDER_STATE["Active"]),
        ("order.pick", None, "picked", ORDER_STATE["Active"]),
        ("order.deliver", [(1, "1")], "partiallydelivered", ORDER_STATE["Active"]),
        ("order.deliver", [(1, "2"), (2, "3")], "delivered", ORDER_STATE["Fulfilled"]),
        ("invoice.post", [(1, "3")], "deliveredpartiallyinvoiced", ORDER_STATE["Fulfilled"]),
        ("invoice.post", [(2, "3")], "invoiced", ORDER_STATE["Invoiced"]),
    ]
    for type_, lines, processing, sales_state in steps:
        if type_ == "invoice.post":
            result = await scm.invoice(number, lines)
        elif lines:
            result = await scm.order(type_, number, {"lines": [{"sequence_number": s, "quantity": q}
                                                               for s, q in lines]})
        else:
            result = await scm.order(type_, number)
        assert result["outcome"] == "accepted", (type_, result)
        await scm.order_state(number, lambda o, p=processing: o["SALESORDERPROCESSINGSTATUS"] == p)
        record = await sales.order_row(number, processing)
        assert state(record) == sales_state, processing
    final = await scm.order_state(number, lambda o: o["SALESORDERPROCESSINGSTATUS"] == "invoiced")
    assert (final["SALESORDERSTATUS"], final["SALESORDERDOCUMENTSTATUS"]) == ("invoiced", "invoice")
    await sales.write("salesorderdetail", f"{number}/2",
                      lambda w: w["record"].get("msdyn_linestatus") == LINE_STATUS["invoiced"])


async def test_partially_invoiced_and_canceled_orders_reach_sales(parties) -> None:
    sales, _, scm = parties
    # the rest of variant B: an invoice before every line is delivered, and a cancel
    invoiced = await sales_order_with_lines(sales, scm, lines=2)
    assert (await scm.invoice(invoiced, [(1, "3")]))["outcome"] == "accepted"
    order = await scm.order_state(invoiced, lambda o: o["SALESORDERPROCESSINGSTATUS"] == "partiallyinvoiced")
    assert (order["SALESORDERSTATUS"], order["SALESORDERDOCUMENTSTATUS"]) == ("backorder", "invoice")
    # what is invoiced and not yet delivered counts as delivered (DOMAIN §8)
    assert [(x["DELIVEREDQUANTITY"], x["INVOICEDQUANTITY"]) for x in order["lines"]] == [("3", "3"), ("0", "0")]
    assert state(await sales.order_row(invoiced, "partiallyinvoiced")) == ORDER_STATE["Active"]

    canceled = await sales_order_with_lines(sales, scm)
    assert (await scm.order("order.cancel", canceled, {"reason": "customer"}))["outcome"] == "accepted"
    assert state(await sales.order_row(canceled, "canceled")) == ORDER_STATE["Canceled"]
    await sales.write("salesorderdetail", f"{canceled}/1",
                      lambda w: w["record"].get("msdyn_linestatus") == LINE_STATUS["canceled"])
    refused = await scm.invoice(canceled, [(1, "1")])
    assert (refused["outcome"], refused["code"], refused["text"]) == (
        "rejected", "order.invalid-transition", "The order cannot be invoiced in processing status canceled")


async def test_partial_invoices_add_up_and_reach_sales_with_the_order_owner(parties) -> None:
    sales, _, scm = parties
    number = await sales_order_with_lines(sales, scm, ownerid="team-emea")
    invoices = []
    for quantity in ("1", "1", "1"):
        result = await scm.invoice(number, [(1, quantity)])
        assert result["outcome"] == "accepted", result
        invoices.append(result["target"])
    amounts = []
    for invoice in invoices:
        header = await sales.write("invoice", invoice)
        record = header["record"]
        assert (record["statecode"], record["statuscode"], record["ispricelocked"]) == (0, 4, False)
        assert (record["ownerid"], record["msdyn_salesordernumber"]) == ("team-emea", number)
        detail = await sales.write("invoicedetail", f"{invoice}/1")
        assert detail["record"]["quantity"] == "1"
        amounts.append(detail["record"]["extendedamount"])
        assert record["msdyn_totalamount"] == detail["record"]["extendedamount"]
    assert amounts == ["496.67", "496.67", "496.66"]  # 1490.00 to the cent
    over = await scm.invoice(number, [(1, "1")])
    assert (over["outcome"], over["code"]) == ("rejected", "order.quantity-exceeded")
    assert over["text"] == "Line 1: 1 exceeds the remaining 0"


async def test_concurrent_invoice_posts_never_exceed_the_ordered_quantity(parties) -> None:
    sales, _, scm = parties
    number = await sales_order_with_lines(sales, scm)  # 3 ordered
    results = await asyncio.gather(*(scm.invoice(number, [(1, "1")]) for _ in range(5)))

    assert sorted(r["outcome"] for r in results) == ["accepted"] * 3 + ["rejected"] * 2
    order = await scm.order_state(number, lambda o: o["SALESORDERPROCESSINGSTATUS"] == "invoiced")
    assert order["lines"][0]["INVOICEDQUANTITY"] == "3"


async def test_a_free_text_invoice_is_posted_and_never_reaches_sales(parties) -> None:
    sales, _, scm = parties
    result = await scm.command("scm.invoice.commands", "invoice.post-free-text", None, {
        "customer_account": "US-001", "currency": "USD",
        "lines": [{"description": "Consulting", "ledger_account": "401100", "amount": "250.00"}]})
    assert result["outcome"] == "accepted", result
    invoice = result["target"]
    [event] = await scm.probe.wait_for("scm.invoice.events", lambda r: r.key == invoice)
    assert event.value["invoice"]["SALESORDERNUMBER"] is None
    await sales.probe.quiescent()
    assert not sales.writes("invoice", invoice)
    assert not sales.writes("invoicedetail", f"{invoice}/1")


@pytest.mark.parametrize("columns", [
    pytest.param({"statecode": 3, "statuscode": 100001}, id="status"),
    pytest.param({"msdyn_processingstatus": PROCESSING["delivered"]}, id="processing-status"),
])
async def test_a_sales_change_of_order_status_is_refused_and_put_back(parties, columns: dict[str, Any]) -> None:
    sales, _, scm = parties
    number = await sales_order_with_lines(sales, scm)
    await sales.order_row(number, "active")
    change = await sales.update_order(number, **columns)

    note = await sales.order_notification("salesorder", number, change)
    assert (note["code"], note["text"]) == ("order.status-in-scm",
                                            "Order status is maintained in Supply Chain Management")
    restored = await sales.write("salesorder", number, lambda w: w["caused_by"] == change["message_id"])
    assert state(restored["record"]) == ORDER_STATE["Active"]
    assert restored["record"]["msdyn_processingstatus"] == PROCESSING["active"]


async def test_a_sales_create_with_a_status_is_refused_and_deleted(parties) -> None:
    sales, _, _ = parties
    number = f"C-SO-{uuid4().hex[:8]}"
    await sales.create_order(number, statecode=3, statuscode=100001)
    [note] = await sales.probe.wait_for("dataverse.notifications", lambda r: r.key == number)
    assert note.value["code"] == "order.status-in-scm"
    deleted = await sales.write("salesorder", number, lambda w: w["operation"] == "delete")
    assert deleted["alternate_key"] == {"msdyn_salesordernumber": number}


async def test_a_sales_edit_past_picked_is_refused_read_only_and_put_back(parties) -> None:
    sales, _, scm = parties
    number = await sales_order_with_lines(sales, scm)
    await scm.order("order.deliver", number, {"lines": [{"sequence_number": 1, "quantity": "1"}]})
    await sales.order_row(number, "partiallydelivered")
    change = await sales.update_order_line(number, 1, quantity="5")

    note = await sales.order_notification("salesorderdetail", f"{number}/1", change)
    assert (note["code"], note["text"]) == ("order.read-only", "This order can no longer be changed in Sales")
    restored = await sales.write("salesorderdetail", f"{number}/1", lambda w: w["caused_by"] == change["message_id"])
    assert restored["record"]["quantity"] == "3"


async def test_a_sales_order_number_that_exists_is_refused_not_merged(parties) -> None:
    sales, _, scm = parties
    number = await sales_order_with_lines(sales, scm)
    second = sales.change("salesorder", "create", {"salesorderid": str(uuid4()), "msdyn_salesordernumber": number,
                                                   "name": "Other", "customerid": "US-999",
                                                   "transactioncurrencyid": "EUR", "statecode": 0, "statuscode": 1})
    await sales.send(second)

    note = await sales.order_notification("salesorder", number, second)
    assert note["code"] == "number.collision"
    restored = await sales.write("salesorder", number, lambda w: w["caused_by"] == second["message_id"])
    assert restored["record"]["customerid"] == "US-001"  # the existing order, untouched


@pytest.mark.parametrize(("operation", "deleted"), [("create", True), ("update", False), ("delete", False)])
async def test_every_sales_change_of_an_invoice_is_refused(parties, operation: str, deleted: bool) -> None:
    sales, _, scm = parties
    if deleted:
        invoice = f"C-INV-{uuid4().hex[:8]}"
    else:
        number = await sales_order_with_lines(sales, scm)
        invoice = (await scm.invoice(number, [(1, "1")]))["target"]
        await sales.write("invoice", invoice)
    change = await sales.change_invoice(operation, invoice, msdyn_totalamount="1.00")

    note = await sales.order_notification("invoice", invoice, change)
    assert (note["code"], note["text"]) == (
        "invoice.scm-only", "Invoices are created in Supply Chain Management and cannot be changed in Sales")
    put_back = await sales.write("invoice", invoice, lambda w: w["caused_by"] == change["message_id"])
    if deleted:
        assert put_back["operation"] == "delete"
    else:
        assert put_back["operation"] == "upsert" and put_back["record"]["msdyn_totalamount"] == "496.67"
    line_change = await sales.change_invoice_line(operation, invoice, 1, quantity="9")
    line_note = await sales.order_notification("invoicedetail", f"{invoice}/1", line_change)
    assert line_note["code"] == "invoice.scm-only"


async def test_a_repeated_sales_order_change_changes_nothing(parties) -> None:
    sales, _, scm = parties
    number = await sales_order_with_lines(sales, scm)
    change = await sales.update_order(number, name="Laptops")
    for _ in range(3):
        await sales.send(change)
    await scm.order_state(number, lambda o: o["SALESORDERNAME"] == "Laptops")
    await sales.probe.quiescent()

    renamed = scm.probe.matching("scm.order.events", lambda r: r.key == number and r.value["type"] == "order.updated"
                                 and r.value["caused_by"] == change["message_id"])
    assert len(renamed) == 1


@pytest.mark.parametrize("topic", ["dataverse.salesorder.changes", "dataverse.salesorderdetail.changes",
                                   "dataverse.invoice.changes", "dataverse.invoicedetail.changes",
                                   # read by the adapter (and the quote service): SCM events and answers
                                   "scm.order.events", "scm.invoice.events", "order.sales-results"])
async def test_a_poison_sales_change_goes_to_its_dead_letter_topic(probe_factory, topic: str) -> None:
    probe = await probe_factory(f"{topic}.dlq")
    key = str(uuid4())
    await probe.publish(topic, key, b"{not json")

    [dead, *_] = await probe.wait_for(f"{topic}.dlq", lambda r: r.key == key)
    assert dead.headers["error.code"] == "message.not-json"
    assert dead.headers["source.topic"] == topic


# --- the engine works for the new maps like for quotations ---------------------------------------

async def test_a_paused_order_map_queues_scm_changes_and_replays_them_in_order(running_stack, parties) -> None:
    sales, _, scm = parties
    number = await sales_order_with_lines(sales, scm)
    await sales.order_row(number, "active")
    await admin(running_stack, "pause", "sales-order-header")
    try:
        for type_ in ("order.confirm", "order.pick"):
            assert (await scm.order(type_, number))["outcome"] == "accepted"
        await scm.probe.quiescent()
        processing = [w.value["record"]["msdyn_processingstatus"] for w in sales.writes("salesorder", number)]
        assert PROCESSING["confirmed"] not in processing  # queued, not written
        row = map_line(await admin(running_stack, "maps"), "sales-order-header")
        assert row[1] == "Paused" and int(row[2]) >= 2
    finally:
        await admin(running_stack, "resume", "sales-order-header")
    await wait_state(running_stack, "sales-order-header", "Running")
    await sales.order_row(number, "picked")
    processing = [w.value["record"]["msdyn_processingstatus"] for w in sales.writes("salesorder", number)]
    # the whole sequence, in order: confirmed before picked
    assert processing.index(PROCESSING["confirmed"]) < processing.index(PROCESSING["picked"])


async def test_an_order_change_that_cannot_be_mapped_is_logged_and_retried(running_stack, parties) -> None:
    sales, _, scm = parties
    number = f"C-SO-late-{uuid4().hex[:6]}"
    await sales.update_order(number, name="Before its create")  # Sales never created it here
    error = await wait_error(running_stack, number)
    assert "sales-order-header" in error
    error_id = error.split()[0].lstrip("#")
    await sales.create_order(number)
    await scm.order_state(number)
    assert f"#{error_id}: resolved" in await admin(running_stack, "retry", error_id)
    await scm.order_state(number, lambda o: o["SALESORDERNAME"] == "Before its create")


async def test_initial_sync_writes_orders_and_invoices_first_orders(running_stack, parties) -> None:
    sales, _, scm = parties
    number = await sales_order_with_lines(sales, scm)
    invoice = (await scm.invoice(number, [(1, "3")]))["target"]
    await sales.write("invoice", invoice)
    output = await admin(running_stack, "initial-sync")

    order_write = await sales.write("salesorder", number, lambda w: w["caused_by"] == "initial-sync")
    assert order_write["record"]["msdyn_processingstatus"] == PROCESSING["invoiced"]
    invoice_write = await sales.write("invoice", invoice, lambda w: w["caused_by"] == "initial-sync")
    assert invoice_write["record"]["ownerid"] == "alice"
    await sales.write("invoicedetail", f"{invoice}/1", lambda w: w["caused_by"] == "initial-sync")
    synced = [w for w in sales.probe.records if w.topic.startswith("dataverse.") and w.topic.endswith(".writes")
              and w.value.get("caused_by") == "initial-sync"]
    # DUALWRITE-REFERENCE §4.8: order headers, order lines, quotations, quotation lines, invoices,
    # invoice lines. A reader of several topics may get them interleaved, so the order is the one
    # they were sent in: the relay sends in outbox order, which stamps their create times.
    first_sent = {t: min(w.timestamp for w in synced if w.topic == t) for t in {w.topic for w in synced}}
    assert first_sent["dataverse.salesorder.writes"] <= first_sent["dataverse.salesorderdetail.writes"] \
        <= first_sent["dataverse.invoice.writes"] <= first_sent["dataverse.invoicedetail.writes"]
    assert "rows written per map" in output


async def test_with_the_message_processor_the_sales_win_is_linked_after_the_confirmation_journal(parties) -> None:
    sales, quotes, _ = parties
    await quotes.set_feature("UseMessageProcessor", True)
    await quotes.set_parameter("MessageProcessorRunning", False)
    try:
        quote = await sales.create_quote()
        await sales.add_line_and_wait(quote)
        await sales.activate(quote)
        await sales.row_state(quote, "sent")
        await sales.win(quote)
        order = await sales.create_order(msdyn_quotationnumber=quote)
        await sales.add_order_line(order, 1)
        [link] = await quotes.probe.wait_for("scm.processor.events", lambda r: r.value["document"] == quote
                                             and r.value["type"] == "link-sales-order")
        await quotes.probe.wait_for("scm.order.events", lambda r: r.key == order)
        await quotes.probe.quiescent()
        # DOMAIN.md §6: the link waits for the processor, after the confirmation journal
        assert not quotes.probe.matching("scm.quote.events", lambda r: r.key == quote and r.value["quotation"][
            "GENERATEDSALESORDERNUMBER"] == order)
        assert (await quotes.scm("processor.run", "processor"))["outcome"] == "accepted"
        await quotes.probe.wait_for("scm.processor.events", lambda r: r.key == link.key
                                    and r.value["state"] == "Processed")
    finally:
        await quotes.set_parameter("MessageProcessorRunning", True)
        await quotes.set_feature("UseMessageProcessor", False)
    [linked] = await quotes.probe.wait_for("scm.quote.events", lambda r: r.key == quote and r.value["quotation"][
        "GENERATEDSALESORDERNUMBER"] == order)
    assert [j["type"] for j in linked.value["quotation"]["journals"]] == ["quotation", "confirmation"]
    await sales.write("quote", quote, lambda w: w["record"].get("msdyn_generatedsalesordernumber") == order)
