"""The dual-write adapter process: Dataverse changes ⇄ SCM events through the table maps.
Its subscriptions come from the maps: each map's Sales change topic, each SCM events topic,
and each results topic of the SCM services it sends commands to."""

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import asyncpg

from q2c_contracts import limits
from q2c_contracts.dataverse import DataverseChange
from q2c_contracts.scm import FeatureStateEvent
from q2c_messaging.consumer import ChunkHooks, ContractViolation, Handling, Route, Typed, envelope_route
from q2c_messaging.runtime import ServiceRuntime
from q2c_observability import get_logger
from q2c_persistence import Connection

from . import dataverse
from . import repository as repo
from .engine import RESULT, SALES, SCM, Engine, isolating_failures
from .sync import ChangeChunk, EventChunk, Sync
from .tablemap import EVENT_MODELS, RESULT_MODELS, TableMap, load_maps

SERVICE = "dual-write-adapter"
MIGRATIONS = Path(__file__).parent / "migrations"
RESUME_POLL_SECONDS = 0.5
log = get_logger(__name__)


def parse_change(raw: dict[str, Any], tmap: TableMap) -> DataverseChange:
    """A change of the map's table. docs/contract.md §1: every change names its row by
    alternate key, whatever the operation; one without it, of another table, or with a
    column of the wrong JSON type (dataverse.COLUMN_TYPES) is not what this topic carries
    and goes to the dead-letter topic."""
    change = DataverseChange.model_validate(raw)
    if change.table != tmap.sales.table:
        raise ContractViolation(f"table: {change.table!r} on the {tmap.sales.table} topic")
    for column in tmap.sales.key:
        kind = int if column in dataverse.INTEGER_KEY_COLUMNS else str
        value = change.record.get(column)
        if not isinstance(value, kind) or isinstance(value, bool) or value == "":
            raise ContractViolation(f"record.{column}: the alternate key is required "
                                    f"({kind.__name__}), got {value!r}")
        if isinstance(value, str) and limits.nul_problem(value):  # no table of the adapter could name the row
            raise ContractViolation(f"record.{column}: the alternate key must not contain U+0000 (NUL)")
    # PostgreSQL holds no U+0000: outside a text column (whose value is judged later and
    # refused, DOMAIN §5) no table of the adapter could keep the change.
    text_columns = {c for c, kind in dataverse.COLUMN_TYPES[tmap.sales.table].items() if kind == dataverse.TEXT}
    for path in limits.nul_paths(raw):
        if path.removeprefix("record.") not in text_columns or not path.startswith("record."):
            raise ContractViolation(f"{path} must not contain U+0000 (NUL)")
    # CONTRACT §0: a wrong JSON type (a number where a decimal string belongs, a string
    # where an integer does) is not what the topic carries. Values are judged later.
    for column, value in change.record.items():
        problem = dataverse.type_problem(change.table, column, value)
        if problem is not None:
            raise ContractViolation(problem)
    return change


def build() -> ServiceRuntime:
    runtime = ServiceRuntime(SERVICE, MIGRATIONS)
    maps = load_maps()  # a broken map stops the start here, with its reason
    engine = Engine(Sync(maps))

    def change_route(tmap: TableMap) -> Route[DataverseChange]:
        async def handle(h: Handling[DataverseChange]) -> None:
            if isinstance(h.chunk, ChangeChunk):  # the chunk's statements ran already (`start`)
                await isolating_failures(engine.sync.chunk_change(h.conn, h.outbox, h.chunk, h.message))
                return
            await engine.dispatch(h.conn, h.outbox, SALES + tmap.name, h.message.model_dump(mode="json"),
                                  isolated=h.isolated)

        async def start(conn: Connection, changes: list[DataverseChange]) -> ChangeChunk | None:
            return await engine.sync.start_changes(conn, tmap, changes)

        async def end(conn: Connection, chunk: ChangeChunk) -> None:
            await engine.sync.end_changes(conn, chunk)

        assert tmap.sales.changes is not None
        return Route(topic=tmap.sales.changes, parse=lambda raw: parse_change(raw, tmap),
                     message_id=lambda c: c.message_id, handle=handle, chunk=ChunkHooks(start, end))

    def event_route(topic: str) -> Route[Any]:
        async def handle(h: Handling[Any]) -> None:
            if isinstance(h.chunk, EventChunk):  # the chunk's statements ran already (`start`)
                await isolating_failures(engine.sync.chunk_event(h.conn, h.outbox, h.chunk, h.message.event_id))
                return
            if isinstance(h.message, FeatureStateEvent):  # the adapter's own copy of the switches
                await repo.store_feature(h.conn, h.message.name, h.message.kind, h.message.value)
            await engine.dispatch(h.conn, h.outbox, SCM + topic, h.message.model_dump(mode="json"),
                                  isolated=h.isolated)

        async def start(conn: Connection, events: list[Any]) -> EventChunk | None:
            return await engine.sync.start_events(conn, topic, [e.model_dump(mode="json") for e in events])

        async def end(conn: Connection, chunk: EventChunk) -> None:
            await engine.sync.end_events(conn, chunk)

        # Documents' events are handled set-based per chunk (docs/performance.md, "Sixth
        # session"); the switches' events, a few a day, one by one.
        documents = engine.sync.by_events[topic][0].scm.document is not None
        return Route(topic=topic, parse=EVENT_MODELS[topic].model_validate, message_id=lambda e: e.event_id,
                     handle=handle, chunk=ChunkHooks(start, end) if documents else None)

    def result_route(topic: str, envelope: str) -> Route[Any]:
        async def handle(h: Handling[Typed[Any]]) -> None:
            # Refusals are not queued by a pause: the Sales change they answer was taken already.
            kind = RESULT + envelope
            await engine.process(h.conn, h.outbox, kind, h.message.payload.model_dump(mode="json"),
                                 frozenset(m.name for m in maps.values() if m.results and m.results.topic == topic),
                                 isolated=h.isolated)
        # Only a refusal asks anything of the adapter (`sync.sales_result`): an accepted result
        # is passed over before any transaction (one of every two records of a Sales change's
        # round trip; its effect reaches Sales through the SCM event).
        return envelope_route(topic, {envelope: RESULT_MODELS[envelope]}, handle,
                              wanted=lambda m: getattr(m.payload, "outcome", None) == "rejected")

    for tmap in maps.values():
        if tmap.sales.changes is not None:
            runtime.route(change_route(tmap))
    for topic in dict.fromkeys(m.scm.events for m in maps.values()):
        runtime.route(event_route(topic))
    results = {m.results.topic: m.results.envelope for m in maps.values() if m.results is not None}
    for topic, envelope in results.items():
        runtime.route(result_route(topic, envelope))
    for tmap in maps.values():
        for topic in (tmap.sales.writes, *([tmap.commands.topic] if tmap.commands else [])):
            if not runtime.catalog.may_write(SERVICE, topic):
                raise ValueError(f"map {tmap.name!r}: {SERVICE} may not write {topic} (deploy/kafka/topics.yaml)")

    async def ensure_maps(pool: asyncpg.Pool) -> None:
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
