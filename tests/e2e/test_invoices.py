"""The invoice service through the running stack, black box: SCM users on
`scm.invoice.commands` and `scm.order.commands`, the real order service deciding on the
internal invoicing topics (docs/orders-and-invoices.md). Observed only on the topics."""

import re
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest

from .invoice_clients import (
    COMMANDS,
    DECISIONS,
    EVENTS,
    INVOICE_TOPICS,
    LINE,
    RESULTS,
    InvoiceClients,
    now,
    unknown_order,
)

INVOICE_NUMBER = re.compile(r"^F-INV-\d{6}$")
DLQ_HEADERS = {"error.code", "error.text", "source.topic", "source.partition", "source.offset"}
# LINEAMOUNT = 4 × 50.00 = 200.00
SECOND_LINE = {"sequence_number": 2, "product_number": "PC-2", "quantity": "4", "unit_price": "50.00",
               "site": "1", "warehouse": "11"}


@pytest.fixture
async def clients(probe_factory) -> InvoiceClients:
    return InvoiceClients(await probe_factory(*INVOICE_TOPICS))


async def test_an_approved_post_of_two_lines_is_requested_decided_numbered_priced_published_and_answered(
        clients: InvoiceClients) -> None:
    order = await clients.delivered_order(LINE, SECOND_LINE)
    post = clients.post_command(order, [(1, "2"), (2, "1")], invoice_date="2026-11-30")
    await clients.publish(post)

    request = await clients.request(post)
    assert request["type"] == "order.invoicing-request"
    assert request["key"] == order
    assert request["payload"] == {"request_id": post["command_id"], "sales_order_number": order,
                                  "lines": [{"sequence_number": 1, "quantity": "2"},
                                            {"sequence_number": 2, "quantity": "1"}]}
    decision = await clients.decision(post)
    assert decision["type"] == "order.invoicing-approved"
    assert decision["key"] == order
    assert decision["payload"] == {
        "request_id": post["command_id"], "sales_order_number": order, "outcome": "approved",
        "code": None, "text": None, "customer_account": "US-001", "currency": "USD",
        "lines": [
            {"sequence_number": 1, "product_number": "PC-1", "quantity": "2", "unit_price": "500.00",
             "line_amount": "1490.00", "ordered_quantity": "3", "invoiced_before": "0", "completes_line": False},
            {"sequence_number": 2, "product_number": "PC-2", "quantity": "1", "unit_price": "50.00",
             "line_amount": "200.00", "ordered_quantity": "4", "invoiced_before": "0", "completes_line": False},
        ]}

    result = await clients.result(post)
    assert result["outcome"] == "accepted", result
    assert result["type"] == "invoice.post"
    number = result["target"]
    assert INVOICE_NUMBER.match(number)
    [record] = await clients.probe.wait_for(EVENTS, lambda r: r.key == number)
    event = record.value
    assert event["type"] == "invoice.posted"
    assert event["version"] == 1
    assert event["caused_by"] == post["command_id"]
    assert event["event_id"] and event["occurred_at"]
    assert event["invoice"] == {
        "INVOICENUMBER": number, "SALESORDERNUMBER": order, "INVOICECUSTOMERACCOUNTNUMBER": "US-001",
        "CURRENCYCODE": "USD", "INVOICEDATE": "2026-11-30", "TOTALINVOICEAMOUNT": "1043.33",
        "lines": [
            {"LINECREATIONSEQUENCENUMBER": 1, "PRODUCTNUMBER": "PC-1", "DESCRIPTION": None, "LEDGERACCOUNT": None,
             "INVOICEDQUANTITY": "2", "SALESPRICE": "500.00", "LINEAMOUNT": "993.33"},
            {"LINECREATIONSEQUENCENUMBER": 2, "PRODUCTNUMBER": "PC-2", "DESCRIPTION": None, "LEDGERACCOUNT": None,
             "INVOICEDQUANTITY": "1", "SALESPRICE": "50.00", "LINEAMOUNT": "50.00"},
        ],
    }
    assert sum(Decimal(line["LINEAMOUNT"]) for line in event["invoice"]["lines"]) \
        == Decimal(event["invoice"]["TOTALINVOICEAMOUNT"])


