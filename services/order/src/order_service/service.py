"""Use cases of the order service: commands from SCM users and from Sales, invoicing requests
from the invoice service, quotation and feature events. Each runs inside the consumer
recipe's transaction, on the order's locked row, and answers exactly once."""

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import asyncpg

from q2c_contracts import limits, refusals
from q2c_contracts.order import InvoicingDecision, InvoicingRequest, SalesOrderCommand
from q2c_contracts.quote import QuotationSnapshot, QuoteEvent
from q2c_contracts.scm import FeatureStateEvent, ScmCommand
from q2c_contracts.vocabulary import SALES, SCM
from q2c_messaging.consumer import Handling, Typed
from q2c_messaging.outbox import Outbox
from q2c_messaging.results import refuse_bad_envelope
from q2c_observability import get_logger
from q2c_persistence import Connection

from . import decisions
from . import repository as repo
from .answers import Command, accepted, publish_order, rejected, send_decision
from .domain import Features, Order, Refused, format_number

log = get_logger(__name__)

SERVICE = "order"
NUMBER_SEQUENCE = "sales_order_number_seq"
Edit = Callable[[Order, dict[str, Any], Features, Any], Order]
DATA_EDITS: dict[str, Edit] = {
    "order.update": lambda order, data, features, quotation: decisions.update_header(order, data),
    "order.add-line": decisions.add_line,
    "order.update-line": lambda order, data, features, quotation: decisions.update_line(order, data),
    "order.delete-line": lambda order, data, features, quotation: decisions.delete_line(order, data),
}
# SCM documents and cancel: command type → (event type, decision).
DOCUMENTS: dict[str, tuple[str, Callable[[Order, dict[str, Any]], Order]]] = {
    "order.confirm": ("order.confirmed", lambda order, data: decisions.confirm(order)),
    "order.pick": ("order.picked", lambda order, data: decisions.pick(order)),
    "order.deliver": ("order.delivered", decisions.deliver),
    "order.cancel": ("order.canceled", lambda order, data: decisions.cancel(order)),
}


@dataclass
class QuotationCopies:
    """The quotation copies a chunk of quote events keeps (the chunk hooks, docs/messaging.md):
    per quotation the newest version, as `store_quotation` one event after another would leave
    it, written in one statement at the chunk's end, or before an event that makes an order."""

    latest: dict[str, tuple[int, QuotationSnapshot]] = field(default_factory=dict)

    def keep(self, version: int, quotation: QuotationSnapshot) -> None:
        number = quotation.SALESQUOTATIONNUMBER
        if number not in self.latest or self.latest[number][0] < version:  # the first of a version stays
            self.latest[number] = (version, quotation)

    async def write(self, conn: Connection) -> None:
        if self.latest:
            await repo.store_quotations(conn, list(self.latest.values()))
        self.latest = {}

    @staticmethod
    async def start(_conn: Connection, _events: list[QuoteEvent]) -> "QuotationCopies":
        return QuotationCopies()

    @staticmethod
    async def end(conn: Connection, copies: "QuotationCopies") -> None:
        await copies.write(conn)


