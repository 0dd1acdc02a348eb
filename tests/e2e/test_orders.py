"""The order service through the running stack (contract v2): SCM users on `scm.order.commands`,
Sales changes on `order.sales-commands`, invoicing requests on `order.invoicing-requests`, and
an SCM quotation confirmed in SCM (TV-17); observed only on the topics. Codes and texts are
DOMAIN.md §5's."""

from uuid import uuid4

import pytest

from .order_clients import ORDER_TOPICS, OrderClients, order_line

COLLISION = ("number.collision", "A document with this number already exists")
READ_ONLY = ("order.read-only", "This order can no longer be changed in Sales")


@pytest.fixture
async def clients(probe_factory) -> OrderClients:
    return OrderClients(await probe_factory(*ORDER_TOPICS))


def refused(result: dict, code: str, text: str) -> None:
    assert result["outcome"] == "rejected", result
    assert (result["code"], result["text"]) == (code, text)


def accepted(result: dict) -> None:
    assert result["outcome"] == "accepted", result


async def test_an_scm_order_is_confirmed_picked_and_delivered_in_two_packing_slips(clients: OrderClients) -> None:
    created = await clients.scm("order.create", None, {
        "customer_account": "US-001", "currency": "USD", "name": "Office PCs",
        "lines": [order_line(1, total_charges_amount="-0.01"), order_line(2, quantity="2", site="2")]})
    accepted(created)
    number = created["target"]
    assert number.startswith("F-SO-") and len(number) == len("F-SO-000001")
    first = await clients.state(number, 1)
    assert (first["type"], first["caused_by"]) == ("order.created", created["command_id"])
    order = first["order"]
    assert (order["SALESORDERNUMBER"], order["SALESORDERORIGIN"], order["SALESORDERPROCESSINGSTATUS"],
            order["SALESORDERSTATUS"], order["SALESORDERDOCUMENTSTATUS"]) == \
        (number, "SCM", "active", "backorder", "none")
    assert [(x["LINEAMOUNT"], x["SHIPPINGSITEID"], x["SHIPPINGWAREHOUSEID"]) for x in order["lines"]] == \
        [("1490.00", "1", "11"), ("993.34", "2", "11")]
    assert order["ORDERTOTALAMOUNT"] == "2483.34"

    accepted(await clients.scm("order.confirm", number))
    accepted(await clients.scm("order.pick", number))
    accepted(await clients.scm("order.deliver", number, {"lines": [{"sequence_number": 1, "quantity": "1"}]}))
    partly = (await clients.state(number, 4))["order"]
    assert (partly["SALESORDERPROCESSINGSTATUS"], partly["SALESORDERSTATUS"], partly["SALESORDERDOCUMENTSTATUS"]) \
        == ("partiallydelivered", "backorder", "packingslip")
    assert [x["DELIVEREDQUANTITY"] for x in partly["lines"]] == ["1", "0"]

    # over-delivery: refused, nothing changes
    refused(await clients.scm("order.deliver", number, {"lines": [{"sequence_number": 2, "quantity": "1"},
                                                                  {"sequence_number": 1, "quantity": "3"}]}),
            "order.quantity-exceeded", "Line 1: 3 exceeds the remaining 2")
    accepted(await clients.scm("order.deliver", number, {"lines": [{"sequence_number": 1, "quantity": "2"},
                                                                   {"sequence_number": 2, "quantity": "2"}]}))
    delivered = await clients.state(number, 5)
    assert delivered["type"] == "order.delivered"
    assert (delivered["order"]["SALESORDERPROCESSINGSTATUS"], delivered["order"]["SALESORDERSTATUS"]) == \
        ("delivered", "delivered")
    assert [x["SALESORDERLINESTATUS"] for x in delivered["order"]["lines"]] == ["delivered", "delivered"]

    refused(await clients.scm("order.cancel", number), "order.invalid-transition",
            "The order cannot be canceled in processing status delivered")
    await clients.probe.quiescent()
    assert [e.value["version"] for e in clients.events(number)] == [1, 2, 3, 4, 5]
    assert [e.value["type"] for e in clients.events(number)] == \
        ["order.created", "order.confirmed", "order.picked", "order.delivered", "order.delivered"]


