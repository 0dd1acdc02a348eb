"""The order service's quote events handled per chunk (`QuotationCopies`, docs/orders-and-
invoices.md) on the real PostgreSQL: the same quotation copies, orders and messages as the same
events one by one (the route without its chunk hooks), with versions in and out of order and a
quotation confirmed in SCM while SCM owns it (TV-17), which makes an order from its copy."""

from dataclasses import replace
from typing import Any
from uuid import uuid4

from order_service.app import MIGRATIONS, SERVICE, build
from q2c_contracts.quote import QuoteEvent
from q2c_contracts.timestamps import utc_now
from q2c_contracts.topics import SCM_QUOTE_EVENTS
from quote_service import domain as quote_domain

from .chunk_equivalence import ServiceUnderTest, same_either_way

FEATURES = quote_domain.Features()
ORDERS = ServiceUnderTest(SERVICE, MIGRATIONS, build, (
    ("quotation_copy", "number"), ("sales_order", "number"), ("sales_order_line", "number, sequence")))


def event(number: str, issuer: str, version: int, *steps: str, type_: str = "quote.updated") -> dict[str, Any]:
    quote = quote_domain.new_quotation(number, issuer, {
        "customer_account": "US-001", "currency": "USD", "name": "Office PCs",
        "lines": [{"product_number": "PC-1", "quantity": str(version), "unit_price": "500.00"}]}, FEATURES)
    for step in steps:
        quote = quote_domain.apply_lifecycle(quote, step, {}, FEATURES).quote
    quote = replace(quote, version=version)
    return QuoteEvent(event_id=str(uuid4()), type=type_, occurred_at=utc_now(), caused_by=None, version=version,
                      quotation=quote_domain.snapshot(quote)).model_dump(mode="json")


async def test_a_chunk_of_quote_events_keeps_the_copies_and_makes_the_orders_one_by_one_does(databases) -> None:
    chunk = [
        event("Q-1", "sales", 1, type_="quote.created"),
        event("Q-2", "scm", 1, type_="quote.created"),
        event("Q-1", "sales", 3),
        event("Q-1", "sales", 2),  # late: the copy stays at 3
        event("Q-2", "scm", 2, "send", type_="quote.sent"),
        event("Q-2", "scm", 3, "send", "confirm", type_="quote.confirmed"),  # SCM's own: an order
        event("Q-2", "scm", 3, "send", "confirm", type_="quote.confirmed"),  # again (another event id): no second
    ]
    state = await same_either_way(databases, ORDERS, SCM_QUOTE_EVENTS, None, chunk, chunk[:2])
    assert state["set_based"] == [True]  # the second chunk: duplicates only, nothing to start
    assert state["outcomes"] == [["handled"] * len(chunk), ["duplicate", "duplicate"]]
    assert {(r["number"], r["version"]) for r in state["tables"]["quotation_copy"]} == {("Q-1", 3), ("Q-2", 3)}
    [order] = state["tables"]["sales_order"]
    assert order["quotation_number"] == "Q-2"
    assert [value["type"] for topic, _, value in state["writes"]] == ["order.created"]
