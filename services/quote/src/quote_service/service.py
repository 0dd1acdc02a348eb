"""Use cases of the quote service: commands from SCM users and from Sales, ownership
decisions, feature changes. Each runs inside the consumer recipe's transaction."""

from dataclasses import replace
from typing import Any
from uuid import uuid4

import asyncpg

from q2c_contracts import limits, refusals
from q2c_contracts.order import OrderEvent
from q2c_contracts.ownership import Issuer, OwnershipDecision, OwnershipRequest
from q2c_contracts.quote import SalesQuoteCommand
from q2c_contracts.scm import FeatureStateEvent, ScmCommand
from q2c_contracts.topics import OWNERSHIP_REQUESTS
from q2c_messaging.consumer import Handling, Typed
from q2c_messaging.outbox import Outbox
from q2c_messaging.results import refuse_bad_envelope
from q2c_observability import get_logger

from . import domain, order_links, processor
from . import repository as repo
from .answers import Command, answer, publish_quote
from .domain import InvalidCommand, Quotation
from .link_rules import links_on_confirm
from .quotations import ChunkQuotations, Quotations

log = get_logger(__name__)

SERVICE = "quote"
NOT_FOUND = refusals.NOT_FOUND
DATA_EDITS = {
    "quote.update": ("quote.updated", lambda q, d, f: domain.update_header(q, d)),
    "quote.add-line": ("quote.line-added", domain.add_line),
    "quote.update-line": ("quote.line-updated", domain.update_line),
    "quote.delete-line": ("quote.line-deleted", lambda q, d, f: domain.delete_line(q, d)),
}
SCM_LIFECYCLE = set(domain.LIFECYCLE_TYPES) - {"quote.revise"}  # revise comes only from Sales


