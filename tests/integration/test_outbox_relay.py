"""The outbox on a real PostgreSQL and a real Kafka broker."""

import asyncio
import re
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import asyncpg

from q2c_messaging import inbox
from q2c_messaging.catalog import TopicCatalog, parse_catalog
from q2c_messaging.outbox import Outbox, OutboxCounts, OutboxRelay, UnauthorisedWrite, outbox_counts
from q2c_messaging.producer import make_producer

from ..conftest import create_topic

RELAY = Path(__file__).with_name("relay_process.py")
KEYS = 40
BATCH = 250


def _catalog(topic: str) -> TopicCatalog:
    return parse_catalog({"topics": {topic: {"partitions": 3, "writers": ["it"]}}})


async def _fill_outbox(pool: asyncpg.Pool, topic: str, total: int) -> None:
    """`total` messages over KEYS keys, numbered per key, in transactions of 1000."""
    catalog = _catalog(topic)
    for start in range(0, total, 1000):
        async with pool.acquire() as conn, conn.transaction():
            outbox = Outbox(conn, "it", catalog)
            for n in range(start, min(start + 1000, total)):
                key = f"doc-{n % KEYS}"
                await outbox.append(topic, key, f'{{"n": {n}, "seq": {n // KEYS}}}'.encode(),
                                    message_id=f"m-{n}", type="it.happened")


async def _outbox_size(pool: asyncpg.Pool) -> int:
    return await pool.fetchval("SELECT count(*) FROM outbox")


