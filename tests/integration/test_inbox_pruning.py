"""Inbox pruning on the real PostgreSQL (docs/messaging.md "Inbox pruning"): the rows whose
record has left its topic's log go, in batches; young rows, rows of compacted topics and rows
of an unknown topic that may be a compacted one stay; a redelivered young record is still a
no-op after a pass; two pruners at once (replicas) share the work; the operator command.

Age is made by setting `received_at` back (the rows were handled "days ago"), not by waiting."""

import asyncio
import functools
import subprocess
import sys
from datetime import timedelta
from typing import Any
from uuid import uuid4

import asyncpg
import pytest

from q2c_localstack.config import StackConfig
from q2c_messaging import inbox, inbox_admin
from q2c_messaging.catalog import parse_catalog
from q2c_messaging.consumer import Handling, MessageProcessor, Route
from q2c_messaging.dead_letters import SourceRecord
from q2c_messaging.inbox_pruning import Retention, prune
from q2c_observability import metrics

from ..conftest import stack_command_env

DAY = timedelta(days=1)
RETENTION = Retention()  # the broker's defaults: 7 days, segments rolled after 7 days; margin 1 day
CATALOG = parse_catalog({
    "services": ["svc"],
    "topics": {
        "it.day": {"partitions": 1, "retention_ms": 86_400_000, "writers": ["tests"], "consumers": ["svc"]},
        "it.default": {"partitions": 1, "writers": ["tests"], "consumers": ["svc"]},
        "it.features": {"partitions": 1, "compacted": True, "writers": ["tests"], "consumers": ["svc"]},
    },
})
TOPICS = [CATALOG["it.day"], CATALOG["it.default"], CATALOG["it.features"]]


async def _handled(pool: asyncpg.Pool, topic: str | None, age: timedelta, count: int = 1) -> list[str]:
    """`count` inbox rows of `topic` handled `age` ago; their message ids."""
    ids = [f"{topic}-{age.days}d-{uuid4().hex[:8]}" for _ in range(count)]
    async with pool.acquire() as conn, conn.transaction():
        assert await inbox.claim_many(conn, "svc", ids, topic) == set(ids)
        await conn.execute("UPDATE inbox SET received_at = now() - $1::interval WHERE message_id = ANY($2)", age, ids)
    return ids


async def _left(pool: asyncpg.Pool, ids: list[str]) -> int:
    return await pool.fetchval("SELECT count(*) FROM inbox WHERE message_id = ANY($1)", ids)


@pytest.mark.parametrize(("topic", "age", "stays"), [
    ("it.day", 10 * DAY, False),  # 1 day + 7 (segment) + 1 (margin) = 9 days
    ("it.day", 8 * DAY, True),
    ("it.default", 16 * DAY, False),  # 7 + 7 + 1 = 15 days
    ("it.default", 14 * DAY, True),
    ("it.features", 1000 * DAY, True),  # compacted: never
    (None, 1000 * DAY, True),  # unknown topic: could be the compacted one
])
async def test_a_pass_deletes_only_the_rows_whose_record_has_left_the_log(
        scratch_pool: asyncpg.Pool, topic: str | None, age: timedelta, stays: bool) -> None:
    ids = await _handled(scratch_pool, topic, age, count=3)
    young = await _handled(scratch_pool, topic, timedelta(minutes=1))

    async with scratch_pool.acquire() as conn:
        await prune(conn, "svc", TOPICS, RETENTION, batch=2)

    assert await _left(scratch_pool, ids) == (3 if stays else 0)
    assert await _left(scratch_pool, young) == 1


async def test_rows_of_an_unknown_topic_go_when_no_topic_of_the_service_keeps_them(scratch_pool: asyncpg.Pool) -> None:
    old, young = await _handled(scratch_pool, None, 16 * DAY), await _handled(scratch_pool, None, 14 * DAY)

    async with scratch_pool.acquire() as conn:
        deleted = await prune(conn, "svc", TOPICS[:2], RETENTION)  # no compacted topic: the longest, 15 days

    assert deleted[None] == 1
    assert await _left(scratch_pool, old) == 0 and await _left(scratch_pool, young) == 1


async def test_the_pruned_rows_are_counted(scratch_pool: asyncpg.Pool) -> None:
    counter = metrics.INBOX_PRUNED.labels("svc", "it.day")
    before = counter._value.get()  # noqa: SLF001 - the counter's value
    await _handled(scratch_pool, "it.day", 30 * DAY, count=5)

    async with scratch_pool.acquire() as conn:
        await prune(conn, "svc", TOPICS, RETENTION, batch=2)

    assert counter._value.get() - before == 5  # noqa: SLF001