async def test_three_partial_invoices_of_a_line_add_up_to_its_line_amount(clients: InvoiceClients) -> None:
    order = await clients.delivered_order()
    amounts, numbers = [], []
    for _ in range(3):
        result = await clients.run(clients.post_command(order, [(1, "1")]))
        assert result["outcome"] == "accepted", result
        [line] = (await clients.posted(result["target"]))["invoice"]["lines"]
        amounts.append(line["LINEAMOUNT"])
        numbers.append(result["target"])

    assert amounts == ["496.67", "496.67", "496.66"]
    assert sum(map(Decimal, amounts)) == Decimal("1490.00")
    assert len(set(numbers)) == 3
    assert sorted(numbers) == numbers  # one sequence, rising


async def test_an_over_invoicing_post_is_rejected_with_the_order_services_code_and_text(
        clients: InvoiceClients) -> None:
    order = await clients.delivered_order()
    post = clients.post_command(order, [(1, "4")])
    await clients.publish(post)
    text = "Line 1: 4 exceeds the remaining 3"

    decision = await clients.decision(post)
    assert decision["type"] == "order.invoicing-rejected"
    assert (decision["payload"]["outcome"], decision["payload"]["code"], decision["payload"]["text"]) == \
        ("rejected", "order.quantity-exceeded", text)
    result = await clients.result(post)
    assert (result["outcome"], result["code"], result["text"]) == ("rejected", "order.quantity-exceeded", text)
    assert result["target"] == order
    await clients.probe.quiescent()
    assert clients.events_caused_by(post) == []
    assert len(clients.results(post)) == 1


async def test_a_post_of_an_unknown_order_is_rejected_with_the_order_services_code_and_text(
        clients: InvoiceClients) -> None:
    order = unknown_order()
    post = clients.post_command(order, [(1, "1")])
    result = await clients.run(post)

    assert (result["outcome"], result["code"], result["text"], result["target"]) == \
        ("rejected", "order.not-found", f"Sales order {order} does not exist", order)
    assert (await clients.decision(post))["type"] == "order.invoicing-rejected"
    await clients.probe.quiescent()
    assert clients.events_caused_by(post) == []


async def test_a_free_text_invoice_is_posted_at_once_without_a_sales_order(clients: InvoiceClients) -> None:
    post = clients.command("invoice.post-free-text", None, {
        "customer_account": "US-002", "currency": "EUR", "invoice_date": "2026-11-24",
        "lines": [{"description": "Consulting", "ledger_account": "401100", "amount": "250.00"},
                  {"description": "Travel", "ledger_account": "401300", "amount": "80.5"}]})
    result = await clients.run(post)

    assert result["outcome"] == "accepted", result
    assert result["type"] == "invoice.post-free-text"
    number = result["target"]
    assert INVOICE_NUMBER.match(number)
    event = await clients.posted(number)
    assert event["caused_by"] == post["command_id"]
    assert event["invoice"] == {
        "INVOICENUMBER": number, "SALESORDERNUMBER": None, "INVOICECUSTOMERACCOUNTNUMBER": "US-002",
        "CURRENCYCODE": "EUR", "INVOICEDATE": "2026-11-24", "TOTALINVOICEAMOUNT": "330.50",
        "lines": [
            {"LINECREATIONSEQUENCENUMBER": 1, "PRODUCTNUMBER": None, "DESCRIPTION": "Consulting",
             "LEDGERACCOUNT": "401100", "INVOICEDQUANTITY": "1", "SALESPRICE": "250.00", "LINEAMOUNT": "250.00"},
            {"LINECREATIONSEQUENCENUMBER": 2, "PRODUCTNUMBER": None, "DESCRIPTION": "Travel",
             "LEDGERACCOUNT": "401300", "INVOICEDQUANTITY": "1", "SALESPRICE": "80.50", "LINEAMOUNT": "80.50"},
        ],
    }
    assert clients.requests(post) == []  # no order service involved


