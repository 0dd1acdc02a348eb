"""A route's chunk hooks (docs/messaging.md "Chunk hooks") in the consumer recipe, on the real
PostgreSQL: `start` sees the messages the chunk will handle, in order; every handler gets its
state; `end` runs once, in the chunk's transaction; a failure in either runs the chunk again
record by record, without the hooks."""

import json
from typing import Any
from uuid import uuid4

import asyncpg
import pytest

from q2c_messaging.catalog import parse_catalog
from q2c_messaging.consumer import ChunkHooks, Handling, MessageProcessor, Route
from q2c_messaging.dead_letters import SourceRecord

TOPIC = "it.chunks"
CATALOG = parse_catalog({"services": ["svc"], "topics": {TOPIC: {"partitions": 1, "writers": ["tests"],
                                                                  "consumers": ["svc"]}}})


class Recorder:
    def __init__(self, pool: asyncpg.Pool, *, fail_in: str | None = None, decline: bool = False) -> None:
        self.pool, self.fail_in, self.decline = pool, fail_in, decline
        self.started: list[list[str]] = []
        self.ended: list[Any] = []
        self.handled: list[tuple[str, Any]] = []
        self.offset = 0

    async def start(self, conn: Any, messages: list[dict[str, Any]]) -> Any:
        self.started.append([m["message_id"] for m in messages])
        if self.fail_in == "start":
            raise RuntimeError("start cannot")
        return None if self.decline else {"chunk": len(self.started)}

    async def end(self, conn: Any, state: Any) -> None:
        self.ended.append(state)
        await conn.execute("INSERT INTO effect (message_id) VALUES ('end')")
        if self.fail_in == "end":
            raise RuntimeError("end cannot")

    async def handle(self, handling: Handling[dict[str, Any]]) -> None:
        self.handled.append((handling.message_id, handling.chunk))
        await handling.conn.execute("INSERT INTO effect (message_id) VALUES ($1)", handling.message_id)

    def processor(self) -> MessageProcessor[dict[str, Any]]:
        route = Route(topic=TOPIC, parse=lambda raw: raw, message_id=lambda m: m["message_id"], handle=self.handle,
                      chunk=ChunkHooks(self.start, self.end))
        return MessageProcessor(route, service="svc", pool=self.pool, catalog=CATALOG,
                                dead_letters=None)  # type: ignore[arg-type] # nothing is dead-lettered here

    async def run(self, *ids: str) -> list[str]:
        records = []
        for message_id in ids:
            self.offset += 1
            records.append(SourceRecord(TOPIC, 0, self.offset, b"k", json.dumps({"message_id": message_id}).encode()))
        return await self.processor().process_batch(records)

    async def effects(self) -> list[str]:
        return [r["message_id"] for r in await self.pool.fetch("SELECT message_id FROM effect ORDER BY seq")]


@pytest.fixture
async def pool(scratch_pool: asyncpg.Pool) -> asyncpg.Pool:
    await scratch_pool.execute("CREATE TABLE effect (seq bigserial, message_id text)")
    return scratch_pool


async def test_start_sees_what_the_chunk_handles_and_end_runs_once_in_its_transaction(pool: asyncpg.Pool) -> None:
    recorder = Recorder(pool)
    a, b, c = (str(uuid4()) for _ in range(3))
    assert await recorder.run(a) == ["handled"]
    # a handled before and b twice in the chunk: start sees b once and c, in order
    assert await recorder.run(a, b, b, c) == ["duplicate", "handled", "duplicate", "handled"]
    assert recorder.started == [[a], [b, c]]
    assert recorder.handled == [(a, {"chunk": 1}), (b, {"chunk": 2}), (c, {"chunk": 2})]
    assert recorder.ended == [{"chunk": 1}, {"chunk": 2}]
    assert await recorder.effects() == [a, "end", b, c, "end"]


async def test_a_chunk_of_duplicates_only_starts_nothing(pool: asyncpg.Pool) -> None:
    recorder = Recorder(pool)
    a = str(uuid4())
    await recorder.run(a)
    assert await recorder.run(a) == ["duplicate"]
    assert recorder.started == [[a]] and len(recorder.ended) == 1


async def test_hooks_that_decline_leave_the_records_to_their_handlers(pool: asyncpg.Pool) -> None:
    recorder = Recorder(pool, decline=True)
    a, b = str(uuid4()), str(uuid4())
    assert await recorder.run(a, b) == ["handled", "handled"]
    assert recorder.handled == [(a, None), (b, None)]
    assert recorder.ended == []


@pytest.mark.parametrize("fail_in", ["start", "end"])
async def test_a_failing_hook_runs_the_chunk_again_record_by_record_without_hooks(pool: asyncpg.Pool,
                                                                                 fail_in: str) -> None:
    recorder = Recorder(pool, fail_in=fail_in)
    a, b = str(uuid4()), str(uuid4())
    assert await recorder.run(a, b) == ["handled", "handled"]
    assert recorder.started == [[a, b]]  # once: the run again has no hooks
    # the first run's writes were rolled back; the second handled each record alone
    assert await recorder.effects() == [a, b]
    assert recorder.handled[-2:] == [(a, None), (b, None)]
