"""The link from a quotation to the sales order made from it, through the running stack
(DOMAIN.md §7; docs/orders-and-invoices.md "The link to the quotation"). The tests play the
order service: they publish its `OrderEvent` records on `scm.order.events` (key = order
number) and observe the quotation on `scm.quote.events` and `scm.processor.events`."""

from typing import Any
from uuid import uuid4

import pytest
from aiokafka.structs import RecordMetadata

from .quote_clients import QUOTE_TOPICS, QuoteClients, now

LINKED = "quote.linked-to-sales-order"


@pytest.fixture
async def clients(probe_factory) -> QuoteClients:
    # scm.order.events too: the order service's own orders race the tests' (first order wins)
    return QuoteClients(await probe_factory(*QUOTE_TOPICS, "scm.order.events"))


def order_event(order_number: str, quotation_number: str | None, type_: str = "order.created",
                version: int = 1) -> dict[str, Any]:
    """An `OrderEvent` as the order service publishes it (CONTRACT.md §5.1)."""
    return {
        "event_id": str(uuid4()), "type": type_, "occurred_at": now(), "caused_by": None, "version": version,
        "order": {
            "SALESORDERNUMBER": order_number, "SALESORDERORIGIN": "SCM", "QUOTATIONNUMBER": quotation_number,
            "SALESORDERNAME": "Office PCs", "ORDERINGCUSTOMERACCOUNTNUMBER": "US-001", "CURRENCYCODE": "USD",
            "SALESORDERSTATUS": "backorder", "SALESORDERDOCUMENTSTATUS": "none",
            "SALESORDERPROCESSINGSTATUS": "active", "ORDERTOTALAMOUNT": "1490.00", "lines": [],
        },
    }


async def publish_order(clients: QuoteClients, event: dict[str, Any]) -> RecordMetadata:
    return await clients.probe.publish("scm.order.events", event["order"]["SALESORDERNUMBER"], event)


def new_order_number() -> str:
    return f"F-SO-{uuid4().hex[:8]}"


def events_of_type(clients: QuoteClients, number: str, type_: str) -> list[dict[str, Any]]:
    return [e.value for e in clients.events(number) if e.value["type"] == type_]


def link_messages(clients: QuoteClients, number: str, state: str) -> list[dict[str, Any]]:
    return [r.value for r in clients.probe.matching(
        "scm.processor.events", lambda r: r.value["document"] == number and r.value["type"] == "link-sales-order"
        and r.value["state"] == state)]


async def test_an_order_for_an_scm_quotation_confirmed_in_scm_links_it(clients: QuoteClients) -> None:
    number = await clients.create_scm_quote()
    assert (await clients.scm("quote.send", number))["outcome"] == "accepted"
    assert (await clients.scm("quote.confirm", number))["outcome"] == "accepted"
    confirmed = await clients.last_state(number, version=4)
    assert confirmed["quotation"]["GENERATEDSALESORDERNUMBER"] is None

    order = new_order_number()
    event = order_event(order, number)
    await publish_order(clients, event)

    [linked] = await clients.probe.wait_for("scm.quote.events",
                                            lambda r: r.key == number and r.value["type"] == LINKED)
    assert linked.value["version"] == 5
    # The first order that names the quotation links it: ours, or the one the order service
    # creates itself for an SCM quotation confirmed in SCM (docs/orders-and-invoices.md). Either
    # way the link names the order whose event caused it.
    [cause] = await clients.probe.wait_for("scm.order.events",
                                           lambda r: r.value["event_id"] == linked.value["caused_by"])
    assert cause.value["event_id"] == event["event_id"] or cause.value["caused_by"] is not None
    assert cause.value["order"]["QUOTATIONNUMBER"] == number
    assert linked.value["quotation"]["GENERATEDSALESORDERNUMBER"] == cause.value["order"]["SALESORDERNUMBER"]
    assert linked.value["quotation"]["SALESQUOTATIONSTATUS"] == "confirmed"
    # and only the first: a later order changes nothing
    await clients.probe.quiescent()
    assert len([r for r in clients.events(number) if r.value["type"] == LINKED]) == 1


async def test_an_order_before_the_win_reaches_the_confirmed_quotation(clients: QuoteClients) -> None:
    # Processor off: a Sales-owned quotation that an order names is linked at once, and the
    # win that follows keeps the number.
    number = await clients.create_sales_quote()
    assert (await clients.sales("quote.send", number))["outcome"] == "accepted"
    order = new_order_number()
    await publish_order(clients, order_event(order, number))
    await clients.probe.wait_for("scm.quote.events", lambda r: r.key == number and r.value["type"] == LINKED)

    assert (await clients.sales("quote.confirm", number))["outcome"] == "accepted"

    [confirmed] = await clients.probe.wait_for(
        "scm.quote.events", lambda r: r.key == number and r.value["type"] == "quote.confirmed")
    assert confirmed.value["quotation"]["GENERATEDSALESORDERNUMBER"] == order
    assert confirmed.value["quotation"]["SALESQUOTATIONSTATUS"] == "confirmed"


