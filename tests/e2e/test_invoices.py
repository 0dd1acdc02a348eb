"""The invoice service through the running stack, black box: SCM users on
`scm.invoice.commands`, and the test in the order service's part on the internal invoicing
topics (docs/orders-and-invoices.md). Observed only on the topics."""

import re

import pytest

from .invoice_clients import (
    COMMANDS,
    DECISIONS,
    EVENTS,
    INVOICE_TOPICS,
    InvoiceClients,
    OrderLine,
    order_number,
)

INVOICE_NUMBER = re.compile(r"^F-INV-\d{6}$")
DLQ_HEADERS = {"error.code", "error.text", "source.topic", "source.partition", "source.offset"}


@pytest.fixture
async def clients(probe_factory) -> InvoiceClients:
    return InvoiceClients(await probe_factory(*INVOICE_TOPICS))


@pytest.fixture
def without_order_service(running_stack) -> None:
    """These tests answer the invoicing requests themselves; with the real order service in the
    stack it would answer too (test_invoices_with_orders.py covers that case)."""
    if any(service.module == "order_service" for service in running_stack.services):
        pytest.skip("the order service answers invoicing requests in this stack")


plays_order_service = pytest.mark.usefixtures("without_order_service")


@plays_order_service
async def test_an_approved_post_is_numbered_priced_published_and_answered(clients: InvoiceClients) -> None:
    order = order_number()
    lines = {1: OrderLine(1, "3", "1490.00"), 2: OrderLine(2, "4", "200.00", unit_price="50.00")}
    post = clients.post_command(order, [(1, "2"), (2, "1")], invoice_date="2026-11-30")
    await clients.publish(post)

    request = await clients.request(post)
    assert request["type"] == "order.invoicing-request"
    assert request["key"] == order
    assert request["payload"] == {"request_id": post["command_id"], "sales_order_number": order,
                                  "lines": [{"sequence_number": 1, "quantity": "2"},
                                            {"sequence_number": 2, "quantity": "1"}]}
    await clients.decide(clients.approval(request, lines))

    result = await clients.result(post)
    assert result["outcome"] == "accepted", result
    assert result["type"] == "invoice.post"
    number = result["target"]
    assert INVOICE_NUMBER.match(number)
    event = await clients.posted(number)
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


@plays_order_service
async def test_three_partial_invoices_of_a_line_add_up_to_its_line_amount(clients: InvoiceClients) -> None:
    order = order_number()
    lines = {1: OrderLine(1, "3", "1490.00")}
    amounts, numbers = [], []
    for _ in range(3):
        post = clients.post_command(order, [(1, "1")])
        await clients.publish(post)
        await clients.decide(clients.approval(await clients.request(post), lines))
        result = await clients.result(post)
        assert result["outcome"] == "accepted", result
        [line] = (await clients.posted(result["target"]))["invoice"]["lines"]
        amounts.append(line["LINEAMOUNT"])
        numbers.append(result["target"])

    assert amounts == ["496.67", "496.67", "496.66"]
    assert len(set(numbers)) == 3
    assert sorted(numbers) == numbers  # one sequence, rising


@plays_order_service
async def test_a_rejected_post_is_answered_with_the_order_services_code_and_text(clients: InvoiceClients) -> None:
    order = order_number()
    post = clients.post_command(order, [(1, "4")])
    await clients.publish(post)
    request = await clients.request(post)
    text = "Line 1: 4 exceeds the remaining 3"
    await clients.decide(clients.decision(request, "rejected", code="order.quantity-exceeded", text=text))

    result = await clients.result(post)
    assert (result["outcome"], result["code"], result["text"]) == ("rejected", "order.quantity-exceeded", text)
    assert result["target"] == order
    await clients.probe.settle(1.0)
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
    await clients.probe.settle(1.0)
    assert clients.requests(command) == []
    assert clients.events_caused_by(command) == []
    assert len(clients.results(command)) == 1


