"""Invoices of real orders: the order service decides what may be invoiced, the invoice service
prices and posts (docs/orders-and-invoices.md). SCM users only, black box on the topics."""

from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest

from .invoice_clients import DECISIONS, EVENTS, INVOICE_TOPICS, LINE, ORDER_EVENTS, RESULTS, InvoiceClients


@pytest.fixture
async def clients(probe_factory) -> InvoiceClients:
    return InvoiceClients(await probe_factory(*INVOICE_TOPICS, ORDER_EVENTS))


async def invoice_lines(clients: InvoiceClients, result: dict[str, Any]) -> list[dict[str, Any]]:
    assert result["outcome"] == "accepted", result
    return (await clients.posted(result["target"]))["invoice"]["lines"]


async def test_partial_invoices_add_up_to_the_line_amount_and_over_invoicing_is_refused(
        clients: InvoiceClients) -> None:
    order = await clients.delivered_order()

    first = await clients.run(clients.post_command(order, [(1, "1")]))
    second = await clients.run(clients.post_command(order, [(1, "2")]))
    [first_line] = await invoice_lines(clients, first)
    [second_line] = await invoice_lines(clients, second)
    assert (first_line["LINEAMOUNT"], second_line["LINEAMOUNT"]) == ("496.67", "993.33")
    assert Decimal(first_line["LINEAMOUNT"]) + Decimal(second_line["LINEAMOUNT"]) == Decimal("1490.00")
    invoice = (await clients.posted(second["target"]))["invoice"]
    assert (invoice["SALESORDERNUMBER"], invoice["INVOICECUSTOMERACCOUNTNUMBER"], invoice["CURRENCYCODE"]) \
        == (order, "US-001", "USD")

    over = await clients.run(clients.post_command(order, [(1, "1")]))
    assert (over["outcome"], over["code"], over["text"], over["target"]) == \
        ("rejected", "order.quantity-exceeded", "Line 1: 1 exceeds the remaining 0", order)
    [state] = await clients.probe.wait_for(
        ORDER_EVENTS, lambda r: r.key == order and r.value["caused_by"] == second["command_id"])
    assert state.value["type"] == "order.invoiced"
    assert state.value["order"]["SALESORDERPROCESSINGSTATUS"] == "invoiced"
    assert state.value["order"]["lines"][0]["INVOICEDQUANTITY"] == "3"


async def test_concurrent_posts_of_one_order_never_exceed_the_ordered_quantity(clients: InvoiceClients) -> None:
    order = await clients.delivered_order()
    posts = [clients.post_command(order, [(1, "2")]) for _ in range(3)]
    await clients.probe.publish_many([("scm.invoice.commands", order, post) for post in posts])
    ids = {post["command_id"] for post in posts}
    results = [r.value for r in await clients.probe.wait_for(RESULTS, lambda r: r.key in ids, count=3)]

    accepted = [r for r in results if r["outcome"] == "accepted"]
    refused = [r for r in results if r["outcome"] == "rejected"]
    assert len(accepted) == 1, results
    assert [(r["code"], r["text"]) for r in refused] == [("order.quantity-exceeded",
                                                          "Line 1: 2 exceeds the remaining 1")] * 2
    last = await clients.run(clients.post_command(order, [(1, "1")]))
    amounts = [line["LINEAMOUNT"] for result in (*accepted, last) for line in await invoice_lines(clients, result)]
    assert amounts == ["993.33", "496.67"]
    posted = clients.probe.matching(EVENTS, lambda r: r.value["invoice"]["SALESORDERNUMBER"] == order)
    assert len(posted) == 2


async def test_unknown_and_canceled_orders_are_not_invoiced(clients: InvoiceClients) -> None:
    unknown = await clients.run(clients.post_command("F-SO-999999", [(1, "1")]))
    assert (unknown["outcome"], unknown["code"], unknown["text"]) == \
        ("rejected", "order.not-found", "Sales order F-SO-999999 does not exist")

    created = await clients.order_command("order.create", None,
                                          {"customer_account": "US-001", "currency": "USD", "lines": [LINE]})
    order = created["target"]
    await clients.order_command("order.cancel", order)
    canceled = await clients.run(clients.post_command(order, [(1, "1")]))
    assert (canceled["outcome"], canceled["code"], canceled["text"]) == \
        ("rejected", "order.invalid-transition", "The order cannot be invoiced in processing status canceled")


async def test_a_replayed_or_repeated_decision_posts_nothing_more(clients: InvoiceClients) -> None:
    order = await clients.delivered_order()
    post = clients.post_command(order, [(1, "1")])
    result = await clients.run(post)
    await invoice_lines(clients, result)
    [decision] = await clients.probe.wait_for(
        DECISIONS, lambda r: r.value["payload"]["request_id"] == post["command_id"])

    await clients.decide(decision.value)  # the same message again
    await clients.decide({**decision.value, "message_id": str(uuid4())})  # the same decision, a new message
    await clients.publish(post)  # the command again: the inbox ends it, no second request
    await clients.probe.quiescent()

    assert len(clients.results(post)) == 1
    assert len(clients.events_caused_by(post)) == 1
    assert len(clients.requests(post)) == 1
    rest = await clients.run(clients.post_command(order, [(1, "2")]))
    [line] = await invoice_lines(clients, rest)
    assert line["LINEAMOUNT"] == "993.33"  # 1490.00 − 496.67: the replays recorded no money
