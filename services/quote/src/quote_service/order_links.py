"""`scm.order.events` in the quote service: an order naming a quotation is recorded in
`order_link` and, when no later moment will do it (link_rules), links the quotation at once
(docs/orders-and-invoices.md "The link to the quotation")."""

from dataclasses import replace

import asyncpg

from q2c_contracts.order import OrderEvent
from q2c_messaging.outbox import Outbox
from q2c_observability import get_logger

from . import repository as repo
from .answers import publish_quote
from .link_rules import links_on_order_event

log = get_logger(__name__)

LINKED_EVENT = "quote.linked-to-sales-order"


async def on_order_event(conn: asyncpg.Connection, outbox: Outbox, event: OrderEvent) -> bool:
    """Apply one order event; True when a waiting `link-sales-order` may now be ready."""
    order, quotation_number = event.order.SALESORDERNUMBER, event.order.QUOTATIONNUMBER
    if quotation_number is None:
        return False
    linked = await repo.record_order_link(conn, quotation_number, order)
    if linked != order:
        log.info("order_link.ignored", quotation=quotation_number, order=order, linked_order=linked)
        return False
    quote = await repo.load(conn, quotation_number)
    if quote is None:
        log.info("order_link.unknown_quotation", quotation=quotation_number, order=order)
        return False
    link_queued = await repo.has_queued_link(conn, quote.number)
    if not links_on_order_event(quote, await repo.features(conn), link_queued):
        return link_queued
    changed = replace(quote, generated_sales_order=order, version=quote.version + 1)
    await repo.save(conn, changed)
    await publish_quote(outbox, changed, LINKED_EVENT, caused_by=event.event_id)
    log.info("order_link.linked", quotation=quote.number, order=order)
    return False
