"""A poison outbox row on the real broker: a record larger than the topic's max.message.bytes
is refused for good. It is parked after a bounded number of attempts with its error, counted
in a metric, listed and retried by the admin command; the rows of other keys go on meanwhile
(even on its partition), and the rows of its own key wait behind it, so per-key order holds."""

import asyncio
import functools
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from uuid import uuid4

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from q2c_localstack.config import StackConfig
from q2c_localstack.probe import Record
from q2c_messaging import outbox_admin
from q2c_messaging.catalog import parse_catalog
from q2c_messaging.outbox import Outbox, OutboxRelay
from q2c_messaging.producer import make_producer
from q2c_messaging.security import security_kwargs
from q2c_observability import metrics

from ..conftest import stack_command_env

LIMIT = 2_000  # the topic's max.message.bytes
SERVICE = "it-poison"
ATTEMPTS = 3


@pytest.fixture
async def small_topic(bootstrap: str) -> AsyncIterator[str]:
    """One partition (the poison row shares it with every other row) and a small size limit."""
    name = f"it.poison.{uuid4().hex[:10]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **security_kwargs())
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, 1, 1, topic_configs={"max.message.bytes": str(LIMIT)})])
        yield name
    finally:
        await admin.close()


async def _raise_limit(bootstrap: str, topic: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **security_kwargs())
    await admin.start()
    try:
        await admin.alter_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic, configs={"max.message.bytes": str(LIMIT * 10)})])
    finally:
        await admin.close()


async def _append(pool: asyncpg.Pool, topic: str, rows: list[tuple[str, int, int]]) -> None:
    """(key, seq, padding bytes) rows, in this order, in one transaction."""
    catalog = parse_catalog({"topics": {topic: {"partitions": 1, "writers": [SERVICE]}}})
    async with pool.acquire() as conn, conn.transaction():
        outbox = Outbox(conn, SERVICE, catalog)
        for key, seq, pad in rows:
            value = json.dumps({"key": key, "seq": seq, "pad": "x" * pad}).encode()
            await outbox.append(topic, key, value, message_id=f"{key}-{seq}", type="it.happened")


async def _wait_until(fact: Callable[[], Awaitable[bool]], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not await fact():
        assert time.monotonic() < deadline, "the fact did not come true in time"
        await asyncio.sleep(0.05)  # polling the fact


def _sequence(records: list[Record], key: str) -> list[int]:
    return [r.value["seq"] for r in records if r.key == key]


async def test_a_poison_row_is_parked_and_blocks_only_its_own_key(
    scratch_db, scratch_pool, bootstrap, probe_factory, small_topic, monkeypatch, capsys
):
    pool, topic = scratch_pool, small_topic
    probe = await probe_factory(topic)
    parked_before = metrics.OUTBOX_PARKED.labels(SERVICE, topic)._value.get()
    # Given rows of three keys, key P's second row larger than the topic allows, more rows behind it
    await _append(pool, topic, [
        ("A", 1, 10), ("P", 1, 10), ("B", 1, 10),
        ("P", 2, LIMIT * 3),
        ("A", 2, 10), ("P", 3, 10), ("B", 2, 10), ("P", 4, 10), ("A", 3, 10),
    ])

    # When the relay runs
    relay = OutboxRelay(pool, lambda: make_producer(bootstrap, "it-poison-relay"),
                        service=SERVICE, poll_interval=0.2, max_attempts=ATTEMPTS)
    await relay.start()
    try:
        # Then the other keys go on, whole and in order, though they share the poison's partition
        await probe.wait_for(topic, lambda r: r.key in ("A", "B"), count=5, timeout=30)

        # and the poison row is parked after ATTEMPTS refusals, with its error, and counted
        async def parked() -> bool:
            return bool(await pool.fetchval("SELECT count(*) FROM outbox WHERE parked_at IS NOT NULL"))
        await _wait_until(parked)
        row = await pool.fetchrow("SELECT * FROM outbox WHERE parked_at IS NOT NULL")
        assert (row["key"], row["headers"]["message_id"], row["attempts"]) == ("P", "P-2", ATTEMPTS)
        assert "MessageSizeTooLarge" in row["last_error"]
        assert metrics.OUTBOX_PARKED.labels(SERVICE, topic)._value.get() == parked_before + 1

        # and a row written later on another key passes the parked one and the rows behind it
        await _append(pool, topic, [("B", 3, 10)])
        await probe.wait_for(topic, lambda r: r.key == "B" and r.value["seq"] == 3, timeout=30)
        records = probe.matching(topic)
        assert _sequence(records, "A") == [1, 2, 3]
        assert _sequence(records, "B") == [1, 2, 3]
        assert _sequence(records, "P") == [1], "nothing of key P went past its parked row"

        async def only_key_p_left() -> bool:  # the relay deletes a batch just after the broker has it
            return await pool.fetchval("SELECT count(*) FROM outbox WHERE key <> 'P'") == 0
        await _wait_until(only_key_p_left)
        waiting = await pool.fetch("SELECT headers->>'message_id' AS m FROM outbox WHERE parked_at IS NULL ORDER BY id")
        assert [r["m"] for r in waiting] == ["P-3", "P-4"]

        # When the admin lists the parked rows
        monkeypatch.setenv("Q2C_DB_URL", scratch_db)
        assert await outbox_admin.main(["parked"]) == 0
        listing = capsys.readouterr().out
        assert f"{row['id']}  {topic}  P  " in listing
        assert "attempts 3" in listing and "2 waiting behind" in listing and "MessageSizeTooLarge" in listing
        assert "1 parked row(s)" in listing

        # and, the topic's limit raised, retries them
        await _raise_limit(bootstrap, topic)
        assert await outbox_admin.main(["retry", "--all"]) == 0
        assert f"1 row(s) back to the relay: {row['id']}" in capsys.readouterr().out

        # Then key P goes on from its parked row, in order, and the outbox empties
        await probe.wait_for(topic, lambda r: r.key == "P", count=4, timeout=30)
        assert _sequence(probe.matching(topic), "P") == [1, 2, 3, 4]

        async def empty() -> bool:
            return await pool.fetchval("SELECT count(*) FROM outbox") == 0
        await _wait_until(empty)
    finally:
        await relay.stop()


async def test_retry_refuses_a_row_that_is_not_parked(scratch_db, scratch_pool, monkeypatch, capsys):
    monkeypatch.setenv("Q2C_DB_URL", scratch_db)

    assert await outbox_admin.main(["retry", "12345"]) == 2

    assert "row 12345 is not parked" in capsys.readouterr().err


def test_the_stack_command_reaches_a_services_outbox(running_stack: StackConfig) -> None:
    # `python -m q2c_localstack outbox SERVICE ...`, configured like the test stack
    env = stack_command_env(running_stack)
    run = functools.partial(subprocess.run, env=env, capture_output=True, text=True, timeout=60)

    listed = run([sys.executable, "-m", "q2c_localstack", "outbox", "quote", "parked"])
    unknown = run([sys.executable, "-m", "q2c_localstack", "outbox", "nobody", "parked"])

    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.strip().endswith("parked row(s)")
    assert unknown.returncode == 2 and "SERVICE one of" in unknown.stderr