async def test_a_redelivered_young_record_is_still_a_no_op_after_a_pass(scratch_pool: asyncpg.Pool) -> None:
    async with scratch_pool.acquire() as conn:
        await conn.execute("CREATE TABLE IF NOT EXISTS effect (message_id text)")
    handled: list[str] = []

    async def handle(handling: Handling[dict[str, Any]]) -> None:
        handled.append(handling.message_id)
        await handling.conn.execute("INSERT INTO effect VALUES ($1)", handling.message_id)

    processor = MessageProcessor(Route(topic="it.day", parse=lambda raw: raw, message_id=lambda m: m["message_id"],
                                       handle=handle),
                                 service="svc", pool=scratch_pool, catalog=CATALOG, dead_letters=None)  # type: ignore[arg-type]
    message_id = str(uuid4())
    record = SourceRecord("it.day", 0, 7, b"k", f'{{"message_id": "{message_id}"}}'.encode())
    assert await processor.process(record) == "handled"
    # the consumer recipe records the record's topic: what decides when the row may go
    assert await scratch_pool.fetchval("SELECT topic FROM inbox WHERE message_id = $1", message_id) == "it.day"
    # handled 8 days ago: its record may still be in the log (9 days)
    await scratch_pool.execute("UPDATE inbox SET received_at = now() - interval '8 days' WHERE message_id = $1",
                               message_id)
    await _handled(scratch_pool, "it.day", 10 * DAY, count=4)  # old rows, for the pass to have work

    async with scratch_pool.acquire() as conn:
        deleted = await prune(conn, "svc", TOPICS, RETENTION)
    again = await processor.process(record)  # redelivered

    assert deleted["it.day"] == 4
    assert again == "duplicate"
    assert handled == [message_id]
    assert await scratch_pool.fetchval("SELECT count(*) FROM effect WHERE message_id = $1", message_id) == 1


async def test_two_pruners_at_once_share_the_rows(scratch_db: str, scratch_pool: asyncpg.Pool) -> None:
    old = await _handled(scratch_pool, "it.day", 10 * DAY, count=3_000)
    young = await _handled(scratch_pool, "it.day", DAY, count=50)
    other = await asyncpg.create_pool(scratch_db, min_size=1, max_size=1)
    try:
        async def one(pool: asyncpg.Pool) -> int:
            async with pool.acquire() as conn:
                return (await prune(conn, "svc", TOPICS, RETENTION, batch=100))["it.day"]

        first, second = await asyncio.gather(one(scratch_pool), one(other))
    finally:
        await other.close()

    assert first + second == len(old)  # each row deleted once, none left, no error
    assert await _left(scratch_pool, old) == 0 and await _left(scratch_pool, young) == 50


async def test_the_operator_prunes_an_age_below_a_topics_safe_age_only_with_force(
        scratch_db: str, scratch_pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    # ownership reads ownership.requests (no retention_ms: 15 days) and scm.feature.events (compacted)
    monkeypatch.setenv("Q2C_DB_URL", scratch_db)
    requests = await _handled(scratch_pool, "ownership.requests", 3 * DAY, count=2)
    features = await _handled(scratch_pool, "scm.feature.events", 3 * DAY, count=2)

    refused = await inbox_admin.main(["prune", "--service", "ownership", "--older-than", "2"])
    left_after_refusal = await _left(scratch_pool, requests)
    forced = await inbox_admin.main(["prune", "--service", "ownership", "--older-than", "2", "--force"])

    said = capsys.readouterr()
    assert refused == 2 and "ownership.requests" in said.err
    assert left_after_refusal == 2
    assert forced == 0
    assert await _left(scratch_pool, requests) == 0
    assert await _left(scratch_pool, features) == 2  # compacted: never, not even with --force
    assert "2 inbox row(s) pruned" in said.out


def test_the_stack_command_reaches_a_services_inbox(running_stack: StackConfig) -> None:
    # `python -m q2c_localstack inbox SERVICE ...`, configured like the test stack
    env = stack_command_env(running_stack)
    run = functools.partial(subprocess.run, env=env, capture_output=True, text=True, timeout=60)

    stats = run([sys.executable, "-m", "q2c_localstack", "inbox", "quote", "stats"])
    pruned = run([sys.executable, "-m", "q2c_localstack", "inbox", "quote", "prune"])
    unknown = run([sys.executable, "-m", "q2c_localstack", "inbox", "nobody", "stats"])

    assert stats.returncode == 0, stats.stderr
    assert "scm.feature.events" in stats.stdout and "pruned never" in stats.stdout
    assert pruned.returncode == 0, pruned.stderr
    assert pruned.stdout.strip().endswith("inbox row(s) pruned")
    assert unknown.returncode == 2 and "SERVICE one of" in unknown.stderr
