"""What the order service publishes: a command's answer (an SCM user's on
`scm.command.results`; a Sales change's refusal on `order.sales-results` with the authoritative
order; a Sales change carried out is answered by its event, `caused_by` = its command id, as
in the quote service, docs/orders-and-invoices.md), the order after each change on
`scm.order.events`, and invoicing decisions."""

from dataclasses import dataclass, field
from typing import Any
from uuid import uuid4

from q2c_contracts.order import InvoicingDecision, OrderEvent, SalesOrderResult
from q2c_contracts.scm import Outcome
from q2c_contracts.timestamps import utc_now
from q2c_contracts.topics import (
    ORDER_INVOICING_DECISIONS,
    ORDER_SALES_RESULTS,
    SCM_ORDER_EVENTS,
)
from q2c_messaging.outbox import Outbox
from q2c_messaging.results import answer_command

from .domain import Order, snapshot


@dataclass(frozen=True)
class Command:
    """An order command from either system, as the service handles it."""

    command_id: str
    type: str
    target: str | None
    issuer: str  # "scm" | "sales"
    data: dict[str, Any] = field(default_factory=dict)


async def accepted(outbox: Outbox, command: Command, order: Order) -> None:
    await _answer(outbox, command, "accepted", target=order.number, order=order)


async def rejected(outbox: Outbox, command: Command, code: str, text: str, *, target: str | None = None,
                   order: Order | None = None) -> None:
    await _answer(outbox, command, "rejected", code=code, text=text, target=target, order=order)


async def _answer(outbox: Outbox, command: Command, outcome: Outcome, *, code: str | None = None,
                  text: str | None = None, target: str | None = None, order: Order | None = None) -> None:
    target = target or command.target
    if command.issuer == "scm":
        await answer_command(outbox, command.command_id, command.type, target, outcome, code, text)
        return
    if outcome == "accepted":
        return  # its event answers it
    # A Sales refusal carries the order as SCM has it (or null), so the adapter restores Sales.
    sales_result = SalesOrderResult(
        command_id=command.command_id, type=command.type, target=target or "", outcome=outcome,
        code=code, text=text, order=snapshot(order) if order else None)
    await outbox.append_envelope(ORDER_SALES_RESULTS, target or command.command_id, "order.sales-result",
                                 sales_result, source_system="scm")


async def publish_order(outbox: Outbox, order: Order, event_type: str, caused_by: str | None) -> None:
    """The whole order after a change (CONTRACT.md §5.1)."""
    event = OrderEvent(event_id=str(uuid4()), type=event_type, occurred_at=utc_now(), caused_by=caused_by,
                       version=order.version, order=snapshot(order))
    await outbox.append(SCM_ORDER_EVENTS, order.number, event, message_id=event.event_id, type=event_type)


async def send_decision(outbox: Outbox, decision: InvoicingDecision) -> None:
    await outbox.append_envelope(ORDER_INVOICING_DECISIONS, decision.sales_order_number,
                                 f"order.invoicing-{decision.outcome}", decision)
