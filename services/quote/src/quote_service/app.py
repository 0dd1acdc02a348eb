"""The quote service process: quotations, their lines and journals, the SCM number
sequence and the message processor (docs/quote-lifecycle.md)."""

import asyncio
import contextlib
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
from q2c_messaging.consumer import Route, envelope_route
from q2c_messaging.runtime import ServiceRuntime
from q2c_observability import get_logger

from . import processor
from . import repository as repo
from .service import SERVICE, QuoteService

MIGRATIONS = Path(__file__).parent / "migrations"
PROCESSOR_POLL_SECONDS = 0.5
log = get_logger(__name__)


def build() -> ServiceRuntime:
    runtime = ServiceRuntime(SERVICE, MIGRATIONS)
    wake = asyncio.Event()

    def outbox_for(conn, causation):  # type: ignore[no-untyped-def]
        return runtime.outbox(conn, causation_id=causation)

    service = QuoteService(outbox_for, wake.set)
    runtime.route(Route(topic=SCM_QUOTE_COMMANDS, parse=ScmCommand.model_validate,
                        message_id=lambda c: c.command_id, handle=service.on_scm_command))
    runtime.route(envelope_route(QUOTE_SALES_COMMANDS, {"quote.sales-command": SalesQuoteCommand},
                                 service.on_sales_command))
    runtime.route(envelope_route(OWNERSHIP_DECISIONS, {"ownership.approved": OwnershipDecision,
                                                       "ownership.rejected": OwnershipDecision},
                                 service.on_decision))
    runtime.route(Route(topic=SCM_FEATURE_EVENTS, parse=FeatureStateEvent.model_validate,
                        message_id=lambda e: e.event_id, handle=service.on_feature,
                        workers=1))  # a few events a day: one consumer is plenty
    runtime.route(Route(topic=SCM_ORDER_EVENTS, parse=OrderEvent.model_validate,
                        message_id=lambda e: e.event_id, handle=service.on_order_event,
                        workers=2))  # order events outnumber quote ones; first-order-wins rests on order_link's key

    async def run_processor() -> None:
        """Process Queued messages continuously while MessageProcessorRunning is true; one
        message per transaction, so a crash loses nothing and repeats nothing."""
        while True:
            wake.clear()
            try:
                async with runtime.pool.acquire() as conn:
                    while True:
                        async with conn.transaction():
                            features = await repo.features(conn)
                            if not features.processor_running:
                                break
                            if not await processor.process_one(conn, outbox_for):
                                break
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("processor.loop_failed", error=repr(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), PROCESSOR_POLL_SECONDS)

    runtime.background(run_processor)
    return runtime
