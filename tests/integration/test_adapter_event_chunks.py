"""The adapter's SCM events handled set-based per chunk (docs/performance.md, "Sixth session";
docs/messaging.md "Chunk hooks") on the real PostgreSQL: a chunk of events gives the same
writes to Sales, in the same order, and leaves the same tables as the same events handled one
by one the way they were before the chunk hooks (the route without them), whatever the
chunk holds: several versions of one document, repeats, late versions, a line SCM removed,
several documents, events Sales caused, and what sends a chunk back to the one-by-one path (a
deleted document, a held line, a paused map)."""

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any
from uuid import uuid4

import asyncpg
import pytest

from dual_write_adapter import repository as repo
from dual_write_adapter.app import MIGRATIONS, SERVICE, build
from dual_write_adapter.engine import RUNNING
from dual_write_adapter.tablemap import load_maps
from q2c_contracts.quote import QuoteEvent
from q2c_contracts.timestamps import utc_now
from q2c_contracts.topics import SCM_QUOTE_EVENTS
from q2c_localstack import postgres
from q2c_localstack.config import StackConfig
from q2c_messaging.consumer import MessageProcessor
from q2c_messaging.dead_letters import SourceRecord
from q2c_messaging.runtime import MESSAGING_MIGRATIONS
from q2c_persistence import apply_migrations, create_pool, load_migrations
from quote_service import domain as quote_domain

FEATURES = quote_domain.Features()
LINE = {"product_number": "PC-1", "quantity": "3", "unit_price": "500.00"}


def quotation(number: str, lines: int, version: int, *, sent: bool = False, drop: int | None = None,
              name: str = "Office PCs") -> quote_domain.Quotation:
    quote = quote_domain.new_quotation(number, "sales", {
        "customer_account": "US-001", "currency": "USD", "name": name,
        "lines": [{**LINE, "quantity": str(n + 1)} for n in range(lines)]}, FEATURES)
    if drop is not None:
        quote = quote_domain.delete_line(quote, {"sequence_number": drop})
    if sent:
        quote = quote_domain.apply_lifecycle(quote, "send", {}, FEATURES).quote
    return replace(quote, version=version)


def event(quote: quote_domain.Quotation, type_: str = "quote.updated", caused_by: str | None = None) -> dict[str, Any]:
    return QuoteEvent(event_id=str(uuid4()), type=type_, occurred_at=utc_now(), caused_by=caused_by,
                      version=quote.version, quotation=quote_domain.snapshot(quote)).model_dump(mode="json")


class Adapter:
    """The adapter's `scm.quote.events` route on a database of its own."""

    def __init__(self, pool: asyncpg.Pool, *, chunks: bool) -> None:
        runtime = build()  # its routes only: the service itself is not started
        route = runtime.routes[SCM_QUOTE_EVENTS]
        hooks = route.chunk
        assert hooks is not None
        self.set_based: list[bool] = []  # per chunk: whether the hooks took it (else one by one)

        async def start(conn: Any, events: list[Any]) -> Any:
            chunk = await hooks.start(conn, events)
            self.set_based.append(chunk is not None)
            return chunk

        route = replace(route, chunk=replace(hooks, start=start) if chunks else None)
        self.processor = MessageProcessor(route, service=SERVICE, pool=pool,
                                          catalog=runtime.catalog,
                                          dead_letters=None)  # type: ignore[arg-type] # nothing is dead-lettered here
        self.pool = pool
        self.offset = 0

    async def handle(self, *events: dict[str, Any]) -> list[str]:
        """The events as one chunk (one transaction)."""
        records = []
        for value in events:
            self.offset += 1
            records.append(SourceRecord(SCM_QUOTE_EVENTS, 0, self.offset, value["quotation"]["SALESQUOTATIONNUMBER"]
                                        .encode(), json.dumps(value).encode()))
        return await self.processor.process_batch(records)

    async def state(self) -> dict[str, Any]:
        """What the events left: the writes to Sales in order (without their own ids and times),
        and the adapter's tables."""
        writes = []
        for row in await self.pool.fetch("SELECT topic, key, value FROM outbox ORDER BY id"):
            value = json.loads(row["value"])
            writes.append((row["topic"], row["key"], {k: v for k, v in value.items()
                                                      if k not in ("message_id", "occurred_at", "command_id")}))
        tables = {}
        for table, order in (("sales_row", "sales_table, alt_key"), ("map_applied", "map, number"),
                             ("scm_document", "topic, number"), ("held_change", "seq"), ("queued_change", "seq")):
            rows = await self.pool.fetch(f"SELECT * FROM {table} ORDER BY {order}")  # noqa: S608 - our own names
            tables[table] = [{k: v for k, v in dict(r).items() if k not in ("updated_at", "seq", "queued_at",
                                                                             "held_at", "created_at")} for r in rows]
        return {"writes": writes, "tables": tables}


@pytest.fixture
async def pools(running_stack: StackConfig, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Callable[[], Any]]:
    """Migrated adapter databases of their own, one per call, every map Running."""
    monkeypatch.setenv("Q2C_DB_URL", postgres.admin_dsn(running_stack))  # what `build()` reads; not connected to
    admin = await asyncpg.connect(postgres.admin_dsn(running_stack))
    made: list[tuple[str, asyncpg.Pool]] = []

    async def make() -> asyncpg.Pool:
        name = f"q2c_it_{uuid4().hex[:10]}"
        await admin.execute(f'CREATE DATABASE "{name}"')
        pool = await create_pool(postgres.admin_dsn(running_stack, name))
        made.append((name, pool))
        await apply_migrations(pool, load_migrations("messaging", MESSAGING_MIGRATIONS),
                               load_migrations(SERVICE, MIGRATIONS))
        async with pool.acquire() as conn:
            await repo.ensure_map_states(conn, list(load_maps()), RUNNING)
        return pool

    yield make
    for name, pool in made:
        await pool.close()
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    await admin.close()


