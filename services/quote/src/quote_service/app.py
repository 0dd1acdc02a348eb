"""The quote service process: quotations, their lines and journals, the SCM number
sequence and the message processor (docs/quote-lifecycle.md)."""

import asyncio
from dataclasses import replace
from pathlib import Path

from q2c_contracts.order import OrderEvent
from q2c_contracts.ownership import OwnershipDecision
from q2c_contracts.quote import SalesQuoteCommand
from q2c_contracts.scm import FeatureStateEvent, ScmCommand
from q2c_contracts.topics import (
    OWNERSHIP_DECISIONS,
    QUOTE_SALES_COMMANDS,
    SCM_FEATURE_EVENTS,
    SCM_ORDER_EVENTS,
    SCM_QUOTE_COMMANDS,
)
from q2c_messaging.consumer import ChunkHooks, Route, Typed, envelope_route
from q2c_messaging.outbox import Outbox
from q2c_messaging.runtime import ServiceRuntime
from q2c_persistence import Connection

from . import processor
from .quotations import ChunkQuotations
from .service import SERVICE, QuoteService

MIGRATIONS = Path(__file__).parent / "migrations"


def build() -> ServiceRuntime:
    runtime = ServiceRuntime(SERVICE, MIGRATIONS)
    wake = asyncio.Event()

    def outbox_for(conn: Connection, causation: str) -> Outbox:
        return runtime.outbox(conn, causation_id=causation)

    service = QuoteService(outbox_for, wake.set)
    runtime.route(Route(topic=SCM_QUOTE_COMMANDS, parse=ScmCommand.model_validate,
                        message_id=lambda c: c.command_id, handle=service.on_scm_command))
    async def start(conn: Connection, commands: list[Typed[SalesQuoteCommand]]) -> ChunkQuotations:
        """The quotations a chunk of Sales commands names, read in one statement (docs/quote-lifecycle.md)."""
        # A number with U+0000 is refused by its command before any lookup (PostgreSQL holds none)
        numbers = {number for typed in commands for number in (typed.payload.target, typed.payload.data.get(
            "quotation_number")) if isinstance(number, str) and number and "\x00" not in number}
        return await ChunkQuotations.start(conn, numbers)

    async def end(_conn: Connection, quotations: ChunkQuotations) -> None:
        await quotations.end()

    runtime.route(replace(envelope_route(QUOTE_SALES_COMMANDS, {"quote.sales-command": SalesQuoteCommand},
                                         service.on_sales_command), chunk=ChunkHooks(start, end)))
    async def start_decisions(conn: Connection, decisions: list[Typed[OwnershipDecision]]) -> ChunkQuotations:
        """The commands a chunk of decisions decides and their quotations, read in two statements."""
        return await ChunkQuotations.start_decisions(conn, {
            typed.payload.command_id for typed in decisions if "\x00" not in typed.payload.command_id})

    runtime.route(replace(envelope_route(OWNERSHIP_DECISIONS, {"ownership.approved": OwnershipDecision,
                                                               "ownership.rejected": OwnershipDecision},
                                         service.on_decision), chunk=ChunkHooks(start_decisions, end)))
    runtime.route(Route(topic=SCM_FEATURE_EVENTS, parse=FeatureStateEvent.model_validate,
                        message_id=lambda e: e.event_id, handle=service.on_feature))
    runtime.route(Route(topic=SCM_ORDER_EVENTS, parse=OrderEvent.model_validate,
                        message_id=lambda e: e.event_id, handle=service.on_order_event,
                        # an order that names no quotation links nothing: passed over before any transaction
                        wanted=lambda e: e.order.QUOTATIONNUMBER is not None))

    runtime.background(lambda: processor.run_continuously(runtime.pool, outbox_for, wake))
    return runtime
