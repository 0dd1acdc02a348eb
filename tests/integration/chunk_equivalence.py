"""Runs one route of a service on databases of its own, with its chunk hooks and without them
(docs/messaging.md "Chunk hooks"), to show that both give the same messages and tables: the
tests of each service's set-based chunks use it."""

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from uuid import uuid4

import asyncpg
import pytest

from q2c_localstack import postgres
from q2c_localstack.config import StackConfig
from q2c_messaging.consumer import ChunkHooks, MessageProcessor
from q2c_messaging.dead_letters import SourceRecord
from q2c_messaging.runtime import MESSAGING_MIGRATIONS, ServiceRuntime
from q2c_persistence import apply_migrations, create_pool, load_migrations

Prepare = Callable[[asyncpg.Connection], Awaitable[None]]


@dataclass(frozen=True)
class ServiceUnderTest:
    name: str
    migrations: Path
    build: Callable[[], ServiceRuntime]  # its routes only: the service itself is not started
    tables: tuple[tuple[str, str], ...]  # (table, ORDER BY) compared after the records
    ready: Prepare | None = None  # what the service does at start-up, before any record


class RouteUnderTest:
    """One route of the service on a database of its own."""

    def __init__(self, service: ServiceUnderTest, pool: asyncpg.Pool, topic: str, *, chunks: bool) -> None:
        runtime = service.build()
        self.service, self.topic, self.pool = service, topic, pool
        route = runtime.routes[topic]
        hooks = route.chunk
        assert hooks is not None
        # Per chunk: whether the hooks took it and saw it through (else one by one: declined, or
        # run again record by record after a failure, which would hide a wrong chunk path).
        self.set_based: list[bool] = []

        async def start(conn: Any, messages: list[Any]) -> Any:
            chunk = await hooks.start(conn, messages)
            self.set_based.append(False)
            return chunk

        async def end(conn: Any, chunk: Any) -> None:
            await hooks.end(conn, chunk)
            self.set_based[-1] = True

        route = replace(route, chunk=ChunkHooks(start, end) if chunks else None)
        self.processor = MessageProcessor(route, service=service.name, pool=pool, catalog=runtime.catalog,
                                          dead_letters=None)  # type: ignore[arg-type] # nothing is dead-lettered here
        self.offset = 0

    async def handle(self, *values: dict[str, Any]) -> list[str]:
        """The records as one chunk (one transaction)."""
        records = []
        for value in values:
            self.offset += 1
            records.append(SourceRecord(self.topic, 0, self.offset, b"k", json.dumps(value).encode()))
        return await self.processor.process_batch(records)

    async def state(self) -> dict[str, Any]:
        """What the records left: the messages in order (without their own ids and times), and
        the tables (without what only says when, or numbers rows)."""
        writes = [(row["topic"], row["key"], _scrubbed(json.loads(row["value"])))
                  for row in await self.pool.fetch("SELECT topic, key, value FROM outbox ORDER BY id")]
        tables = {}
        for table, order in self.service.tables:
            rows = await self.pool.fetch(f"SELECT * FROM {table} ORDER BY {order}")  # noqa: S608 - our own names
            tables[table] = [{k: v for k, v in dict(r).items() if not k.endswith("_at") and k not in ("seq", "id")
                              and k not in RANDOM} for r in rows]
        return {"writes": writes, "tables": tables}


# Values each run makes anew (uuid4, clocks): left out of what is compared.
RANDOM = frozenset({"message_id", "occurred_at", "event_id", "request_id"})


def _scrubbed(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _scrubbed(v) for k, v in value.items() if k not in RANDOM}
    if isinstance(value, list):
        return [_scrubbed(v) for v in value]
    return value


@pytest.fixture
async def databases(running_stack: StackConfig, monkeypatch: pytest.MonkeyPatch,
                    ) -> AsyncIterator[Callable[[ServiceUnderTest], Awaitable[asyncpg.Pool]]]:
    """Migrated databases of a service, one per call, dropped at the end."""
    monkeypatch.setenv("Q2C_DB_URL", postgres.admin_dsn(running_stack))  # what `build()` reads; not connected to
    admin = await asyncpg.connect(postgres.admin_dsn(running_stack))
    made: list[tuple[str, asyncpg.Pool]] = []

    async def make(service: ServiceUnderTest) -> asyncpg.Pool:
        name = f"q2c_it_{uuid4().hex[:10]}"
        await admin.execute(f'CREATE DATABASE "{name}"')
        pool = await create_pool(postgres.admin_dsn(running_stack, name))
        made.append((name, pool))
        await apply_migrations(pool, load_migrations("messaging", MESSAGING_MIGRATIONS),
                               load_migrations(service.name, service.migrations))
        if service.ready is not None:
            async with pool.acquire() as conn:
                await service.ready(conn)
        return pool

    yield make
    for name, pool in made:
        await pool.close()
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    await admin.close()


async def same_either_way(databases: Callable[[ServiceUnderTest], Awaitable[asyncpg.Pool]],
                          service: ServiceUnderTest, topic: str, prepare: Prepare | None,
                          *chunks: list[dict[str, Any]]) -> dict[str, Any]:
    """Handle `chunks` (each one transaction) of `topic` with the chunk hooks and without; both
    must end the same. Returns that state, the outcomes and which chunks went set-based."""
    states = []
    for hooks in (True, False):
        route = RouteUnderTest(service, await databases(service), topic, chunks=hooks)
        if prepare is not None:
            async with route.pool.acquire() as conn:
                await prepare(conn)
        outcomes = [await route.handle(*chunk) for chunk in chunks]
        states.append({"outcomes": outcomes, **await route.state()})
        if hooks:
            set_based = route.set_based
    with_hooks, one_by_one = states
    assert with_hooks == one_by_one
    return {**with_hooks, "set_based": set_based}