async def _same_either_way(pools: Callable[[], Any], prepare: Callable[[asyncpg.Connection], Any] | None,
                           *chunks: list[dict[str, Any]]) -> dict[str, Any]:
    """Handle `chunks` (each one transaction) with the chunk hooks and without; both must end
    the same. Returns that state."""
    states = []
    for hooks in (True, False):
        adapter = Adapter(await pools(), chunks=hooks)
        if prepare is not None:
            async with adapter.pool.acquire() as conn:
                await prepare(conn)
        outcomes = [await adapter.handle(*chunk) for chunk in chunks]
        states.append({"outcomes": outcomes, **await adapter.state()})
        if hooks:
            set_based = adapter.set_based
    with_hooks, one_by_one = states
    assert with_hooks == one_by_one
    return {**with_hooks, "set_based": set_based}


async def test_a_chunk_of_versions_repeats_and_late_events_writes_what_one_by_one_writes(pools) -> None:
    v2 = event(quotation("C-1", 2, 2))
    chunk = [
        event(quotation("C-1", 1, 1), "quote.created"),
        event(quotation("C-2", 1, 1), "quote.created"),  # another document in the same chunk
        v2,
        {**v2, "event_id": str(uuid4())},  # the same version again (another event id): nothing more
        event(quotation("C-1", 3, 3)),
        event(quotation("C-1", 1, 1), "quote.created"),  # a late version: nothing more
        event(quotation("C-2", 2, 2)),
        event(quotation("C-1", 3, 4, sent=True), "quote.sent"),  # every line's status changes too
        event(quotation("C-1", 3, 5, sent=True, drop=2)),  # a line SCM removed: deleted in Sales
        event(quotation("C-2", 1, 1), "quote.created"),  # a late version last: the document stays at 2
    ]
    state = await _same_either_way(pools, None, chunk)
    assert state["outcomes"] == [["handled"] * len(chunk)]
    assert state["set_based"] == [True]
    writes = [(topic, key, value["operation"]) for topic, key, value in state["writes"]]
    assert writes.count(("dataverse.quotedetail.writes", "C-1/2", "delete")) == 1
    assert len([w for w in writes if w[1] == "C-1"]) == 2  # created, then sent
    assert {(r["map"], r["number"], r["version"]) for r in state["tables"]["map_applied"]} == {
        ("quotation-header", "C-1", 5), ("quotation-lines", "C-1", 5),
        ("quotation-header", "C-2", 2), ("quotation-lines", "C-2", 2)}
    assert {(r["number"], r["version"]) for r in state["tables"]["scm_document"]} == {("C-1", 5), ("C-2", 2)}


async def test_chunks_split_anywhere_write_what_one_by_one_writes(pools) -> None:
    events = [event(quotation("C-1", n, n)) for n in range(1, 5)]
    state = await _same_either_way(pools, None, events[:1], events[1:3], [events[2], events[3]])  # one redelivered
    assert state["outcomes"] == [["handled"], ["handled", "handled"], ["duplicate", "handled"]]
    assert state["set_based"] == [True, True, True]


async def test_an_event_sales_caused_keeps_sales_values_as_one_by_one_does(pools) -> None:
    async def sales_created(conn: asyncpg.Connection) -> None:
        # the quote as Sales created it (its name Sales' own), and the command forwarded for it
        await repo.save_sales_row_recording_change(conn, "m-1", "quote", "C-1", "C-1", {
            "msdyn_quotenumber": "C-1", "name": "Named in Sales", "transactioncurrencyid": "USD"})
        await repo.record_command(conn, "m-1", "quote.create")

    state = await _same_either_way(pools, sales_created, [
        event(quotation("C-1", 1, 1, name="Office PCs"), "quote.created", caused_by="m-1"),
        event(quotation("C-2", 1, 1, name="Office PCs"), "quote.created", caused_by="m-unknown")])
    names = {r["alt_key"]: r["record"]["name"] for r in state["tables"]["sales_row"] if r["sales_table"] == "quote"}
    # Sales caused C-1's event: Sales keeps its own value of a two-way column it has; C-2's is SCM's
    assert names == {"C-1": "Named in Sales", "C-2": "Office PCs"}
    assert state["set_based"] == [True]


@pytest.mark.parametrize("case", ["deleted document", "held line", "paused map"])
async def test_what_the_one_by_one_path_handles_still_goes_there(pools, case: str) -> None:
    prepare = None
    chunk = [event(quotation("C-1", 1, 1), "quote.created"), event(quotation("C-1", 2, 2))]
    if case == "deleted document":
        chunk.append(event(quotation("C-1", 2, 3), "quote.deleted"))
    elif case == "held line":
        async def prepare(conn: asyncpg.Connection) -> None:
            await repo.hold(conn, "quotation-lines", "C-1", {
                "message_id": "m-held", "table": "quotedetail", "operation": "create", "user": "u",
                "occurred_at": "2026-11-24T00:00:00Z",
                "record": {"msdyn_quotenumber": "C-1", "sequencenumber": 9, "productid": "PC-9", "quantity": "1"}})
    else:
        async def prepare(conn: asyncpg.Connection) -> None:
            await repo.set_map_state(conn, "quotation-lines", "Paused")
    state = await _same_either_way(pools, prepare, chunk)
    assert state["set_based"] == [False]
    if case == "held line":
        assert state["tables"]["held_change"] == []  # released by the quote's event
    if case == "paused map":
        assert len(state["tables"]["queued_change"]) == 2