class OrderService:

    # --- entry points ------------------------------------------------------------------------------

    async def on_scm_command(self, handling: Handling[ScmCommand]) -> None:
        """`scm.order.commands` (inbox key: command_id)."""
        c = handling.message
        if await refuse_bad_envelope(handling.outbox, c):
            return
        await self.handle(handling.conn, handling.outbox, Command(c.command_id, c.type, c.target, "scm", c.data))

    async def on_sales_command(self, handling: Handling[Typed[SalesOrderCommand]]) -> None:
        """`order.sales-commands` (inbox key: envelope message id), from the dual-write adapter."""
        c = handling.message.payload
        await self.handle(handling.conn, handling.outbox, Command(c.command_id, c.type, c.target, "sales", c.data))

    async def on_feature(self, handling: Handling[FeatureStateEvent]) -> None:
        """`scm.feature.events`: keep the copy the rules read."""
        await repo.store_feature(handling.conn, handling.message.name, handling.message.value)

    async def on_quote_event(self, handling: Handling[QuoteEvent]) -> None:
        """`scm.quote.events`: keep the quotation copy; TV-17, a quotation confirmed in SCM while
        SCM owns it becomes an SCM order, once whatever the redeliveries."""
        conn, event, copies = handling.conn, handling.message, handling.chunk
        quotation = event.quotation
        makes_order = decisions.makes_order_on_confirm(event.type, quotation)
        if isinstance(copies, QuotationCopies):
            if not makes_order:
                copies.keep(event.version, quotation)  # written with the chunk's others at its end
                return
            await copies.write(conn)  # what follows reads the copies
        await repo.store_quotation(conn, event.version, quotation)
        if not makes_order:
            return
        made = await repo.order_made_for_confirm(conn, quotation.SALESQUOTATIONNUMBER)
        if made:
            log.info("quotation.order_already_made", quotation=quotation.SALESQUOTATIONNUMBER, order=made)
            return
        number = await self._next_number(conn, await repo.features(conn))
        order = decisions.order_from_quotation(number, quotation)
        await repo.save(conn, order)
        await repo.record_order_for_confirm(conn, quotation.SALESQUOTATIONNUMBER, number)
        await publish_order(handling.outbox, order, "order.created", event.event_id)

    async def on_invoicing_request(self, handling: Handling[Typed[InvoicingRequest]]) -> None:
        """`order.invoicing-requests`: reserve the quantities on the order's locked row. A request
        seen before (same request id) gets the decision already taken, never applied twice."""
        conn, outbox, request = handling.conn, handling.outbox, handling.message.payload
        order = await repo.load(conn, request.sales_order_number)
        earlier = await repo.invoicing_decision(conn, request.request_id)
        if earlier is not None:
            log.info("invoicing.repeated_request", request=request.request_id)
            await send_decision(outbox, InvoicingDecision.model_validate(earlier))
            return
        decision = await self._decide_invoicing(conn, outbox, request, order)
        await repo.store_invoicing_decision(conn, request.request_id, request.sales_order_number, decision.outcome,
                                            decision.model_dump(mode="json"))
        await send_decision(outbox, decision)

    # --- commands ------------------------------------------------------------------------------------

    async def handle(self, conn: asyncpg.Connection, outbox: Outbox, command: Command) -> None:
        if nul := limits.nul_paths(command.data, "data"):  # no lookup may take it to PostgreSQL
            await rejected(outbox, command, refusals.COMMAND_INVALID,
                           f"{nul[0]} must not contain the character U+0000 (NUL)")
            return
        features = await repo.features(conn)
        if command.type == "order.create":
            await self._create(conn, outbox, command, features)
        elif command.type in DATA_EDITS:
            await self._edit(conn, outbox, command, features)
        elif command.issuer == "scm" and command.type in DOCUMENTS:
            await self._document(conn, outbox, command)
        elif command.issuer == "sales" and command.type == "order.delete":
            await self._delete(conn, outbox, command)
        else:
            known = ["order.create", *DATA_EDITS, *(DOCUMENTS if command.issuer == "scm" else ["order.delete"])]
            await rejected(outbox, command, refusals.COMMAND_INVALID,
                           f"Unknown command type {command.type!r}; expected one of {', '.join(sorted(known))}")

    async def _create(self, conn: asyncpg.Connection, outbox: Outbox, command: Command, features: Features) -> None:
        given = command.data.get("sales_order_number") or (command.target if command.issuer == "sales" else None)
        if given is not None and (not isinstance(given, str) or not given.strip()):
            await rejected(outbox, command, refusals.COMMAND_INVALID,
                           "data.sales_order_number must be a non-empty text")
            return
        if given and await repo.number_taken(conn, given):
            # The answer carries the existing order: for that number it is the truth.
            await rejected(outbox, command, *refusals.NUMBER_COLLISION, target=given,
                           order=await repo.load(conn, given, lock=False))
            return
        quotation_number = command.data.get("quotation_number")
        quotation = await repo.quotation(conn, quotation_number) if isinstance(quotation_number, str) else None
        try:
            # Decided before a number is drawn, so a refused create uses none of the sequence.
            order = decisions.new_order(given or "(new)", SALES if command.issuer == "sales" else SCM,
                                        command.data, features, quotation)
        except Refused as refusal:
            await rejected(outbox, command, refusal.code, refusal.text, target=given)
            return
        order = replace(order, number=given or await self._next_number(conn, features))
        await repo.save(conn, order)
        await publish_order(outbox, order, "order.created", command.command_id)
        await accepted(outbox, command, order)

    async def _next_number(self, conn: asyncpg.Connection, features: Features) -> str:
        """The next free number of the SCM sequence (a number Sales already took is skipped)."""
        while True:
            number = format_number(features.number_prefix, await repo.next_value(conn, NUMBER_SEQUENCE))
            if not await repo.number_taken(conn, number):
                return number

    async def _edit(self, conn: asyncpg.Connection, outbox: Outbox, command: Command, features: Features) -> None:
        order = await self._existing(conn, outbox, command)
        if order is None:
            return
        try:
            if command.issuer == "sales":
                decisions.check_sales_edit(order, command.type)
            else:
                decisions.check_scm_edit(order)
            quotation = decisions.copy_source(command.issuer, features,
                                              await repo.quotation(conn, order.quotation_number)) \
                if command.type == "order.add-line" else None
            changed = DATA_EDITS[command.type](order, command.data, features, quotation)
        except Refused as refusal:
            await rejected(outbox, command, refusal.code, refusal.text, order=order)
            return
        await self._save(conn, outbox, command, changed, "order.updated")

    async def _document(self, conn: asyncpg.Connection, outbox: Outbox, command: Command) -> None:
        order = await self._existing(conn, outbox, command)
        if order is None:
            return
        event_type, decide = DOCUMENTS[command.type]
        try:
            changed = decide(order, command.data)
        except Refused as refusal:
            await rejected(outbox, command, refusal.code, refusal.text, order=order)
            return
        await self._save(conn, outbox, command, changed, event_type)

    async def _delete(self, conn: asyncpg.Connection, outbox: Outbox, command: Command) -> None:
        order = await self._existing(conn, outbox, command)
        if order is None:
            return
        try:
            decisions.check_sales_edit(order, command.type)
        except Refused as refusal:
            await rejected(outbox, command, refusal.code, refusal.text, order=order)
            return
        final = replace(order, version=order.version + 1)
        await repo.mark_deleted(conn, final)
        await publish_order(outbox, final, "order.deleted", command.command_id)
        await accepted(outbox, command, final)

    async def _save(self, conn: asyncpg.Connection, outbox: Outbox, command: Command, changed: Order,
                    event_type: str) -> None:
        changed = replace(changed, version=changed.version + 1)
        await repo.save(conn, changed)
        await publish_order(outbox, changed, event_type, command.command_id)
        await accepted(outbox, command, changed)

    async def _existing(self, conn: asyncpg.Connection, outbox: Outbox, command: Command) -> Order | None:
        if not command.target:
            await rejected(outbox, command, refusals.COMMAND_INVALID, "target is required: the sales order number")
            return None
        order = await repo.load(conn, command.target)
        if order is None:
            await rejected(outbox, command, refusals.ORDER_NOT_FOUND, refusals.order_not_found_text(command.target))
        return order

    # --- invoicing ----------------------------------------------------------------------------------------

    async def _decide_invoicing(self, conn: asyncpg.Connection, outbox: Outbox, request: InvoicingRequest,
                                order: Order | None) -> InvoicingDecision:
        def rejection(code: str, text: str) -> InvoicingDecision:
            return InvoicingDecision(request_id=request.request_id, sales_order_number=request.sales_order_number,
                                     outcome="rejected", code=code, text=text)

        if order is None:
            return rejection(refusals.ORDER_NOT_FOUND, refusals.order_not_found_text(request.sales_order_number))
        try:
            result = decisions.invoice(order, {"lines": [line.model_dump() for line in request.lines]})
        except Refused as refusal:
            return rejection(refusal.code, refusal.text)
        changed = replace(result.order, version=order.version + 1)
        await repo.save(conn, changed)
        await publish_order(outbox, changed, "order.invoiced", request.request_id)
        return InvoicingDecision(request_id=request.request_id, sales_order_number=order.number, outcome="approved",
                                 customer_account=order.customer, currency=order.currency, lines=list(result.lines))