@pytest.mark.parametrize(("type_", "data", "text"), [
    ("invoice.post", {"sales_order_number": "F-SO-000001", "lines": []},
     "data.lines must be a non-empty list of {sequence_number, quantity}"),
    ("invoice.post", {"sales_order_number": "F-SO-000001", "lines": [{"sequence_number": 1, "quantity": "0"}]},
     "data.lines[1].quantity must be greater than zero, got '0'"),
    ("invoice.post", {"lines": [{"sequence_number": 1, "quantity": "1"}]},
     "data.sales_order_number is required: a non-empty text"),
    ("invoice.post", {"sales_order_number": "F-SO-000001", "invoice_date": "30/11/2026",
                      "lines": [{"sequence_number": 1, "quantity": "1"}]},
     "data.invoice_date must be a date YYYY-MM-DD, got '30/11/2026'"),
    ("invoice.post-free-text", {"customer_account": "US-001", "currency": "USD",
                                "lines": [{"description": "x", "ledger_account": "401100", "amount": 5.5}]},
     'data.lines[1].amount must be a decimal string such as "10.00", got 5.5'),
    ("invoice.cancel", {}, "Unknown command type 'invoice.cancel'; expected one of invoice.post, "
                           "invoice.post-free-text"),
])
async def test_invalid_commands_are_refused_and_change_nothing(clients: InvoiceClients, type_, data, text) -> None:
    command = clients.command(type_, "F-SO-000001", data)
    result = await clients.run(command)

    assert (result["outcome"], result["code"], result["text"]) == ("rejected", "command.invalid", text)
    assert result["type"] == type_
    await clients.probe.quiescent()
    assert clients.requests(command) == []
    assert clients.events_caused_by(command) == []
    assert len(clients.results(command)) == 1


async def test_a_duplicate_command_and_repeated_decisions_change_nothing(clients: InvoiceClients) -> None:
    order = await clients.delivered_order()
    post = clients.post_command(order, [(1, "1")])
    await clients.publish(post)
    await clients.publish(post)  # the same command id again, before it is decided
    result = await clients.result(post)
    assert result["outcome"] == "accepted", result
    await clients.posted(result["target"])
    decision = await clients.decision(post)

    # The order service answering again: the same decision in a new envelope message.
    await clients.decide({**decision, "message_id": str(uuid4())})
    # A contradicting late rejection: the post is decided already.
    await clients.decide({**decision, "message_id": str(uuid4()), "type": "order.invoicing-rejected",
                          "payload": {"request_id": post["command_id"], "sales_order_number": order,
                                      "outcome": "rejected", "code": "order.not-found", "text": "late"}})
    await clients.probe.quiescent()

    assert len(clients.requests(post)) == 1
    assert len(clients.results(post)) == 1
    assert len(clients.events_caused_by(post)) == 1
    assert clients.probe.matching(DECISIONS + ".dlq", lambda r: r.key == order) == []
    rest = await clients.run(clients.post_command(order, [(1, "2")]))
    assert rest["outcome"] == "accepted", rest
    [line] = (await clients.posted(rest["target"]))["invoice"]["lines"]
    assert line["LINEAMOUNT"] == "993.33"  # 1490.00 − 496.67: the repeats recorded no money


