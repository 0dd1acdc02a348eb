"""The feature copy kept in memory (docs/messaging.md "Cached copies") on the real PostgreSQL,
with the quote service's real `feature_copy` table and trigger: two processes ("replicas"),
each with its own copy, handle messages through the consumer recipe. A write of the copy by
the other process, or by anyone on another connection, is seen by the very next message; while
nothing changes, no message reads the table. Statements are counted with asyncpg's query
logger on every connection of each process's pool."""

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from uuid import uuid4

import asyncpg
import pytest

from q2c_messaging.catalog import parse_catalog
from q2c_messaging.consumer import Handling, MessageProcessor, Route
from q2c_messaging.dead_letters import SourceRecord
from q2c_messaging.runtime import MESSAGING_MIGRATIONS
from q2c_persistence import apply_migrations, copies, create_pool, load_migrations, tables
from quote_service.app import MIGRATIONS as QUOTE_MIGRATIONS

COMMANDS, FEATURES = "it.commands", "it.features"
CATALOG = parse_catalog({
    "services": ["svc"],
    "topics": {COMMANDS: {"partitions": 1, "writers": ["tests"], "consumers": ["svc"]},
               FEATURES: {"partitions": 1, "compacted": True, "writers": ["tests"], "consumers": ["svc"]}},
})


@dataclass
class Replica:
    """One process of a service: its pool (every statement logged), its own copy, its
    processors; `seen`: the features each handled command decided with, by message id."""

    pool: asyncpg.Pool
    copy: copies.VersionedCopy[dict[str, Any]] = field(default_factory=lambda: tables.settings_copy(dict))
    statements: list[str] = field(default_factory=list)
    seen: dict[str, dict[str, Any]] = field(default_factory=dict)
    offset: int = 0

    def processor(self, topic: str) -> MessageProcessor[dict[str, Any]]:
        async def on_command(handling: Handling[dict[str, Any]]) -> None:
            self.seen[handling.message_id] = await self.copy.get(handling.conn)

        async def on_feature(handling: Handling[dict[str, Any]]) -> None:
            message = handling.message
            await tables.store_setting(handling.conn, message["name"], message["value"])
            # what the adapter does: decide with the copy right after writing it
            self.seen[handling.message_id] = await self.copy.get(handling.conn)

        route = Route(topic=topic, parse=lambda raw: raw, message_id=lambda m: m["message_id"],
                      handle=on_command if topic == COMMANDS else on_feature)
        return MessageProcessor(route, service="svc", pool=self.pool, catalog=CATALOG,
                                dead_letters=None)  # type: ignore[arg-type] # nothing is dead-lettered here

    async def handle(self, topic: str, *messages: dict[str, Any]) -> list[str]:
        """Messages as one chunk (one transaction); their ids."""
        records = []
        for message in messages:
            message = {"message_id": str(uuid4()), **message}
            self.offset += 1
            records.append(SourceRecord(topic, 0, self.offset, b"k", json.dumps(message).encode()))
        assert await self.processor(topic).process_batch(records) == ["handled"] * len(records)
        return [json.loads(r.value or b"")["message_id"] for r in records]

    def feature_reads(self) -> int:
        return sum("FROM feature_copy" in s for s in self.statements)

    def version_reads(self) -> int:
        return sum("FROM copy_version WHERE" in s for s in self.statements)


async def _replica(dsn: str) -> Replica:
    statements: list[str] = []

    async def init(conn: asyncpg.Connection) -> None:
        await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
        conn.add_query_logger(lambda logged: statements.append(logged.query))

    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2, init=init)
    return Replica(pool, statements=statements)


@pytest.fixture
async def replicas(scratch_db: str) -> AsyncIterator[tuple[Replica, Replica]]:
    setup = await create_pool(scratch_db)
    await apply_migrations(setup, load_migrations("messaging", MESSAGING_MIGRATIONS),
                           load_migrations("quote", QUOTE_MIGRATIONS))
    await setup.close()
    a, b = await _replica(scratch_db), await _replica(scratch_db)
    yield a, b
    await a.pool.close()
    await b.pool.close()