@plays_order_service
async def test_a_duplicate_command_and_duplicate_decisions_change_nothing(clients: InvoiceClients) -> None:
    order = order_number()
    lines = {1: OrderLine(1, "3", "1490.00")}
    post = clients.post_command(order, [(1, "1")])
    await clients.publish(post)
    await clients.publish(post)  # the same command id again
    request = await clients.request(post)
    approval = clients.approval(request, lines)
    await clients.decide(approval)
    await clients.decide(approval)  # the same decision message again
    # The order service answering the repeated request again: a new message, the same decision.
    await clients.decide({**approval, "message_id": approval["message_id"] + "-again"})
    # A contradicting late rejection: the post is decided already.
    await clients.decide(clients.decision(request, "rejected", code="order.not-found", text="late"))

    result = await clients.result(post)
    assert result["outcome"] == "accepted", result
    await clients.posted(result["target"])
    await clients.probe.settle(3.0)
    assert len(clients.requests(post)) == 1
    assert len(clients.results(post)) == 1
    assert len(clients.events_caused_by(post)) == 1


@plays_order_service
async def test_a_decision_for_an_unknown_post_is_ignored(clients: InvoiceClients) -> None:
    order = order_number()
    never_asked = {"message_id": "m", "correlation_id": "c",
                   "payload": {"request_id": f"never-posted-{order}", "sales_order_number": order,
                               "lines": [{"sequence_number": 1, "quantity": "1"}]}}
    await clients.decide(clients.approval(never_asked, {1: OrderLine(1, "1", "10.00")}))
    # A later post completing the same line takes the whole line amount: the stray approval
    # recorded nothing as invoiced.
    post = clients.post_command(order, [(1, "1")])
    await clients.publish(post)
    await clients.decide(clients.approval(await clients.request(post), {1: OrderLine(1, "1", "20.00")}))
    result = await clients.result(post)
    assert result["outcome"] == "accepted", result
    [line] = (await clients.posted(result["target"]))["invoice"]["lines"]
    assert line["LINEAMOUNT"] == "20.00"
    assert clients.probe.matching(EVENTS, lambda r: r.value["caused_by"] == f"never-posted-{order}") == []


@pytest.mark.parametrize("topic", [COMMANDS, DECISIONS])
async def test_poison_records_go_to_the_dlq_and_later_messages_still_work(clients: InvoiceClients, running_stack,
                                                                          topic) -> None:
    order = order_number()
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

    # A post of the same order (same partitions) still gets its decision and its result,
    # from the real order service when the stack runs one, else from the test in its part.
    post = clients.post_command(order, [(1, "1")])
    await clients.publish(post)
    not_found = ("order.not-found", f"Sales order {order} does not exist")
    if not any(service.module == "order_service" for service in running_stack.services):
        code, text = not_found
        await clients.decide(clients.decision(await clients.request(post), "rejected", code=code, text=text))
    result = await clients.result(post)
    assert (result["outcome"], result["code"], result["text"]) == ("rejected", *not_found)


async def test_the_invoice_number_prefix_parameter_numbers_the_next_invoice(clients: InvoiceClients,
                                                                           probe_factory) -> None:
    settings = await probe_factory("scm.command.results", "scm.feature.events")

    async def set_prefix(prefix: str) -> None:
        command = clients.command("parameter.set", "ScmInvoiceNumberPrefix",
                                  {"name": "ScmInvoiceNumberPrefix", "value": prefix})
        await settings.publish("scm.feature.commands", "ScmInvoiceNumberPrefix", command)
        [result] = await settings.wait_for("scm.command.results", lambda r: r.key == command["command_id"])
        assert result.value["outcome"] == "accepted", result.value
        await settings.wait_for("scm.feature.events", lambda r: r.headers.get("causation_id") == command["command_id"])
        await settings.settle(1.0)  # the invoice service reads the event on its own consumer

    def free_text() -> dict:  # type: ignore[type-arg]
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
