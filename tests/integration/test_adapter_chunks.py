"""The adapter's SCM events and Sales changes handled set-based per chunk (docs/performance.md,
"Sixth session"; docs/messaging.md "Chunk hooks") on the real PostgreSQL: a chunk gives the
same messages (writes to Sales, commands to SCM, notifications), in the same order, and leaves
the same tables as the same records handled one by one the way they were before the chunk
hooks (the route without them), whatever the chunk holds. Events: several versions of one
document, repeats, late versions, a line SCM removed, several documents, events Sales caused,
and what sends a chunk back to the one-by-one path (a deleted document, a held line, a paused
map). Changes: creates, updates, lifecycle steps, deletes, a refusal, a row held for its
quote, held rows released, an update of a row never created (error log), a paused map."""

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
from q2c_messaging.consumer import ChunkHooks, MessageProcessor
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
    """One of the adapter's routes on a database of its own."""

    def __init__(self, pool: asyncpg.Pool, topic: str, *, chunks: bool) -> None:
        runtime = build()  # its routes only: the service itself is not started
        self.topic = topic
        route = runtime.routes[topic]
        hooks = route.chunk
        assert hooks is not None
        # Per chunk: whether the hooks took it and saw it through (else one by one: declined, or
        # run again record by record after a failure, which would hide a wrong chunk path).
        self.set_based: list[bool] = []

        async def start(conn: Any, events: list[Any]) -> Any:
            chunk = await hooks.start(conn, events)
            self.set_based.append(False)
            return chunk

        async def end(conn: Any, chunk: Any) -> None:
            await hooks.end(conn, chunk)
            self.set_based[-1] = True

        route = replace(route, chunk=ChunkHooks(start, end) if chunks else None)
        self.processor = MessageProcessor(route, service=SERVICE, pool=pool,
                                          catalog=runtime.catalog,
                                          dead_letters=None)  # type: ignore[arg-type] # nothing is dead-lettered here
        self.pool = pool
        self.offset = 0

    async def handle(self, *values: dict[str, Any]) -> list[str]:
        """The records as one chunk (one transaction)."""
        records = []
        for value in values:
            self.offset += 1
            records.append(SourceRecord(self.topic, 0, self.offset, b"k", json.dumps(value).encode()))
        return await self.processor.process_batch(records)

    async def state(self) -> dict[str, Any]:
        """What the events left: the writes to Sales in order (without their own ids and times),
        and the adapter's tables."""
        writes = []
        for row in await self.pool.fetch("SELECT topic, key, value FROM outbox ORDER BY id"):
            value = json.loads(row["value"])
            writes.append((row["topic"], row["key"], {k: v for k, v in value.items()
                                                      if k not in ("message_id", "occurred_at")}))
        tables = {}
        for table, order in (("sales_row", "sales_table, alt_key"), ("map_applied", "map, number"),
                             ("scm_document", "topic, number"), ("held_change", "seq"), ("queued_change", "seq"),
                             ("sales_change", "message_id"), ("forwarded_command", "command_id"),
                             ("error_log", "id")):
            rows = await self.pool.fetch(f"SELECT * FROM {table} ORDER BY {order}")  # noqa: S608 - our own names
            # without what only says when, or counts rows
            tables[table] = [{k: v for k, v in dict(r).items() if not k.endswith("_at") and k not in ("seq", "id")}
                             for r in rows]
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
                           *chunks: list[dict[str, Any]], topic: str = SCM_QUOTE_EVENTS) -> dict[str, Any]:
    """Handle `chunks` (each one transaction) of `topic` with the chunk hooks and without; both
    must end the same. Returns that state."""
    states = []
    for hooks in (True, False):
        adapter = Adapter(await pools(), topic, chunks=hooks)
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


# --- Sales changes ---------------------------------------------------------------------------------

QUOTES, LINES = "dataverse.quote.changes", "dataverse.quotedetail.changes"


def change(table: str, operation: str, **record: Any) -> dict[str, Any]:
    return {"message_id": str(uuid4()), "table": table, "operation": operation,
            "occurred_at": "2026-11-24T10:00:00Z", "user": "alice", "record": record}


def quote(number: str, operation: str = "create", **columns: Any) -> dict[str, Any]:
    base = {"quoteid": f"id-{number}", "msdyn_quotenumber": number}
    if operation == "create":
        base |= {"name": "Office PCs", "customerid": "US-001", "transactioncurrencyid": "USD", "statecode": 0,
                 "statuscode": 1, "revisionnumber": 0}
    return change("quote", operation, **base, **columns)


def line(number: str, sequence: int, operation: str = "create", **columns: Any) -> dict[str, Any]:
    base = {"quotedetailid": f"id-{number}/{sequence}", "msdyn_quotenumber": number, "sequencenumber": sequence}
    if operation == "create":
        base |= {"productid": "PC-1", "quantity": "3", "priceperunit": "500.00", "manualdiscountamount": "10.00",
                 "msdyn_shippingsite": "1", "msdyn_shippingwarehouse": "11"}
    return change("quotedetail", operation, **base, **columns)


