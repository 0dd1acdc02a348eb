"""The dual-write adapter process: Dataverse changes ⇄ SCM events through the table maps."""

import asyncio
import contextlib
from pathlib import Path
from typing import Any

from q2c_contracts.dataverse import DataverseChange
from q2c_contracts.quote import QuoteEvent, SalesQuoteResult
from q2c_contracts.scm import FeatureStateEvent
from q2c_contracts.topics import QUOTE_SALES_RESULTS, SCM_FEATURE_EVENTS, SCM_QUOTE_EVENTS
from q2c_messaging.consumer import ContractViolation, Handling, Route, Typed, envelope_route
from q2c_messaging.runtime import ServiceRuntime
from q2c_observability import get_logger

from . import repository as repo
from .engine import Engine
from .sync import Sync
from .tablemap import load_maps

SERVICE = "dual-write-adapter"
MIGRATIONS = Path(__file__).parent / "migrations"
RESUME_POLL_SECONDS = 0.5
log = get_logger(__name__)


# CONTRACT.md §1: every change names its row by alternate key, whatever the operation.
ALTERNATE_KEY = {"quote": {"msdyn_quotenumber": str}, "quotedetail": {"msdyn_quotenumber": str, "sequencenumber": int}}


def parse_change(raw: dict[str, Any], table: str) -> DataverseChange:
    """A change of `table`; one without its alternate key, or of another table, is not what
    this topic carries and goes to the dead-letter topic."""
    change = DataverseChange.model_validate(raw)
    if change.table != table:
        raise ContractViolation(f"table: {change.table!r} on the {table} topic")
    for column, kind in ALTERNATE_KEY[table].items():
        value = change.record.get(column)
        if not isinstance(value, kind) or isinstance(value, bool) or value == "":
            raise ContractViolation(f"record.{column}: the alternate key is required "
                                    f"({kind.__name__}), got {value!r}")
    return change


def build() -> ServiceRuntime:
    runtime = ServiceRuntime(SERVICE, MIGRATIONS)
    engine = Engine(Sync(load_maps()))  # a broken map stops the start here, with its reason

    def change_route(topic: str, kind: str, table: str) -> Route[DataverseChange]:
        async def handle(h: Handling[DataverseChange]) -> None:
            await engine.dispatch(h.conn, h.outbox, kind, h.message.model_dump(mode="json"))
        return Route(topic=topic, parse=lambda raw: parse_change(raw, table), message_id=lambda c: c.message_id,
                     handle=handle)

    async def on_quote_event(h: Handling[QuoteEvent]) -> None:
        await engine.dispatch(h.conn, h.outbox, "scm-quote", h.message.model_dump(mode="json"))

    async def on_feature_event(h: Handling[FeatureStateEvent]) -> None:
        await repo.store_feature(h.conn, h.message.name, h.message.kind, h.message.value)
        await engine.dispatch(h.conn, h.outbox, "scm-feature", h.message.model_dump(mode="json"))

    async def on_sales_result(h: Handling[Typed[SalesQuoteResult]]) -> None:
        await engine.process(h.conn, h.outbox, "sales-result", h.message.payload.model_dump(mode="json"),
                             frozenset({"quotation-header"}))

    runtime.route(change_route("dataverse.quote.changes", "sales-quote", "quote"))
    runtime.route(change_route("dataverse.quotedetail.changes", "sales-line", "quotedetail"))
    runtime.route(Route(topic=SCM_QUOTE_EVENTS, parse=QuoteEvent.model_validate, message_id=lambda e: e.event_id,
                        handle=on_quote_event))
    runtime.route(Route(topic=SCM_FEATURE_EVENTS, parse=FeatureStateEvent.model_validate,
                        message_id=lambda e: e.event_id, handle=on_feature_event, workers=1))
    runtime.route(envelope_route(QUOTE_SALES_RESULTS, {"quote.sales-result": SalesQuoteResult}, on_sales_result))

    async def ensure_maps(pool) -> None:  # type: ignore[no-untyped-def]
        async with pool.acquire() as conn:
            await engine.ensure_maps(conn)

    runtime.on_startup(ensure_maps)

    async def replay_resumed_maps() -> None:
        """Resume: replay what a paused map queued, in order, then let it run."""
        while True:
            try:
                async with runtime.pool.acquire() as conn, conn.transaction():
                    replayed = await engine.resume_step(
                        conn, lambda c, causation: runtime.outbox(c, causation_id=causation))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("adapter.resume_failed", error=repr(exc))
                replayed = 0
            if not replayed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.sleep(RESUME_POLL_SECONDS)

    runtime.background(replay_resumed_maps)
    return runtime