async def test_an_order_before_its_quotation_exists_is_linked_by_the_confirm(clients: QuoteClients) -> None:
    # The order names a quotation the quote service does not know yet: only the link is
    # recorded, and the confirm applied later links in the same change.
    number = f"C-{uuid4().hex[:8]}"
    order = new_order_number()
    published = await publish_order(clients, order_event(order, number))
    await clients.probe.consumed("quote", published)  # committed once the link is recorded

    await clients.create_sales_quote(number=number)
    assert (await clients.sales("quote.send", number))["outcome"] == "accepted"
    assert (await clients.sales("quote.confirm", number))["outcome"] == "accepted"

    [confirmed] = await clients.probe.wait_for(
        "scm.quote.events", lambda r: r.key == number and r.value["type"] == "quote.confirmed")
    assert confirmed.value["quotation"]["GENERATEDSALESORDERNUMBER"] == order
    await clients.probe.quiescent()
    assert events_of_type(clients, number, LINKED) == []


async def test_with_the_processor_the_link_waits_for_its_order_and_the_confirmation_journal(
        clients: QuoteClients, stopped_processor: None) -> None:
    number = await clients.create_sales_quote()
    assert (await clients.sales("quote.send", number))["outcome"] == "accepted"
    assert (await clients.sales("quote.confirm", number))["outcome"] == "accepted"  # the win names no order
    await clients.probe.wait_for("scm.processor.events", lambda r: r.value["document"] == number, count=3)
    [link] = link_messages(clients, number, "Queued")

    order = new_order_number()
    await publish_order(clients, order_event(order, number))
    await clients.probe.quiescent()
    # the queued link will make it, after the confirmation journal: the order does not link now
    assert events_of_type(clients, number, LINKED) == []

    assert (await clients.scm("processor.run", "processor"))["outcome"] == "accepted"
    await clients.probe.wait_for("scm.processor.events",
                                 lambda r: r.key == link["message_id"] and r.value["state"] == "Processed")
    final = await clients.last_state(number, version=7)
    assert [e.value["type"] for e in clients.events(number)][-3:] == [
        "quote.journal-created", "quote.confirmation-journal-created", LINKED]
    assert final["quotation"]["GENERATEDSALESORDERNUMBER"] == order
    assert [j["type"] for j in final["quotation"]["journals"]] == ["quotation", "confirmation"]


async def test_a_link_with_no_known_order_stays_queued_and_the_run_ends(clients: QuoteClients,
                                                                        stopped_processor: None) -> None:
    number = await clients.create_sales_quote()
    await clients.sales("quote.send", number)
    await clients.sales("quote.confirm", number)
    await clients.probe.wait_for("scm.processor.events", lambda r: r.value["document"] == number, count=3)
    [link] = link_messages(clients, number, "Queued")

    run = await clients.scm("processor.run", "processor")

    assert run["outcome"] == "accepted"  # the run answered: it ended
    await clients.probe.wait_for(
        "scm.processor.events", lambda r: r.value["document"] == number and r.value["state"] == "Processed", count=2)
    await clients.probe.quiescent()
    states = [r.value["state"] for r in clients.probe.matching("scm.processor.events",
                                                                lambda r: r.key == link["message_id"])]
    assert states == ["Queued"]
    state = await clients.last_state(number, version=6)
    assert state["quotation"]["GENERATEDSALESORDERNUMBER"] is None
    assert [j["type"] for j in state["quotation"]["journals"]] == ["quotation", "confirmation"]
    # a second run ends too, and the quotation's other work is not held up by the waiting link
    assert (await clients.scm("processor.run", "processor"))["outcome"] == "accepted"


async def test_repeated_and_later_orders_change_nothing(clients: QuoteClients) -> None:
    number = await clients.create_scm_quote()
    await clients.scm("quote.send", number)
    await clients.scm("quote.confirm", number)
    ours = order_event(new_order_number(), number)
    await publish_order(clients, ours)
    [linked] = await clients.probe.wait_for("scm.quote.events",
                                            lambda r: r.key == number and r.value["type"] == LINKED)
    # The linking order is ours or the one the order service makes for this SCM confirm,
    # whichever came first (see the first test): repeat exactly the event that linked.
    [cause] = await clients.probe.wait_for("scm.order.events",
                                           lambda r: r.value["event_id"] == linked.value["caused_by"])
    first = cause.value["order"]["SALESORDERNUMBER"]

    await publish_order(clients, cause.value)  # the same event again
    await publish_order(clients, ours)  # ours again, linked or not
    # a later version of ours (not of the order service's own order, whose versions are its own)
    await publish_order(clients, order_event(ours["order"]["SALESORDERNUMBER"], number, "order.confirmed", version=2))
    await publish_order(clients, order_event(new_order_number(), number))  # a later order naming the quotation
    await clients.probe.quiescent()

    [only] = events_of_type(clients, number, LINKED)
    assert only["quotation"]["GENERATEDSALESORDERNUMBER"] == first
    assert (await clients.last_state(number))["version"] == only["version"]
