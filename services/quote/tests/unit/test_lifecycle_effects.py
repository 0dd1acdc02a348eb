"""What an approved lifecycle step does to a quotation (DOMAIN.md §1, §2, §6;
docs/quote-lifecycle.md "The message processor").

- send → `sent`, confirm → `confirmed`, lose → `lost`, cancel → `cancelled`, revise → `revised`;
  delete removes the quotation; change ownership sets Ownership (Origin never changes).
- Journals: with `UseMessageProcessor` on and the lifecycle integrated, a Sales-owned quotation
  (effective owner Sales) that is sent queues `create-quotation-journal` when
  `CreateQuotationJournalInBatch`; a confirm queues `create-quotation-confirmation-journal`
  (when `CreateConfirmationJournalInBatch`) and `link-sales-order` depending on it. Otherwise
  journals are created at once. SCM-owned quotations always get their journal at once.
  `MessageProcessorRunning` only says when queued messages are taken, never what is queued.

`expected_plan` writes the rules out; `HAND_WRITTEN` rows spell out the main cases literally.
"""

import itertools
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from quote_service.domain import Features, Journal, LifecycleEffect, Line, QueuedMessage, Quotation, apply_lifecycle

SCM = "SCM"
SALES = "Dynamics365Sales"
BASED_ON_ORIGIN = "BasedOnOrigin"

QUOTATION_JOURNAL = "create-quotation-journal"
CONFIRMATION_JOURNAL = "create-quotation-confirmation-journal"
LINK_SALES_ORDER = "link-sales-order"

LINE = Line(sequence=1, product="PC-1", quantity=Decimal("3"), unit_price=Decimal("500.00"),
            line_discount=Decimal("3.33"), charges=Decimal("-0.01"), site="1", warehouse="11")

# (origin, ownership) giving each effective owner (DOMAIN §1).
SCM_OWNED = ((SCM, BASED_ON_ORIGIN), (SALES, SCM))
SALES_OWNED = ((SALES, BASED_ON_ORIGIN), (SCM, SALES))


def quote(status: str = "created", origin: str = SCM, ownership: str = BASED_ON_ORIGIN, **kw: Any) -> Quotation:
    return Quotation(number="F-000007", status=status, origin=origin, ownership=ownership, customer="US-001",
                     currency="USD", name="Office PCs", lines=(LINE,), version=4, **kw)


def effective_owner(origin: str, ownership: str) -> str:
    return origin if ownership == BASED_ON_ORIGIN else ownership


# --- status after each step -----------------------------------------------------------------------


@pytest.mark.parametrize(("origin", "ownership"), [pytest.param(*p, id=f"origin={p[0]}-ownership={p[1]}")
                                                   for p in (*SCM_OWNED, *SALES_OWNED)])
@pytest.mark.parametrize(
    ("action", "before", "after"),
    [
        pytest.param("send", "created", "sent", id="send"),
        pytest.param("confirm", "sent", "confirmed", id="confirm-from-sent"),
        pytest.param("confirm", "created", "confirmed", id="confirm-from-created"),
        pytest.param("lose", "sent", "lost", id="lose"),
        pytest.param("cancel", "sent", "cancelled", id="cancel"),
        pytest.param("revise", "sent", "revised", id="revise"),
    ],
)
def test_status_after_an_approved_step(action: str, before: str, after: str, origin: str, ownership: str) -> None:
    start = quote(before, origin, ownership)

    effect = apply_lifecycle(start, action, {}, Features())

    assert effect.quote.status == after
    assert effect.deleted is False
    # Nothing else about the quotation changes (origin and ownership included).
    assert replace(effect.quote, status=before, generated_sales_order=None) == start


@pytest.mark.parametrize("action", ["lose", "cancel", "revise"])
@pytest.mark.parametrize(
    "features",
    [
        pytest.param(Features(), id="defaults"),
        pytest.param(Features(use_message_processor=True), id="message-processor-on"),
    ],
)
@pytest.mark.parametrize(("origin", "ownership"), [pytest.param(*p, id=f"origin={p[0]}-ownership={p[1]}")
                                                   for p in (SCM_OWNED[0], SALES_OWNED[0])])
def test_closing_steps_create_no_journal_and_queue_nothing(action: str, features: Features, origin: str,
                                                           ownership: str) -> None:
    effect = apply_lifecycle(quote("sent", origin, ownership), action, {"reason": "price"}, features)

    assert (effect.journals, effect.queued) == ((), ())


@pytest.mark.parametrize("status", ["created", "sent"])
def test_delete(status: str) -> None:
    start = quote(status)

    effect = apply_lifecycle(start, "delete", {}, Features())

    assert effect.deleted is True
    assert effect.quote == start
    assert (effect.journals, effect.queued) == ((), ())


