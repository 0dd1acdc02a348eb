"""Inbox pruning (docs/messaging.md "Inbox pruning"): an inbox row makes a redelivered record
a no-op, so it may go only once its record can never be read again, i.e. has left its topic's
log. `keep_for` is that rule (pure); `prune` deletes, in small batches, the rows older than it.
No business rules: the topic's retention and compaction come from the catalog."""

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from q2c_observability import get_logger, metrics
from q2c_persistence import Connection

from .catalog import TopicSpec

log = get_logger(__name__)

DAY_MS = 24 * 3600 * 1000
KAFKA_DEFAULT_RETENTION_MS = 7 * DAY_MS  # the broker's log.retention.hours=168
KAFKA_DEFAULT_SEGMENT_MS = 7 * DAY_MS  # the broker's log.roll.hours=168
UNKNOWN = None  # the topic of a row written before the topic was recorded


@dataclass(frozen=True)
class Retention:
    """What the broker does with a topic that sets nothing, and the safety margin."""

    default_retention_ms: int = KAFKA_DEFAULT_RETENTION_MS
    segment_ms: int = KAFKA_DEFAULT_SEGMENT_MS
    margin: timedelta = timedelta(days=1)


def keep_for(topic: TopicSpec, retention: Retention) -> timedelta | None:
    """How long an inbox row of a record of `topic` must stay after it was handled; None:
    for good. A record stays in the log until the whole segment holding it is older than the
    retention, and a segment is rolled at the latest segment.ms after its first record."""
    if topic.compacted:
        # the last record of each key stays forever, superseded ones for an unbounded time: a
        # replay would handle them again (and an old value after a newer one was pruned)
        return None
    retention_ms = retention.default_retention_ms if topic.retention_ms is None else topic.retention_ms
    if retention_ms < 0:  # retention.ms=-1: kept forever
        return None
    return timedelta(milliseconds=retention_ms + retention.segment_ms) + retention.margin


def keep_unknown_for(topics: Iterable[TopicSpec], retention: Retention) -> timedelta | None:
    """For rows whose topic is not recorded: the longest of the service's topics (None if one
    of them keeps its rows for good, or the service reads no topic)."""
    ages = [keep_for(topic, retention) for topic in topics]
    if not ages or any(age is None for age in ages):
        return None
    return max(age for age in ages if age is not None)


# One short transaction per statement: the rows are locked only while this batch is deleted,
# and rows another pruner (a replica) has locked are skipped, not waited for.
# `topic = $1` and `topic IS NULL` apart: IS NOT DISTINCT FROM would not use the index.
_DELETE = """
DELETE FROM inbox WHERE ctid = ANY(ARRAY(
    SELECT ctid FROM inbox
    WHERE {topic} AND received_at < now() - $1::interval
    LIMIT $2 FOR UPDATE SKIP LOCKED))
"""
_DELETE_OF_TOPIC = _DELETE.format(topic="topic = $3")
_DELETE_UNKNOWN = _DELETE.format(topic="topic IS NULL")


async def prune_topic(conn: Connection, service: str, topic: str | None, older_than: timedelta,
                      batch: int = 1000) -> int:
    """Delete the inbox rows of `topic` (None: rows without a topic) handled more than
    `older_than` ago, `batch` at a time; the number deleted."""
    deleted = 0
    while True:
        if topic is None:
            status = await conn.execute(_DELETE_UNKNOWN, older_than, batch)
        else:
            status = await conn.execute(_DELETE_OF_TOPIC, older_than, batch, topic)
        count = int(status.split()[-1])
        deleted += count
        if count:
            metrics.INBOX_PRUNED.labels(service, topic or "unknown").inc(count)
        if count < batch:
            return deleted
        await asyncio.sleep(0)  # let the service's other work in between batches


def plan(topics: Iterable[TopicSpec], retention: Retention) -> dict[str | None, timedelta]:
    """For each topic the service reads (and the unknown topic), the age after which its rows
    go; topics whose rows stay for good are left out."""
    topics = list(topics)
    ages: dict[str | None, timedelta] = {}
    for topic in topics:
        age = keep_for(topic, retention)
        if age is not None:
            ages[topic.name] = age
    unknown = keep_unknown_for(topics, retention)
    if unknown is not None:
        ages[UNKNOWN] = unknown
    return ages


async def prune(conn: Connection, service: str, topics: Iterable[TopicSpec], retention: Retention,
                batch: int = 1000) -> dict[str | None, int]:
    """One pass: every topic's rows older than its age; rows deleted per topic."""
    deleted = {topic: await prune_topic(conn, service, topic, age, batch)
               for topic, age in plan(topics, retention).items()}
    if any(deleted.values()):
        log.info("inbox.pruned", rows={topic or "unknown": n for topic, n in deleted.items() if n})
    return deleted