async def test_a_decision_for_an_unknown_request_is_ignored(clients: InvoiceClients) -> None:
    order = await clients.delivered_order()
    request_id = str(uuid4())
    stray = {"message_id": str(uuid4()), "type": "order.invoicing-approved", "version": 1, "occurred_at": now(),
             "producer": "order", "source_system": "internal", "correlation_id": request_id, "key": order,
             "payload": {"request_id": request_id, "sales_order_number": order, "outcome": "approved",
                         "customer_account": "US-001", "currency": "USD",
                         "lines": [{"sequence_number": 1, "product_number": "PC-1", "quantity": "1",
                                    "unit_price": "500.00", "line_amount": "1490.00", "ordered_quantity": "3",
                                    "invoiced_before": "0", "completes_line": False}]}}
    await clients.decide(stray)
    # A later post of the whole line takes the whole line amount: the stray approval recorded
    # nothing as invoiced.
    result = await clients.run(clients.post_command(order, [(1, "3")]))
    assert result["outcome"] == "accepted", result
    [line] = (await clients.posted(result["target"]))["invoice"]["lines"]
    assert line["LINEAMOUNT"] == "1490.00"
    await clients.probe.quiescent()
    assert clients.probe.matching(EVENTS, lambda r: r.value["caused_by"] == request_id) == []
    assert clients.probe.matching(RESULTS, lambda r: r.key == request_id) == []
    assert clients.probe.matching(DECISIONS + ".dlq", lambda r: r.key == order) == []


@pytest.mark.parametrize("topic", [COMMANDS, DECISIONS])
async def test_poison_records_go_to_the_dlq_and_later_messages_still_work(clients: InvoiceClients, topic) -> None:
    order = unknown_order()
    bad = [b"{not json", b'{"type": "invoice.post"}' if topic == COMMANDS else b'{"type": "order.invoicing-approved"}']
    for raw in bad:
        await clients.probe.publish(topic, order, raw)

    letters = await clients.probe.wait_for(topic + ".dlq", lambda r: r.raw in bad, count=len(bad))
    for letter in letters:
        assert letter.key == order
        assert set(letter.headers) == DLQ_HEADERS
        assert letter.headers["source.topic"] == topic
    codes = {letter.raw: letter.headers["error.code"] for letter in letters}
    assert codes == {bad[0]: "message.not-json", bad[1]: "message.invalid"}

    # A post of the same order (same partitions) still gets the order service's decision and its result.
    result = await clients.run(clients.post_command(order, [(1, "1")]))
    assert (result["outcome"], result["code"], result["text"]) == \
        ("rejected", "order.not-found", f"Sales order {order} does not exist")


async def test_the_invoice_number_prefix_parameter_numbers_the_next_invoice(clients: InvoiceClients,
                                                                           probe_factory) -> None:
    settings = await probe_factory("scm.command.results", "scm.feature.events")

    async def set_prefix(prefix: str) -> None:
        command = clients.command("parameter.set", "ScmInvoiceNumberPrefix",
                                  {"name": "ScmInvoiceNumberPrefix", "value": prefix})
        await settings.publish("scm.feature.commands", "ScmInvoiceNumberPrefix", command)
        [result] = await settings.wait_for("scm.command.results", lambda r: r.key == command["command_id"])
        assert result.value["outcome"] == "accepted", result.value
        [event] = await settings.wait_for("scm.feature.events",
                                          lambda r: r.headers.get("causation_id") == command["command_id"])
        await settings.consumed("invoice", event)  # its offset is committed once the value is stored

    def free_text() -> dict[str, Any]:
        return clients.command("invoice.post-free-text", None, {
            "customer_account": "US-001", "currency": "USD",
            "lines": [{"description": "Fee", "ledger_account": "401100", "amount": "1.00"}]})

    await set_prefix("T-INV-")
    try:
        renamed = await clients.run(free_text())
    finally:
        await set_prefix("F-INV-")
    back = await clients.run(free_text())

    assert re.match(r"^T-INV-\d{6}$", renamed["target"]), renamed
    assert INVOICE_NUMBER.match(back["target"]), back
    # one sequence, whatever the prefix: the digits carry on
    assert int(back["target"][-6:]) > int(renamed["target"][-6:])