@pytest.mark.parametrize(
    ("origin", "before", "after"),
    [
        pytest.param(origin, before, after, id=f"origin={origin}-{before}-to-{after}")
        for origin, before, after in itertools.product(
            (SCM, SALES), (BASED_ON_ORIGIN, SCM, SALES), (BASED_ON_ORIGIN, SCM, SALES))
        if before != after
    ],
)
def test_change_ownership_sets_ownership_and_keeps_origin(origin: str, before: str, after: str) -> None:
    start = quote("sent", origin, before)

    effect = apply_lifecycle(start, "change-ownership", {"ownership": after}, Features())

    assert effect.quote == replace(start, ownership=after)
    assert effect.quote.origin == origin
    assert (effect.journals, effect.queued, effect.deleted) == ((), (), False)


# --- journals and processor messages -----------------------------------------------------------------


def expected_plan(action: str, owner: str, f: Features, order: str | None) -> tuple[tuple, tuple]:
    """(journals created now, messages queued) for send / confirm, from DOMAIN §6 and the design."""
    deferred = f.lifecycle_integration and f.use_message_processor and owner == SALES
    if action == "send":
        if deferred and f.quotation_journal_in_batch:
            return (), (QueuedMessage(QUOTATION_JOURNAL),)
        return ("quotation",), ()
    if deferred and f.confirmation_journal_in_batch:
        return (), (QueuedMessage(CONFIRMATION_JOURNAL),
                    QueuedMessage(LINK_SALES_ORDER, depends_on=0, sales_order_number=order))
    if deferred:
        return ("confirmation",), (QueuedMessage(LINK_SALES_ORDER, sales_order_number=order),)
    return ("confirmation",), ()


def _on(flag: bool) -> str:
    return "on" if flag else "off"


PLAN_CASES = [
    pytest.param(
        action, origin, ownership, features,
        id=f"{action}-owner={'Sales' if effective_owner(origin, ownership) == SALES else 'SCM'}"
           f"(origin={origin},ownership={ownership})-lifecycle={_on(features.lifecycle_integration)}"
           f"-processor={_on(features.use_message_processor)}"
           f"-quotationjournalinbatch={_on(features.quotation_journal_in_batch)}"
           f"-confirmationjournalinbatch={_on(features.confirmation_journal_in_batch)}"
           f"-processorrunning={_on(features.processor_running)}",
    )
    for action in ("send", "confirm")
    for origin, ownership in (*SCM_OWNED, *SALES_OWNED)
    for lifecycle, processor, qjb, cjb, running in itertools.product((True, False), repeat=5)
    for features in [Features(lifecycle_integration=lifecycle, use_message_processor=processor,
                              quotation_journal_in_batch=qjb, confirmation_journal_in_batch=cjb,
                              processor_running=running)]
]


@pytest.mark.parametrize(("action", "origin", "ownership", "features"), PLAN_CASES)
def test_journal_plan_matrix(action: str, origin: str, ownership: str, features: Features) -> None:
    start = quote("created" if action == "send" else "sent", origin, ownership)

    effect = apply_lifecycle(start, action, {"sales_order_number": "SO-1"}, features)

    journals, queued = expected_plan(action, effective_owner(origin, ownership), features, "SO-1")
    assert (effect.journals, effect.queued) == (journals, queued)


