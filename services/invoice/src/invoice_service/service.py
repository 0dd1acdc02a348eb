"""Use cases of the invoice service: SCM users' invoice commands, the order service's
invoicing decisions, parameter changes. Each runs inside the consumer recipe's transaction,
so a message's state change, its events and its result commit together or not at all."""

from datetime import UTC, datetime
from typing import Any

import asyncpg
from pydantic import BaseModel

from q2c_contracts.order import InvoicedQuantity, InvoicingDecision, InvoicingRequest
from q2c_contracts.scm import FeatureStateEvent, ScmCommand
from q2c_contracts.topics import ORDER_INVOICING_REQUESTS
from q2c_messaging.consumer import ContractViolation, Handling, Typed, envelope_parser
from q2c_messaging.outbox import Outbox
from q2c_messaging.results import refuse_bad_envelope
from q2c_observability import get_logger

from . import domain
from . import repository as repo
from .answers import Command, answer, publish_posted
from .domain import COMMAND_INVALID, InvalidCommand

log = get_logger(__name__)

SERVICE = "invoice"
POST = "invoice.post"
POST_FREE_TEXT = "invoice.post-free-text"
KNOWN_TYPES = (POST, POST_FREE_TEXT)
INVOICING_REQUEST = "order.invoicing-request"
INVOICING_DECISIONS: dict[str, type[BaseModel]] = {"order.invoicing-approved": InvoicingDecision,
                                                   "order.invoicing-rejected": InvoicingDecision}


def today_utc() -> datetime:
    return datetime.now(UTC)


_parse_envelope = envelope_parser(INVOICING_DECISIONS)


def parse_decision(raw: dict[str, Any]) -> Typed[InvoicingDecision]:
    """An approval the invoice cannot be made from is the order service's bug, not a post to
    refuse: it goes to the DLQ, where an operator sees it, and the post keeps waiting."""
    typed: Typed[InvoicingDecision] = _parse_envelope(raw)
    decision = typed.payload
    if decision.outcome == "approved" and not (decision.customer_account and decision.currency and decision.lines):
        raise ContractViolation("payload: an approval needs customer_account, currency and lines")
    if decision.outcome == "rejected" and not (decision.code and decision.text):
        raise ContractViolation("payload: a rejection needs code and text")
    return typed


class InvoiceService:
    # --- scm.invoice.commands (inbox key: command_id) -----------------------------------------------

    async def on_command(self, handling: Handling[ScmCommand]) -> None:
        c = handling.message
        if await refuse_bad_envelope(handling.outbox, c):
            return
        command = Command(c.command_id, c.type, c.target)
        if c.type == POST:
            await self._ask_order_service(handling.conn, handling.outbox, command, c.data)
        elif c.type == POST_FREE_TEXT:
            await self._post_free_text(handling.conn, handling.outbox, command, c.data)
        else:
            await answer(handling.outbox, command, "rejected", code=COMMAND_INVALID,
                         text=f"Unknown command type {c.type!r}; expected one of {', '.join(KNOWN_TYPES)}")

    async def _ask_order_service(self, conn: asyncpg.Connection, outbox: Outbox, command: Command,
                                 data: dict[str, Any]) -> None:
        """Only the order service knows what is left to invoice: the post waits for its decision,
        and nothing is numbered until then."""
        try:
            post = domain.parse_post(data, today_utc().date())
        except InvalidCommand as exc:
            order = data.get("sales_order_number")
            await answer(outbox, command, "rejected", code=COMMAND_INVALID, text=str(exc),
                         target=order if isinstance(order, str) and order else None)
            return
        await repo.add_pending(conn, command.command_id, post)
        request = InvoicingRequest(
            request_id=command.command_id, sales_order_number=post.sales_order_number,
            lines=[InvoicedQuantity(sequence_number=x.sequence, quantity=str(x.quantity)) for x in post.lines])
        await outbox.append_envelope(ORDER_INVOICING_REQUESTS, post.sales_order_number, INVOICING_REQUEST, request,
                                     source_system="scm")

    async def _post_free_text(self, conn: asyncpg.Connection, outbox: Outbox, command: Command,
                              data: dict[str, Any]) -> None:
        try:
            free_text = domain.parse_free_text(data, today_utc().date())
        except InvalidCommand as exc:
            await answer(outbox, command, "rejected", code=COMMAND_INVALID, text=str(exc))
            return
        invoice = domain.free_text_invoice(await self._next_number(conn), free_text)
        await repo.save_invoice(conn, invoice, posted_by=command.command_id)
        await publish_posted(outbox, invoice, caused_by=command.command_id)
        await answer(outbox, command, "accepted", target=invoice.number)

    # --- order.invoicing-decisions (inbox key: envelope message id) -----------------------------------

    async def on_decision(self, handling: Handling[Typed[InvoicingDecision]]) -> None:
        """A decision for a post that is unknown or already decided (the order service answers
        a repeated request again) changes nothing: a post is decided once."""
        conn, outbox, decision = handling.conn, handling.outbox, handling.message.payload
        post = await repo.awaiting_post(conn, decision.request_id)
        if post is None:
            log.info("invoicing.decision_ignored", request=decision.request_id, outcome=decision.outcome)
            return
        command = Command(decision.request_id, POST, post.sales_order_number)
        if decision.outcome == "rejected":
            await repo.close_pending(conn, command.command_id, "rejected")
            await answer(outbox, command, "rejected", code=decision.code, text=decision.text)
            return
        approved = decision.lines
        so_far = await repo.invoiced_so_far(conn, post.sales_order_number, [x.sequence_number for x in approved])
        # Why the ignores: the model makes the header values optional (a rejection has none);
        # an approval always carries both (order_service.answers.invoicing_approved).
        invoice = domain.order_invoice(await self._next_number(conn), post, decision.customer_account,  # type: ignore[arg-type]
                                       decision.currency, approved, so_far)  # type: ignore[arg-type]
        await repo.save_invoice(conn, invoice, posted_by=command.command_id)
        await repo.add_invoiced(conn, invoice)
        await repo.close_pending(conn, command.command_id, "posted", invoice.number)
        await publish_posted(outbox, invoice, caused_by=command.command_id)
        await answer(outbox, command, "accepted", target=invoice.number)

    # --- scm.feature.events ----------------------------------------------------------------------------

    async def on_feature(self, handling: Handling[FeatureStateEvent]) -> None:
        """Keep a copy of every feature and parameter; the service reads ScmInvoiceNumberPrefix."""
        event = handling.message
        await repo.store_feature(handling.conn, event.name, event.value)

    async def _next_number(self, conn: asyncpg.Connection) -> str:
        prefix = await repo.invoice_number_prefix(conn)
        return domain.format_number(prefix, await repo.next_invoice_number_value(conn))
