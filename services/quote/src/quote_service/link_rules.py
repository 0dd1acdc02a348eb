"""When a quotation takes the number of the sales order made from it (DOMAIN.md §7,
docs/orders-and-invoices.md "The link to the quotation"). Pure: no I/O.

Three moments can link: the order's event, the confirm, and the processor's
`link-sales-order` message. Exactly one of them must, so each rule defers to the others."""

from .domain import LINK_SALES_ORDER, Features, LifecycleEffect, Quotation, defers_to_processor


def links_on_order_event(quote: Quotation, features: Features, link_queued: bool) -> bool:
    """Does an order naming `quote` link it at once?

    No when it is linked already, or when a queued `link-sales-order` will do it. No either
    for a quotation whose confirm will queue that message (processor on, not yet confirmed):
    linking now would put the link before the confirmation journal (DOMAIN §6)."""
    if quote.generated_sales_order is not None or link_queued:
        return False
    awaits_deferred_confirm = defers_to_processor(quote, features) and quote.status != "confirmed"
    return not awaits_deferred_confirm


def links_on_confirm(action: str, effect: LifecycleEffect) -> bool:
    """Does this applied step take its order from `order_link`? Only a confirm that leaves
    the quotation unlinked and queues no `link-sales-order` (which links later itself)."""
    if action != "confirm" or effect.quote.generated_sales_order is not None:
        return False
    return not any(message.type == LINK_SALES_ORDER for message in effect.queued)


def order_for_link_message(message_order: str | None, linked_order: str | None,
                           current_order: str | None) -> str | None:
    """The order a `link-sales-order` message links: the one the win named, else the order
    that named the quotation, else the one it has; None = not known yet (the message waits)."""
    return message_order or linked_order or current_order