async def test_a_write_by_another_replica_or_connection_is_seen_by_the_very_next_message(
        replicas: tuple[Replica, Replica], scratch_db: str) -> None:
    a, b = replicas
    [first] = await a.handle(COMMANDS, {})
    assert a.seen[first] == {}  # nothing heard yet

    await b.handle(FEATURES, {"name": "PriceMaster", "value": True})  # the other replica's write
    [second] = await a.handle(COMMANDS, {})
    assert a.seen[second] == {"PriceMaster": True}

    operator = await asyncpg.connect(scratch_db)  # a write outside any service
    try:
        await operator.execute("UPDATE feature_copy SET value = 'false'::jsonb WHERE name = 'PriceMaster'")
    finally:
        await operator.close()
    [third] = await a.handle(COMMANDS, {})
    assert a.seen[third] == {"PriceMaster": False}

    [fourth] = await b.handle(COMMANDS, {})  # b's copy moved with its own write, then the operator's
    assert b.seen[fourth] == {"PriceMaster": False}


async def test_the_copy_is_not_read_again_while_nothing_changed(replicas: tuple[Replica, Replica]) -> None:
    a, b = replicas
    await b.handle(FEATURES, {"name": "PriceMaster", "value": True})
    await a.handle(COMMANDS, {})  # the first message loads the copy
    loaded = a.statements.copy()
    assert (a.feature_reads(), a.version_reads()) == (1, 1)

    singles = [(await a.handle(COMMANDS, {}))[0] for _ in range(5)]
    chunk = await a.handle(COMMANDS, *({} for _ in range(5)))

    assert all(a.seen[m] == {"PriceMaster": True} for m in singles + chunk)
    after = a.statements[len(loaded):]
    assert not [s for s in after if "feature_copy" in s or "FROM copy_version WHERE" in s]
    # what a chunk runs in the database now: its claim, which brings the versions along
    assert sum("INSERT INTO inbox" in s for s in after) == 6

    await b.handle(FEATURES, {"name": "PriceMaster", "value": False})
    [moved] = await a.handle(COMMANDS, {})
    assert a.seen[moved] == {"PriceMaster": False}
    assert (a.feature_reads(), a.version_reads()) == (2, 2)  # read again once, for the move


async def test_a_handler_that_writes_the_copy_decides_with_its_own_write(replicas: tuple[Replica, Replica]) -> None:
    a, _ = replicas
    await a.handle(COMMANDS, {})  # cached: nothing heard
    first, second = await a.handle(FEATURES, {"name": "PriceMaster", "value": True},
                                   {"name": "UseMessageProcessor", "value": True})  # one chunk
    assert a.seen[first] == {"PriceMaster": True}
    assert a.seen[second] == {"PriceMaster": True, "UseMessageProcessor": True}
    [after] = await a.handle(COMMANDS, {})
    assert a.seen[after] == {"PriceMaster": True, "UseMessageProcessor": True}


async def test_a_rolled_back_write_is_not_what_the_next_message_sees(replicas: tuple[Replica, Replica]) -> None:
    """A transaction that wrote the copy and read it (caching its own, uncommitted value)
    rolls back: the next message still sees the committed copy."""
    a, _ = replicas
    await a.handle(FEATURES, {"name": "PriceMaster", "value": False})
    async with a.pool.acquire() as conn:
        with pytest.raises(RuntimeError):
            async with conn.transaction():
                await tables.store_setting(conn, "PriceMaster", True)
                assert await a.copy.get(conn) == {"PriceMaster": True}
                raise RuntimeError("rolled back")
    [after] = await a.handle(COMMANDS, {})
    assert a.seen[after] == {"PriceMaster": False}