class QuoteService:
    """The handlers; `outbox_for` builds an outbox for processor work (its own causation)."""

    def __init__(self, outbox_for: processor.OutboxFor, wake_processor: Any) -> None:
        self.outbox_for = outbox_for
        self.wake_processor = wake_processor

    # --- entry points -------------------------------------------------------------------------

    async def on_scm_command(self, handling: Handling[ScmCommand]) -> None:
        """`scm.quote.commands` (inbox key: command_id)."""
        c = handling.message
        if await refuse_bad_envelope(handling.outbox, c):
            return
        user = c.user
        command = Command(c.command_id, c.type, c.target, "scm", user.name if user else None,
                          tuple(user.privileges) if user else (), c.data)
        await self.handle(handling.conn, handling.outbox, command)

    async def on_sales_command(self, handling: Handling[Typed[SalesQuoteCommand]]) -> None:
        """`quote.sales-commands` (inbox key: envelope message id), from the dual-write adapter."""
        c = handling.message.payload
        user = c.user
        command = Command(c.command_id, c.type, c.target, "sales", user.name if user else None,
                          tuple(user.privileges) if user else (), c.data)
        # a chunk's quotations (`ChunkQuotations`, the route's chunk hooks), else the tables
        store = handling.chunk if isinstance(handling.chunk, ChunkQuotations) else None
        await self.handle(handling.conn, handling.outbox, command, store)

    async def on_feature(self, handling: Handling[FeatureStateEvent]) -> None:
        """`scm.feature.events`: keep the copy the rules read."""
        event = handling.message
        await repo.store_feature(handling.conn, event.name, event.value)
        if event.name in ("MessageProcessorRunning", "UseMessageProcessor"):
            self.wake_processor()

    async def on_order_event(self, handling: Handling[OrderEvent]) -> None:
        """`scm.order.events` (inbox key: event_id): link the quotation an order names."""
        if await order_links.on_order_event(handling.conn, handling.outbox, handling.message):
            self.wake_processor()

    # --- commands -----------------------------------------------------------------------------

    async def handle(self, conn: asyncpg.Connection, outbox: Outbox, command: Command,
                     store: Quotations | None = None) -> None:
        store = store or Quotations(conn)
        if nul := limits.nul_paths(command.data, "data"):  # no lookup may take it to PostgreSQL
            await answer(outbox, command, "rejected", code=refusals.COMMAND_INVALID,
                         text=f"{nul[0]} must not contain the character U+0000 (NUL)")
            return
        features = await repo.features(conn)
        if command.issuer == "scm" and command.type == "processor.run":
            count = await processor.process_all(conn, self.outbox_for)
            log.info("processor.run", processed=count)
            await answer(outbox, command, "accepted", target="processor")
        elif command.type == "quote.create":
            await self._create(store, outbox, command, features)
        elif command.type in DATA_EDITS:
            await self._edit(store, outbox, command, features)
        elif command.type in SCM_LIFECYCLE or (command.issuer == "sales" and command.type in domain.LIFECYCLE_TYPES):
            await self._ask_ownership(store, outbox, command)
        else:
            known = sorted(["quote.create", *DATA_EDITS, *SCM_LIFECYCLE] + (
                ["processor.run"] if command.issuer == "scm" else ["quote.revise"]))
            await answer(outbox, command, "rejected", code=refusals.COMMAND_INVALID,
                         text=f"Unknown command type {command.type!r}; expected one of {', '.join(known)}")

    async def _create(self, store: Quotations, outbox: Outbox, command: Command,
                      features: domain.Features) -> None:
        given = command.data.get("quotation_number") or (command.target if command.issuer == "sales" else None)
        if given is not None and (not isinstance(given, str) or not given.strip()):
            await answer(outbox, command, "rejected", code=refusals.COMMAND_INVALID,
                         text="data.quotation_number must be a non-empty text")
            return
        if given and await store.exists(given):
            # The answer carries the existing quotation: for that number it is the truth.
            await answer(outbox, command, "rejected", **_code_text(refusals.NUMBER_COLLISION), target=given,
                         quote=await store.load(given, lock=False))
            return
        number = given or await self._next_number(store, features)
        try:
            quote = domain.new_quotation(number, command.issuer, command.data, features)
        except InvalidCommand as exc:
            await answer(outbox, command, "rejected", code=refusals.COMMAND_INVALID, text=str(exc), target=number)
            return
        await store.save(quote)
        await publish_quote(outbox, quote, "quote.created", command.command_id)
        await answer(outbox, command, "accepted", target=number, quote=quote)

    async def _next_number(self, store: Quotations, features: domain.Features) -> str:
        """The next free number of the SCM sequence (a number taken by a Sales-created quote
        is skipped, never reused)."""
        while True:
            number = domain.format_number(features.number_prefix,
                                          await repo.next_value(store.conn, "quotation_number_seq"))
            if not await store.exists(number):
                return number

    async def _edit(self, store: Quotations, outbox: Outbox, command: Command,
                    features: domain.Features) -> None:
        quote = await self._existing(store, outbox, command)
        if quote is None:
            return
        refusal = domain.edit_refusal(quote, command.issuer, features)
        if refusal:
            await answer(outbox, command, "rejected", **_code_text(refusal), quote=quote)
            return
        event_type, edit = DATA_EDITS[command.type]
        try:
            changed = edit(quote, command.data, features)
        except InvalidCommand as exc:
            await answer(outbox, command, "rejected", code=refusals.COMMAND_INVALID, text=str(exc), quote=quote)
            return
        changed = replace(changed, version=quote.version + 1)
        await store.save(changed)
        await publish_quote(outbox, changed, event_type, command.command_id)
        await answer(outbox, command, "accepted", quote=changed)

    async def _existing(self, store: Quotations, outbox: Outbox, command: Command) -> Quotation | None:
        if not command.target:
            await answer(outbox, command, "rejected", code=refusals.COMMAND_INVALID,
                         text="target is required: the quotation number")
            return None
        quote = await store.load(command.target)
        if quote is None:
            await answer(outbox, command, "rejected", code=NOT_FOUND,
                         text=refusals.not_found_text(command.target))
        return quote

    # --- lifecycle: ask the ownership service, apply its approval ------------------------------

    async def _ask_ownership(self, store: Quotations, outbox: Outbox, command: Command) -> None:
        quote = await self._existing(store, outbox, command)
        if quote is None:
            return
        request_id = str(uuid4())
        await store.add_pending(command_id=command.command_id, number=quote.number, type=command.type,
                                action=domain.LIFECYCLE_TYPES[command.type], issuer=command.issuer,
                                user=command.user, privileges=list(command.privileges), data=command.data,
                                request_id=request_id, version=quote.version)
        await _request_decision(outbox, request_id, command, quote)

    async def on_decision(self, handling: Handling[Typed[OwnershipDecision]]) -> None:
        """`ownership.decisions`: apply an approval to the version it names, or ask again."""
        conn, outbox, decision = handling.conn, handling.outbox, handling.message.payload
        # a chunk's commands and quotations (`ChunkQuotations`, the route's chunk hooks), else the tables
        store = handling.chunk if isinstance(handling.chunk, ChunkQuotations) else Quotations(conn)
        pending = await store.pending(decision.command_id)
        if pending is None or pending["state"] != "awaiting-decision" or pending["request_id"] != decision.request_id:
            log.info("ownership.decision_stale", command=decision.command_id)
            return
        command = Command(pending["command_id"], pending["type"], pending["number"], pending["issuer"],
                          pending["user_name"], tuple(pending["privileges"]), pending["data"])
        quote = await store.load(pending["number"])
        if quote is None:
            await store.close_pending(command.command_id, "rejected")
            await answer(outbox, command, "rejected", code=NOT_FOUND,
                         text=refusals.not_found_text(pending["number"]))
            return
        if quote.version != decision.version:
            # The quotation changed since the request (an earlier command of the same flow,
            # say): decide again on what it is now, whether it was approved or rejected.
            request_id = str(uuid4())
            await store.reask(command.command_id, request_id, quote.version)
            log.info("ownership.reask", command=command.command_id, decided=decision.version, now=quote.version)
            await _request_decision(outbox, request_id, command, quote)
            return
        if decision.outcome == "rejected":
            await store.close_pending(command.command_id, "rejected")
            await answer(outbox, command, "rejected", code=decision.code, text=decision.text, quote=quote)
            return
        await self._apply(store, outbox, command, quote, pending["action"])
        await store.close_pending(command.command_id, "applied")

    async def _apply(self, store: Quotations, outbox: Outbox, command: Command, quote: Quotation,
                     action: str) -> None:
        conn = store.conn
        features = await repo.features(conn)
        effect = domain.apply_lifecycle(quote, action, command.data, features)
        if effect.deleted:
            final = replace(quote, version=quote.version + 1)
            await publish_quote(outbox, final, "quote.deleted", command.command_id)
            await store.delete(quote.number)
            await answer(outbox, command, "accepted", quote=final)
            return
        changed = effect.quote
        if links_on_confirm(action, effect):
            # The order may have come first (its create can overtake the win, which waits
            # for the ownership service): link in this change, so quote.confirmed carries it.
            order = await repo.linked_order(conn, quote.number)
            changed = replace(changed, generated_sales_order=order)
        for journal_type in effect.journals:
            changed = await processor.create_journal(conn, changed, journal_type)
        changed = replace(changed, version=quote.version + 1)
        await store.save(changed)
        await publish_quote(outbox, changed, domain.EVENT_AFTER[action], command.command_id)
        ids: list[str] = []
        for message in effect.queued:
            message_id = str(uuid4())
            depends_on = ids[message.depends_on] if message.depends_on is not None else None
            await repo.queue_message(conn, message_id=message_id, type=message.type, document=quote.number,
                                     depends_on=depends_on, sales_order_number=message.sales_order_number,
                                     caused_by=command.command_id)
            await processor.publish_state(outbox, {"message_id": message_id, "type": message.type,
                                                   "document": quote.number, "depends_on": depends_on}, "Queued")
            ids.append(message_id)
        await answer(outbox, command, "accepted", quote=changed)
        if ids:
            self.wake_processor()


async def _request_decision(outbox: Outbox, request_id: str, command: Command, quote: Quotation) -> None:
    request = OwnershipRequest(
        request_id=request_id, command_id=command.command_id, action=domain.LIFECYCLE_TYPES[command.type],
        issuer=Issuer(system=command.issuer, user=command.user, privileges=list(command.privileges)),
        quotation=domain.snapshot(quote), version=quote.version, data=command.data,
    )
    await outbox.append_envelope(OWNERSHIP_REQUESTS, quote.number, "ownership.decide", request,
                                 source_system="sales" if command.issuer == "sales" else "scm")


def _code_text(pair: tuple[str, str]) -> dict[str, str]:
    code, text = pair
    return {"code": code, "text": text}