async def test_numbers_collide_and_unknown_orders_are_not_found(clients: OrderClients) -> None:
    number = f"F-SO-T{uuid4().hex[:8]}"
    accepted(await clients.scm("order.create", None, {"customer_account": "US-001", "currency": "USD",
                                                      "sales_order_number": number}))
    again = await clients.scm("order.create", None, {"customer_account": "US-002", "currency": "EUR",
                                                     "sales_order_number": number})
    refused(again, *COLLISION)
    assert again["target"] == number
    from_sales = await clients.sales("order.create", number, {"sales_order_number": number,
                                                               "customer_account": "US-003", "currency": "USD"})
    refused(from_sales, *COLLISION)
    assert from_sales["order"]["ORDERINGCUSTOMERACCOUNTNUMBER"] == "US-001"  # the existing order

    missing = f"F-SO-M{uuid4().hex[:8]}"
    refused(await clients.scm("order.confirm", missing), "order.not-found", f"Sales order {missing} does not exist")
    sales_missing = await clients.sales("order.update", missing, {"name": "x"})
    refused(sales_missing, "order.not-found", f"Sales order {missing} does not exist")
    assert sales_missing["order"] is None
    await clients.probe.quiescent()
    assert len(clients.events(number)) == 1


async def test_an_scm_quotation_confirmed_in_scm_becomes_an_scm_order(clients: OrderClients) -> None:
    quote = await clients.scm("quote.create", None, {"customer_account": "US-001", "currency": "USD",
                                                     "name": "Quoted PCs"}, topic="scm.quote.commands")
    accepted(quote)
    quotation = quote["target"]
    for n in (1, 2):
        accepted(await clients.scm("quote.add-line", quotation,
                                   {**order_line(n), "site": str(n), "warehouse": f"{n}1"},
                                   topic="scm.quote.commands"))
    accepted(await clients.scm("quote.confirm", quotation, topic="scm.quote.commands"))

    [record] = await clients.probe.wait_for(
        "scm.order.events", lambda r: r.value["order"]["QUOTATIONNUMBER"] == quotation)
    event = record.value
    order = event["order"]
    assert (event["type"], event["version"]) == ("order.created", 1)
    assert order["SALESORDERNUMBER"].startswith("F-SO-")
    assert (order["SALESORDERORIGIN"], order["SALESORDERNAME"], order["ORDERINGCUSTOMERACCOUNTNUMBER"],
            order["CURRENCYCODE"], order["SALESORDERPROCESSINGSTATUS"]) == \
        ("SCM", "Quoted PCs", "US-001", "USD", "active")
    assert [(x["LINECREATIONSEQUENCENUMBER"], x["PRODUCTNUMBER"], x["ORDEREDSALESQUANTITY"], x["SALESPRICE"],
             x["LINEDISCOUNTAMOUNT"], x["SHIPPINGSITEID"], x["SHIPPINGWAREHOUSEID"]) for x in order["lines"]] == \
        [(1, "PC-1", "3", "500.00", "3.33", "1", "11"), (2, "PC-2", "3", "500.00", "3.33", "2", "21")]
    await clients.probe.quiescent()
    assert len(clients.probe.matching("scm.order.events",
                                      lambda r: r.value["order"]["QUOTATIONNUMBER"] == quotation)) == 1


async def test_sales_creates_an_order_and_cannot_change_it_after_delivery(clients: OrderClients) -> None:
    number = f"C-SO-{uuid4().hex[:8]}"
    accepted(await clients.sales("order.create", number, {"sales_order_number": number, "name": "From Sales",
                                                          "customer_account": "US-001", "currency": "USD"}))
    added = await clients.sales("order.add-line", number, {**order_line(1), "total_charges_amount": "-0.01"})
    accepted(added)
    assert added["order"]["lines"][0]["LINEAMOUNT"] == "1490.00"
    state = (await clients.state(number, 2))["order"]
    assert (state["SALESORDERORIGIN"], state["SALESORDERNAME"]) == ("Dynamics365Sales", "From Sales")
    accepted(await clients.sales("order.update", number, {"name": "Renamed"}))

    accepted(await clients.scm("order.deliver", number, {"lines": [{"sequence_number": 1, "quantity": "1"}]}))
    edit = await clients.sales("order.update-line", number, {"sequence_number": 1, "quantity": "5"})
    refused(edit, *READ_ONLY)
    assert edit["order"]["SALESORDERPROCESSINGSTATUS"] == "partiallydelivered"
    assert edit["order"]["lines"][0]["ORDEREDSALESQUANTITY"] == "3"
    refused(await clients.sales("order.delete", number), *READ_ONLY)
    await clients.probe.quiescent()
    assert [e.value["version"] for e in clients.events(number)] == [1, 2, 3, 4]