async def _wait_until_blocked_on_delete(pool: asyncpg.Pool, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    blocked = ("SELECT count(*) FROM pg_stat_activity"
               " WHERE wait_event_type = 'Lock' AND query LIKE '%DELETE FROM outbox%'")  # alone, or with the next read
    while not await pool.fetchval(blocked):
        assert time.monotonic() < deadline, "the relay never reached its DELETE"
        await asyncio.sleep(0.05)  # polling the fact


def _start_relay(dsn: str, bootstrap: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, str(RELAY), dsn, bootstrap, str(BATCH)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


async def test_relay_killed_mid_batch_loses_nothing_and_dedupes(scratch_db, scratch_pool, bootstrap, probe_factory):
    pool = scratch_pool
    # Given 20 000 messages waiting in the outbox
    total = 20_000
    topic = await create_topic(bootstrap)
    probe = await probe_factory(topic)
    await _fill_outbox(pool, topic, total)

    # When the relay is SIGKILLed after publishing a batch but before marking it sent:
    # a SHARE lock held by the test lets the relay read and publish, but blocks its DELETE.
    blocker = await pool.acquire()
    blocking = blocker.transaction()
    await blocking.start()
    await blocker.execute("LOCK TABLE outbox IN SHARE MODE")
    relay = _start_relay(scratch_db, bootstrap)
    await probe.wait_for(topic, count=BATCH, timeout=60)
    # The relay deletes a batch only after every send of it is acknowledged: once its DELETE
    # waits on our lock, the topic holds all it will publish before the crash.
    await _wait_until_blocked_on_delete(pool)
    await probe.wait_for(topic, count=await probe.end_offset_total(topic), timeout=60)
    relay.kill()
    relay.wait()
    await blocking.rollback()
    await pool.release(blocker)
    published_before_crash = len(probe.records)
    assert published_before_crash == BATCH, "the relay publishes one batch, then waits to mark it"
    assert await _outbox_size(pool) == total, "nothing was marked sent"

    # and a new relay takes over
    relay = _start_relay(scratch_db, bootstrap)
    try:
        for _ in range(600):
            if await _outbox_size(pool) == 0:
                break
            await asyncio.sleep(0.1)  # polling the fact
        assert await _outbox_size(pool) == 0
        records = await probe.wait_for(topic, count=total + BATCH, timeout=60)
    finally:
        relay.kill()
        relay.wait()

    # Then every message is on the topic, in order per key (first deliveries)...
    ids = [r.headers["message_id"] for r in records]
    assert set(ids) == {f"m-{n}" for n in range(total)}
    seen: set[str] = set()
    last_seq: dict[str, int] = defaultdict(lambda: -1)
    for record in records:
        if record.headers["message_id"] in seen:
            continue
        seen.add(record.headers["message_id"])
        assert record.value["seq"] > last_seq[record.key], f"order broken for {record.key}"
        last_seq[record.key] = record.value["seq"]
    # ...and a consumer that dedupes with the inbox handles each exactly once.
    handled = 0
    async with pool.acquire() as conn:
        for record in records:
            handled += await inbox.claim(conn, "deduping-consumer", record.headers["message_id"])
    assert handled == total
    # The batch in flight at the crash was published again, and only that batch.
    assert len(records) - total == BATCH


async def test_relay_publishes_headers_and_keys(scratch_db, scratch_pool, bootstrap, probe_factory):
    pool = scratch_pool
    topic = await create_topic(bootstrap)
    probe = await probe_factory(topic)
    async with pool.acquire() as conn, conn.transaction():
        outbox = Outbox(conn, "it", _catalog(topic), correlation_id="flow-1", causation_id="cmd-1")
        await outbox.append(topic, "F-000001", b'{"hello": "world"}', message_id="m-1", type="it.said")
    relay = OutboxRelay(pool, lambda: make_producer(bootstrap, "it"), poll_interval=5.0)
    await relay.start()
    try:
        # NOTIFY wakes the relay long before its 5 s poll.
        [record] = await probe.wait_for(topic, timeout=4)
        await relay.stop()  # lets the batch finish: the row is deleted, not left to republish
    finally:
        await relay.stop()
    assert record.key == "F-000001"
    assert record.value == {"hello": "world"}
    assert record.headers == {"message_id": "m-1", "type": "it.said", "producer": "it",
                              "correlation_id": "flow-1", "causation_id": "cmd-1"}
    assert await _outbox_size(pool) == 0


async def test_outbox_refuses_a_topic_the_service_may_not_write(scratch_pool):
    pool = scratch_pool
    catalog = parse_catalog({"topics": {"owned.elsewhere": {"writers": ["someone-else"]}}})
    async with pool.acquire() as conn, conn.transaction():
        try:
            await Outbox(conn, "it", catalog).append("owned.elsewhere", "k", b"{}", message_id="m", type="a.b")
        except UnauthorisedWrite as exc:
            assert "it may not write owned.elsewhere" in str(exc)
        else:
            raise AssertionError("the write was not refused")


async def test_the_rows_a_relay_deleted_are_vacuumed_away_while_it_runs(scratch_pool, bootstrap, probe_factory):
    """The outbox is a queue: its dead rows, not its live ones, decide what the relay's read
    costs (messaging migration 0006_outbox_vacuum), so the server vacuums it after 1,000 dead
    rows whatever its size, and looks every 2 s (q2c_localstack.postgres.SERVER_SETTINGS)."""
    pool = scratch_pool
    options = await pool.fetchval("SELECT reloptions FROM pg_class WHERE oid = 'outbox'::regclass")
    assert set(options) == {"autovacuum_vacuum_scale_factor=0", "autovacuum_vacuum_threshold=1000",
                            "autovacuum_vacuum_cost_delay=0"}
    assert await pool.fetchval("SELECT current_setting('autovacuum_naptime')") == "2s"

    topic = await create_topic(bootstrap)
    probe = await probe_factory(topic)
    await _fill_outbox(pool, topic, 3000)
    relay = OutboxRelay(pool, lambda: make_producer(bootstrap, "it"))
    await relay.start()
    try:
        await probe.wait_for(topic, count=3000, timeout=60)
        deadline = time.monotonic() + 60  # a bound for a loaded machine; the server looks every 2 s
        while (stats := await pool.fetchrow(
                "SELECT autovacuum_count, n_dead_tup FROM pg_stat_user_tables WHERE relname = 'outbox'")
               )["autovacuum_count"] == 0 or await _outbox_size(pool):
            assert time.monotonic() < deadline, f"the outbox was not vacuumed: {dict(stats)}"
            await asyncio.sleep(0.2)  # polling the fact
    finally:
        await relay.stop()
    # the vacuum left the heap without the dead rows' tuples: a read from the start of the
    # primary key, as the relay's, visits almost nothing
    plan = "\n".join(row[0] for row in await pool.fetch(
        "EXPLAIN (ANALYZE, BUFFERS, FORMAT TEXT) SELECT id FROM outbox ORDER BY id LIMIT 500"))
    hits = sum(int(n) for n in re.findall(r"(?:hit|read)=(\d+)", plan.split("Planning")[0]))
    assert hits < 50, plan


async def test_the_outbox_counts_show_its_dead_rows_until_a_vacuum(scratch_pool):
    """`q2c_outbox_dead_rows` (runtime._count_outbox): deleted rows not yet vacuumed, which
    the relay's read walks. Autovacuum is off for this table here, so only our VACUUM counts."""
    pool = scratch_pool
    await pool.execute("ALTER TABLE outbox SET (autovacuum_enabled = false)")
    await _fill_outbox(pool, "it.dead-rows", 1500)
    async with pool.acquire() as conn:
        await conn.execute("DELETE FROM outbox WHERE id IN (SELECT id FROM outbox ORDER BY id LIMIT 1200)")
        # the session's pending counts (the DELETE's) reach the statistics view when it goes idle
        await conn.execute("SELECT pg_stat_force_next_flush()")
        assert await outbox_counts(conn) == OutboxCounts(waiting=300, parked=0, dead=1200)
        await conn.execute("VACUUM outbox")
        assert await outbox_counts(conn) == OutboxCounts(waiting=300, parked=0, dead=0)