ON = Features(use_message_processor=True)
HAND_WRITTEN = [
    # SCM-owned: the journal at once, whatever the processor features say.
    pytest.param("send", SCM, BASED_ON_ORIGIN, Features(), ("quotation",), (), id="send-scm-owned-defaults"),
    pytest.param("send", SCM, BASED_ON_ORIGIN, ON, ("quotation",), (), id="send-scm-owned-processor-on"),
    pytest.param("send", SALES, SCM, ON, ("quotation",), (), id="send-sales-origin-scm-ownership-processor-on"),
    pytest.param("confirm", SCM, BASED_ON_ORIGIN, ON, ("confirmation",), (), id="confirm-scm-owned-processor-on"),
    pytest.param("confirm", SCM, BASED_ON_ORIGIN, Features(), ("confirmation",), (), id="confirm-scm-owned"),
    # Sales-owned, processor on: queued.
    pytest.param("send", SALES, BASED_ON_ORIGIN, ON, (), (QueuedMessage(QUOTATION_JOURNAL),),
                 id="send-sales-owned-processor-on"),
    pytest.param("send", SCM, SALES, ON, (), (QueuedMessage(QUOTATION_JOURNAL),),
                 id="send-scm-origin-sales-ownership-processor-on"),
    pytest.param("send", SALES, BASED_ON_ORIGIN, replace(ON, processor_running=False), (),
                 (QueuedMessage(QUOTATION_JOURNAL),), id="send-sales-owned-processor-stopped-still-queues"),
    pytest.param("send", SALES, BASED_ON_ORIGIN, replace(ON, quotation_journal_in_batch=False), ("quotation",), (),
                 id="send-sales-owned-not-in-batch"),
    pytest.param("confirm", SALES, BASED_ON_ORIGIN, ON, (),
                 (QueuedMessage(CONFIRMATION_JOURNAL),
                  QueuedMessage(LINK_SALES_ORDER, depends_on=0, sales_order_number="SO-1")),
                 id="confirm-sales-owned-processor-on"),
    pytest.param("confirm", SALES, BASED_ON_ORIGIN, replace(ON, confirmation_journal_in_batch=False),
                 ("confirmation",), (QueuedMessage(LINK_SALES_ORDER, depends_on=None, sales_order_number="SO-1"),),
                 id="confirm-sales-owned-confirmation-not-in-batch"),
    # Sales-owned, processor off or lifecycle off: at once.
    pytest.param("send", SALES, BASED_ON_ORIGIN, Features(), ("quotation",), (), id="send-sales-owned-processor-off"),
    pytest.param("confirm", SALES, BASED_ON_ORIGIN, Features(), ("confirmation",), (),
                 id="confirm-sales-owned-processor-off"),
    pytest.param("send", SALES, BASED_ON_ORIGIN, replace(ON, lifecycle_integration=False), ("quotation",), (),
                 id="send-sales-owned-lifecycle-off"),
    pytest.param("confirm", SALES, BASED_ON_ORIGIN, replace(ON, lifecycle_integration=False), ("confirmation",), (),
                 id="confirm-sales-owned-lifecycle-off"),
]


@pytest.mark.parametrize(("action", "origin", "ownership", "features", "journals", "queued"), HAND_WRITTEN)
def test_journal_plan_hand_written(action: str, origin: str, ownership: str, features: Features,
                                   journals: tuple[str, ...], queued: tuple[QueuedMessage, ...]) -> None:
    start = quote("created" if action == "send" else "sent", origin, ownership)

    effect = apply_lifecycle(start, action, {"sales_order_number": "SO-1"}, features)

    assert expected_plan(action, effective_owner(origin, ownership), features, "SO-1") == (journals, queued)
    assert (effect.journals, effect.queued) == (journals, queued)


# --- the sales order number of a confirm ----------------------------------------------------------


@pytest.mark.parametrize(
    ("origin", "features", "data", "generated", "link_order"),
    [
        pytest.param(SCM, Features(), {"sales_order_number": "SO-1"}, "SO-1", None, id="at-once-sets-order"),
        pytest.param(SALES, Features(), {"sales_order_number": "SO-1"}, "SO-1", None,
                     id="sales-owned-processor-off-sets-order"),
        pytest.param(SCM, Features(), {}, None, None, id="at-once-without-order"),
        pytest.param(SALES, ON, {"sales_order_number": "SO-1"}, None, "SO-1", id="deferred-order-on-link-message"),
        pytest.param(SALES, replace(ON, confirmation_journal_in_batch=False), {"sales_order_number": "SO-1"}, None,
                     "SO-1", id="journal-at-once-order-still-on-link-message"),
        pytest.param(SALES, ON, {}, None, None, id="deferred-without-order"),
    ],
)
def test_confirm_carries_the_sales_order_number(origin: str, features: Features, data: dict[str, Any],
                                                generated: str | None, link_order: str | None) -> None:
    effect = apply_lifecycle(quote("sent", origin), "confirm", data, features)

    assert effect.quote.generated_sales_order == generated
    links = [m for m in effect.queued if m.type == LINK_SALES_ORDER]
    assert [m.sales_order_number for m in links] == ([link_order] if links else [])
    if features.use_message_processor and origin == SALES:
        assert len(links) == 1


def test_confirm_without_order_keeps_an_existing_generated_order() -> None:
    effect = apply_lifecycle(quote("sent", generated_sales_order="SO-0"), "confirm", {}, Features())

    assert effect.quote.generated_sales_order == "SO-0"


def test_apply_lifecycle_keeps_existing_journals() -> None:
    start = quote("created", journals=(Journal("QJ-000001", "quotation"),))

    effect = apply_lifecycle(start, "send", {}, Features())

    assert effect.quote.journals == (Journal("QJ-000001", "quotation"),)


def test_lifecycle_effect_defaults() -> None:
    effect = LifecycleEffect(quote())

    assert (effect.journals, effect.queued, effect.deleted) == ((), (), False)