async def test_sales_deletes_an_active_order_with_a_final_event(clients: OrderClients) -> None:
    number = f"C-SO-{uuid4().hex[:8]}"
    accepted(await clients.sales("order.create", number, {"customer_account": "US-001", "currency": "USD"}))
    accepted(await clients.sales("order.delete", number))
    final = await clients.state(number, 2)
    assert (final["type"], final["order"]["SALESORDERNUMBER"]) == ("order.deleted", number)
    refused(await clients.scm("order.confirm", number), "order.not-found", f"Sales order {number} does not exist")


async def test_invoicing_requests_are_reserved_once_and_never_beyond_the_remainder(clients: OrderClients) -> None:
    number = await clients.create_scm_order(lines=0)
    accepted(await clients.scm("order.add-line", number, order_line(1, total_charges_amount="-0.01")))

    first = clients.invoicing_request(number, [(1, "2")])
    [approval] = await clients.invoicing(first)
    assert approval.value["type"] == "order.invoicing-approved"
    decision = approval.value["payload"]
    assert (decision["outcome"], decision["customer_account"], decision["currency"]) == ("approved", "US-001", "USD")
    assert decision["lines"] == [{"sequence_number": 1, "product_number": "PC-1", "quantity": "2",
                                  "unit_price": "500.00", "line_amount": "1490.00", "ordered_quantity": "3",
                                  "invoiced_before": "0", "completes_line": False}]
    invoiced = await clients.state(number, 3)
    assert (invoiced["type"], invoiced["caused_by"]) == ("order.invoiced", first["payload"]["request_id"])
    assert (invoiced["order"]["SALESORDERPROCESSINGSTATUS"], invoiced["order"]["SALESORDERDOCUMENTSTATUS"]) == \
        ("partiallyinvoiced", "invoice")
    assert (invoiced["order"]["lines"][0]["INVOICEDQUANTITY"], invoiced["order"]["lines"][0]["DELIVEREDQUANTITY"]) \
        == ("2", "2")

    [rejection] = await clients.invoicing(clients.invoicing_request(number, [(1, "2")]))
    assert rejection.value["type"] == "order.invoicing-rejected"
    assert (rejection.value["payload"]["code"], rejection.value["payload"]["text"]) == \
        ("order.quantity-exceeded", "Line 1: 2 exceeds the remaining 1")

    # the same request again (a new envelope, the same request id): the same decision, applied once
    repeat = clients.invoicing_request(number, [(1, "2")], request_id=first["payload"]["request_id"])
    decisions = await clients.invoicing(repeat, count=2)
    assert decisions[1].value["payload"] == decision
    await clients.probe.quiescent()
    assert [e.value["version"] for e in clients.events(number)] == [1, 2, 3]

    [unknown] = await clients.invoicing(clients.invoicing_request(f"F-SO-M{uuid4().hex[:8]}", [(1, "1")]))
    assert unknown.value["payload"]["code"] == "order.not-found"


async def test_a_command_delivered_twice_has_one_result_and_one_event(clients: OrderClients) -> None:
    number = await clients.create_scm_order()
    command = clients.scm_command("order.confirm", number)
    await clients.publish_scm(command)
    await clients.publish_scm(command)
    await clients.result(command)
    await clients.state(number, 2)
    # Sentinel: a later confirm of the same order (read after both copies, same key) whose
    # result lands on the partition of the copies' results, after any second one of them.
    sentinel = clients.scm_command("order.confirm", number)
    sentinel["command_id"] = clients.probe.key_like("scm.command.results", command["command_id"])
    await clients.publish_scm(sentinel)
    await clients.result(sentinel)
    # it is confirmed again, so its event (same key) also follows any event of a second copy
    await clients.state(number, 3)
    assert len(clients.probe.matching("scm.command.results", lambda r: r.key == command["command_id"])) == 1
    events = clients.events(number)
    assert [e.value["type"] for e in events] == ["order.created", "order.confirmed", "order.confirmed"]
    assert events[2].headers.get("causation_id") == sentinel["command_id"]


@pytest.mark.parametrize("topic", ["scm.order.commands", "order.sales-commands", "order.invoicing-requests"])
async def test_a_poison_record_goes_to_the_dlq(probe_factory, topic: str) -> None:
    dlq = f"{topic}.dlq"
    probe = await probe_factory(dlq)
    poison = f"{{not json {uuid4()}".encode()
    await probe.publish(topic, "F-SO-000001", poison)
    [letter] = await probe.wait_for(dlq, lambda r: r.raw == poison)
    assert letter.key == "F-SO-000001"
    assert (letter.headers["error.code"], letter.headers["source.topic"]) == ("message.not-json", topic)
