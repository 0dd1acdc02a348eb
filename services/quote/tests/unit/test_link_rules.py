"""When a quotation takes the number of the sales order made from it (DOMAIN.md §7;
docs/orders-and-invoices.md "The link to the quotation"):

- an order naming the quotation links it at once unless it is linked already, a
  `link-sales-order` message is Queued for it, or it is a Sales-owned quotation not yet
  confirmed while the message processor is on (the confirm will queue the link after the
  confirmation journal);
- an applied confirm that queues no `link-sales-order` and leaves the quotation unlinked
  takes the recorded order;
- a `link-sales-order` message links the order its win named, else the recorded order, else
  the quotation's own; with none it waits.

`HAND_WRITTEN` rows spell out the order-event rule; the product test states it in general.
"""

import itertools
from typing import Any

import pytest

from quote_service.domain import Features, LifecycleEffect, QueuedMessage, Quotation, apply_lifecycle
from quote_service.link_rules import links_on_confirm, links_on_order_event, order_for_link_message

SCM = "SCM"
SALES = "Dynamics365Sales"
BASED_ON_ORIGIN = "BasedOnOrigin"
STATUSES = ("created", "sent", "confirmed", "lost", "cancelled")
PROCESSOR_ON = Features(use_message_processor=True)
PROCESSOR_OFF = Features()


def quote(status: str = "sent", origin: str = SALES, ownership: str = BASED_ON_ORIGIN,
          order: str | None = None) -> Quotation:
    return Quotation(number="C-0001", status=status, origin=origin, ownership=ownership, customer="US-001",
                     currency="USD", generated_sales_order=order, version=3)


# --- the order event --------------------------------------------------------------------------

HAND_WRITTEN = [
    # (quotation, features, link queued, links at once)
    pytest.param(quote("sent"), PROCESSOR_ON, False, False, id="sales-owned-sent-processor-on-waits-for-confirm"),
    pytest.param(quote("created"), PROCESSOR_ON, False, False, id="sales-owned-draft-processor-on-waits"),
    pytest.param(quote("confirmed"), PROCESSOR_ON, True, False, id="queued-link-will-do-it"),
    pytest.param(quote("confirmed"), PROCESSOR_ON, False, True, id="confirmed-while-processor-was-off"),
    pytest.param(quote("sent"), PROCESSOR_OFF, False, True, id="sales-owned-processor-off"),
    pytest.param(quote("sent", origin=SCM), PROCESSOR_ON, False, True, id="scm-owned-processor-on"),
    pytest.param(quote("sent", ownership=SCM), PROCESSOR_ON, False, True, id="sales-origin-scm-ownership"),
    pytest.param(quote("sent", origin=SCM, ownership=SALES), PROCESSOR_ON, False, False,
                 id="scm-origin-sales-ownership-waits"),
    pytest.param(quote("confirmed", origin=SCM), PROCESSOR_OFF, False, True, id="scm-confirmed-in-scm"),
    pytest.param(quote("confirmed", order="SO-1"), PROCESSOR_OFF, False, False, id="already-linked"),
    pytest.param(quote("confirmed", origin=SCM, order="SO-1"), PROCESSOR_ON, False, False,
                 id="already-linked-scm"),
    pytest.param(quote("sent"), Features(use_message_processor=True, lifecycle_integration=False), False, True,
                 id="lifecycle-not-integrated-nothing-is-deferred"),
]


@pytest.mark.parametrize(("start", "features", "link_queued", "expected"), HAND_WRITTEN)
def test_when_an_order_event_links_at_once(start: Quotation, features: Features, link_queued: bool,
                                           expected: bool) -> None:
    assert links_on_order_event(start, features, link_queued) is expected


@pytest.mark.parametrize(
    ("status", "origin", "ownership", "order", "processor", "link_queued"),
    list(itertools.product(STATUSES, (SCM, SALES), (BASED_ON_ORIGIN, SCM, SALES), (None, "SO-1"),
                           (False, True), (False, True))),
)
def test_an_order_event_links_exactly_when_no_other_moment_will(status: str, origin: str, ownership: str,
                                                                order: str | None, processor: bool,
                                                                link_queued: bool) -> None:
    start = quote(status, origin, ownership, order)
    owner = origin if ownership == BASED_ON_ORIGIN else ownership
    confirm_will_queue_link = processor and owner == SALES and status != "confirmed"
    expected = order is None and not link_queued and not confirm_will_queue_link

    assert links_on_order_event(start, Features(use_message_processor=processor), link_queued) is expected


# --- the confirm --------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("start", "features", "data", "expected"),
    [
        pytest.param(quote("sent"), PROCESSOR_OFF, {}, True, id="sales-owned-processor-off"),
        pytest.param(quote("sent", origin=SCM), PROCESSOR_ON, {}, True, id="scm-owned-processor-on"),
        pytest.param(quote("sent"), PROCESSOR_ON, {}, False, id="link-sales-order-queued"),
        pytest.param(quote("sent"), Features(use_message_processor=True, confirmation_journal_in_batch=False), {},
                     False, id="link-queued-journal-at-once"),
        pytest.param(quote("sent"), PROCESSOR_OFF, {"sales_order_number": "C-SO-1"}, False,
                     id="the-win-names-its-order"),
        pytest.param(quote("sent", order="SO-1"), PROCESSOR_OFF, {}, False, id="already-linked"),
    ],
)
def test_when_a_confirm_takes_the_recorded_order(start: Quotation, features: Features, data: dict[str, Any],
                                                 expected: bool) -> None:
    effect = apply_lifecycle(start, "confirm", data, features)

    assert links_on_confirm("confirm", effect) is expected


@pytest.mark.parametrize("action", ["send", "lose", "cancel", "revise", "change-ownership"])
def test_only_a_confirm_takes_the_recorded_order(action: str) -> None:
    assert links_on_confirm(action, LifecycleEffect(quote("sent"))) is False


def test_a_queued_link_is_recognised_by_its_type_alone() -> None:
    effect = LifecycleEffect(quote("confirmed"), queued=(QueuedMessage("create-quotation-confirmation-journal"),))
    assert links_on_confirm("confirm", effect) is True


# --- the link-sales-order message ------------------------------------------------------------------

@pytest.mark.parametrize(
    ("message_order", "linked_order", "current_order", "expected"),
    [
        pytest.param("C-SO-1", "F-SO-9", "X-1", "C-SO-1", id="the-win-named-it"),
        pytest.param(None, "F-SO-9", "X-1", "F-SO-9", id="the-recorded-order"),
        pytest.param(None, None, "X-1", "X-1", id="the-quotations-own"),
        pytest.param(None, None, None, None, id="none-known-waits"),
    ],
)
def test_the_order_a_link_message_links(message_order: str | None, linked_order: str | None,
                                        current_order: str | None, expected: str | None) -> None:
    assert order_for_link_message(message_order, linked_order, current_order) == expected