async def test_a_chunk_of_quote_changes_forwards_what_one_by_one_forwards(pools) -> None:
    chunk = [
        quote("C-1"),
        quote("C-2"),
        quote("C-1", "update", name="Renamed"),
        quote("C-1", "update", name="Active", statecode=1, statuscode=2),  # two commands: update, quote.send
        quote("C-2", "update", statecode=3, statuscode=1),  # no such state and status pair: refused, put back
        quote("C-2", "delete"),
    ]
    # A change the maps cannot translate (error log) sends its whole chunk the one-by-one way
    # (the run again in savepoints), so it comes in a chunk of its own.
    failing = [quote("C-1", "update", name="Again"), quote("C-3", "update", name="Never created")]
    state = await _same_either_way(pools, None, chunk, failing, topic=QUOTES)
    assert state["set_based"] == [True, False]
    assert state["outcomes"] == [["handled"] * len(chunk), ["handled", "handled"]]
    commands = [value["payload"]["type"] for topic, _, value in state["writes"] if topic == "quote.sales-commands"]
    assert commands == ["quote.create", "quote.create", "quote.update", "quote.update", "quote.send", "quote.delete",
                        "quote.update"]
    assert [value["code"] for topic, _, value in state["writes"] if topic == "dataverse.notifications"] == [
        "command.invalid"]
    assert len(state["tables"]["error_log"]) == 1
    assert sum(row["command_id"].endswith("/2") for row in state["tables"]["forwarded_command"]) == 1
    assert len(state["tables"]["forwarded_command"]) == 7


async def test_a_chunk_of_line_changes_holds_and_forwards_as_one_by_one_does(pools) -> None:
    async def quote_known(conn: asyncpg.Connection) -> None:
        await repo.save_sales_row_recording_change(conn, "m-q", "quote", "C-1", "C-1", {"msdyn_quotenumber": "C-1"},
                                                   "id-C-1")

    state = await _same_either_way(pools, quote_known, [
        line("C-1", 1), line("C-1", 2),
        line("C-9", 1),  # its quote is not known yet: held
        line("C-1", 1, "update", quantity="5"),
        line("C-1", 2, "update", quantity="-1"),  # refused: put back
        line("C-1", 2, "delete"),
    ], topic=LINES)
    assert state["set_based"] == [True]
    assert [h["parent_key"] for h in state["tables"]["held_change"]] == ["C-9"]
    commands = [value["payload"]["type"] for topic, _, value in state["writes"] if topic == "quote.sales-commands"]
    assert commands == ["quote.add-line", "quote.add-line", "quote.update-line", "quote.delete-line"]


async def test_a_quote_created_in_a_chunk_releases_its_held_lines_as_one_by_one_does(pools) -> None:
    held = line("C-1", 1)  # the same change in both databases

    async def line_held(conn: asyncpg.Connection) -> None:
        await repo.hold(conn, "quotation-lines", "C-1", held)

    state = await _same_either_way(pools, line_held, [quote("C-1"), quote("C-2"), quote("C-1", "update", name="B")],
                                   topic=QUOTES)
    assert state["set_based"] == [True]
    assert state["tables"]["held_change"] == []
    commands = [value["payload"]["type"] for topic, _, value in state["writes"] if topic == "quote.sales-commands"]
    assert commands == ["quote.create", "quote.add-line", "quote.create", "quote.update"]


async def test_changes_of_a_paused_map_are_queued_as_one_by_one_does(pools) -> None:
    async def paused(conn: asyncpg.Connection) -> None:
        await repo.set_map_state(conn, "quotation-header", "Paused")

    state = await _same_either_way(pools, paused, [quote("C-1"), quote("C-1", "update", name="B")], topic=QUOTES)
    assert state["set_based"] == [False]
    assert len(state["tables"]["queued_change"]) == 2


async def test_a_refusal_after_a_change_of_the_same_row_in_the_chunk_restores_as_one_by_one_does(pools) -> None:
    scm = quotation("C-1", 1, 1)

    async def line_known(conn: asyncpg.Connection) -> None:
        # SCM has the quote and its line 1; Sales has both rows
        document = quote_domain.snapshot(scm).model_dump(mode="json")
        await repo.save_scm_document(conn, SCM_QUOTE_EVENTS, "C-1", 1, document, False)
        await repo.save_sales_row(conn, "quote", "C-1", {"msdyn_quotenumber": "C-1"}, "id-C-1")
        await repo.save_sales_row(conn, "quotedetail", "C-1/1", line("C-1", 1)["record"], "id-C-1/1")

    state = await _same_either_way(pools, line_known, [
        line("C-1", 1, "update", quantity="5"),  # saved when the chunk ends ...
        line("C-1", 1, "update", quantity="-1"),  # ... unless a refusal of the same row writes it first
    ], topic=LINES)
    assert state["set_based"] == [True]
    assert [value["code"] for topic, _, value in state["writes"] if topic == "dataverse.notifications"] == [
        "command.invalid"]
    [row] = [r for r in state["tables"]["sales_row"] if r["alt_key"] == "C-1/1"]
    assert row["record"]["quantity"] == "1"  # SCM's, put back
