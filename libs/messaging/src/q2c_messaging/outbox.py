"""The transactional outbox: messages are rows written in the business transaction, and a
relay publishes them afterwards. A crash between commit and publish only delays them; a
crash between publish and delete republishes them, which the consumers' inbox absorbs.
A row the broker refuses for good is parked after a bounded number of attempts, so it never
blocks the rows of other keys; the rows of its own key wait behind it (per-key order)."""

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeAlias

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka import errors as kafka_errors
from asyncpg.pool import PoolConnectionProxy
from pydantic import BaseModel

from q2c_contracts.codec import encode
from q2c_contracts.envelope import Envelope, SourceSystem
from q2c_observability import get_logger, metrics, tracing
from q2c_persistence import Connection

from . import headers as h
from .catalog import TopicCatalog

log = get_logger(__name__)

_RELAY_LOCK_KEY = 7_204_118  # one publishing relay per database keeps per-key order across replicas

# The broker (or the client, before sending) refuses the record itself: sending it again as it
# is cannot succeed. Anything else (broker away, leader moving, timeouts) is waited out.
REFUSALS: tuple[type[Exception], ...] = (
    kafka_errors.MessageSizeTooLargeError,  # larger than max.message.bytes (or max_request_size)
    kafka_errors.RecordTooLargeError,
    kafka_errors.RecordListTooLargeError,
    kafka_errors.CorruptRecordException,
    kafka_errors.InvalidTimestampError,
    kafka_errors.UnsupportedForMessageFormatError,
    kafka_errors.PolicyViolationError,
)
# After a refusal the idempotent producer's sequence for that partition has a gap the broker
# will not accept: the records after it fail with this until the producer is renewed.
_SEQUENCE_BROKEN = kafka_errors.OutOfOrderSequenceNumber
# Rows waiting to go out: not parked, and not behind a parked row of their topic and key.
_NEXT_ROWS = """
SELECT id, topic, key, value, headers, traceparent, tracestate, attempts FROM outbox o
WHERE parked_at IS NULL
  AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.parked_at IS NOT NULL AND p.topic = o.topic AND p.key = o.key)
ORDER BY id LIMIT $1
"""
# The same, deleting the rows the last pass published in the same statement (one round trip
# instead of two, `OutboxRelay._settle`). The SELECT sees the snapshot before the DELETE: hence
# `id <> ALL`. Used only when there is something to delete: the DELETE, even of nothing, takes
# the table's ROW EXCLUSIVE lock, and a plain read needs none.
_SETTLE_AND_NEXT_ROWS = """
WITH gone AS (DELETE FROM outbox WHERE id = ANY($2::bigint[]))
SELECT id, topic, key, value, headers, traceparent, tracestate, attempts FROM outbox o
WHERE parked_at IS NULL AND id <> ALL($2::bigint[])
  AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.parked_at IS NOT NULL AND p.topic = o.topic AND p.key = o.key)
ORDER BY id LIMIT $1
"""
_DELETE = "DELETE FROM outbox WHERE id = ANY($1::bigint[])"
# How long published rows may wait for the next pass to delete them with its read, before
# they are deleted alone: under load a pass follows within milliseconds.
SETTLE_DELAY = 0.02
_REFUSED = """
UPDATE outbox SET attempts = attempts + 1, last_error = $2,
                  parked_at = CASE WHEN attempts + 1 >= $3 THEN now() END
WHERE id = $1 RETURNING parked_at IS NOT NULL AS parked
"""
# Once a row has been refused, the next passes send one row at a time (so each refusal is the
# row's own, not its batch neighbours'), this many rows per pass.
CAREFUL_BATCH = 100

ProducerFactory = Callable[[], AIOKafkaProducer]
PoolConnection: TypeAlias = PoolConnectionProxy  # the relay keeps one of the pool


class UnauthorisedWrite(RuntimeError):
    """A service tried to write a topic the catalog does not let it write."""


_ONE_ROW = "INSERT INTO outbox (topic, key, value, headers, traceparent, tracestate) VALUES ($1, $2, $3, $4, $5, $6)"
# Many rows in one statement of fixed text (one prepared statement whatever the count); the
# rows are numbered so that their ids follow the order they were appended in (per-key order).
_MANY_ROWS = """
INSERT INTO outbox (topic, key, value, headers, traceparent, tracestate)
SELECT topic, key, value, headers, traceparent, tracestate
FROM unnest($1::text[], $2::text[], $3::bytea[], $4::jsonb[], $5::text[], $6::text[])
     WITH ORDINALITY AS r(topic, key, value, headers, traceparent, tracestate, n)
ORDER BY n
"""

_Row: TypeAlias = tuple[str, str, bytes, dict[str, str], str | None, str | None]


class OutboxRows:
    """The outbox rows of one transaction (or savepoint), kept until `write` puts them in with
    one statement just before it ends: a handler that publishes four messages pays one round
    trip to PostgreSQL, not four. Nothing reads the outbox inside the transaction that appends
    to it, so writing the rows at its end changes nothing the handler can see."""

    def __init__(self) -> None:
        self._rows: list[_Row] = []

    def add(self, row: _Row) -> None:
        self._rows.append(row)

    async def write(self, conn: Connection) -> None:
        rows, self._rows = self._rows, []
        if len(rows) == 1:
            await conn.execute(_ONE_ROW, *rows[0])
        elif rows:
            await conn.execute(_MANY_ROWS, *(list(column) for column in zip(*rows, strict=True)))


@dataclass
class Outbox:
    """Appends messages to the outbox inside the caller's transaction. Every message gets
    the ids of the message being handled (causation) and of its flow (correlation). With
    `rows`, the messages are kept there and the owner of the transaction writes them before it
    commits (the consume loop does: `OutboxRows`); without, each goes in at once."""

    conn: Connection
    service: str
    catalog: TopicCatalog
    correlation_id: str | None = None
    causation_id: str | None = None
    rows: OutboxRows | None = None

    async def append(
        self,
        topic: str,
        key: str,
        message: BaseModel | bytes,
        *,
        message_id: str,
        type: str,
        extra_headers: Mapping[str, str] | None = None,
    ) -> None:
        if not self.catalog.may_write(self.service, topic):
            raise UnauthorisedWrite(f"{self.service} may not write {topic} (deploy/kafka/topics.yaml)")
        value = message if isinstance(message, bytes) else encode(message)
        record_headers = {
            h.MESSAGE_ID: message_id,
            h.TYPE: type,
            h.PRODUCER: self.service,
            h.CORRELATION_ID: self.correlation_id or message_id,
            h.CAUSATION_ID: self.causation_id,
            **(extra_headers or {}),
        }
        # The trace context travels in columns of its own (messaging migration 0003): the relay
        # adds it as the record's traceparent/tracestate headers.
        trace_context = tracing.outgoing(topic)
        row: _Row = (topic, key, value, {k: v for k, v in record_headers.items() if v is not None},
                     trace_context.get(tracing.TRACEPARENT), trace_context.get(tracing.TRACESTATE))
        if self.rows is not None:
            self.rows.add(row)
        else:
            await self.conn.execute(_ONE_ROW, *row)


    async def append_envelope(
        self, topic: str, key: str, type: str, payload: BaseModel, *, source_system: SourceSystem = "internal",
    ) -> Envelope:
        """An internal message: the payload in the Envelope, with this flow's ids."""
        envelope = Envelope.new(
            type=type, key=key, payload=payload.model_dump(mode="json"), producer=self.service,
            source_system=source_system, causation_id=self.causation_id, correlation_id=self.correlation_id,
        )
        await self.append(topic, key, envelope, message_id=envelope.message_id, type=type)
        return envelope


@dataclass
class _Pass:
    """What one relay pass did with its rows."""

    sent: list[int]
    refused: list[tuple[asyncpg.Record, BaseException]]
    blocked: set[tuple[str, str]]  # (topic, key) with a refused row: its later rows wait

    def refuse(self, row: asyncpg.Record, exc: BaseException) -> None:
        self.refused.append((row, exc))
        self.blocked.add((row["topic"], row["key"]))


def _lost(conn: PoolConnection) -> bool:
    """The relay's connection is gone: closed, or already given back to the pool by asyncpg
    itself (it does so when the server ends the session: PostgreSQL killed or restarted), after
    which any call on the proxy raises InterfaceError. Reading that as "closed" reconnects at
    once instead of after a failed pass and its back-off."""
    try:
        return conn.is_closed()
    except asyncpg.InterfaceError:
        return True


class OutboxRelay:
    """Publishes outbox rows in id order, in batches: all sends of a batch are in flight
    together (the idempotent producer keeps their order per partition), then the batch is
    deleted. Wakes on NOTIFY from the insert trigger, polls as a fallback.

    The relay keeps ONE connection of the pool for itself: it LISTENs on it, holds the
    session advisory lock that makes it the one publisher of this database (per-key order
    across replicas; a replica without the lock tries again at each poll), and runs a pass in
    ONE statement with `synchronous_commit = off`: the delete of what the last pass published
    and the read of the next rows. When no pass follows within `SETTLE_DELAY` the published
    rows are deleted alone. A delete lost in a crash, or not yet made, only publishes its rows
    again, which the consumers' inbox absorbs (docs/messaging.md, "The relay").

    A refused row (`REFUSALS`) counts an attempt; the relay then sends rows one at a time until
    no refused row is left in its window, renewing its producer after each refusal; at
    `max_attempts` the row is parked (`q2c_outbox_parked_total`) until `outbox retry`.
    The relay owns its producer: `producer` makes a new one (unstarted)."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        producer: ProducerFactory,
        *,
        service: str = "",
        batch_size: int = 500,
        poll_interval: float = 1.0,
        max_attempts: int = 5,
    ) -> None:
        self._pool = pool
        self._new_producer = producer
        self._producer: AIOKafkaProducer | None = None
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._max_attempts = max_attempts
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._conn: PoolConnection | None = None  # the relay's own: LISTEN, the lock, its passes
        self._locked = False
        self._stopping = False
        self._more = False  # the last pass filled its window: go again at once
        self._published: list[int] = []  # ids on Kafka, still to delete (`_settle`)
        self.published = 0
        self.parked = 0
        self._service = service

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done() and not self._stopping

    async def start(self) -> None:
        await self._ready_producer()
        with contextlib.suppress(OSError, asyncpg.PostgresError, TimeoutError):
            await self._leader()  # else the first pass tries again
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def _ready_producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = self._new_producer()
            await producer.start()
            self._producer = producer
        return self._producer

    async def _renew_producer(self) -> None:
        """A new producer id: its sequences start again, past the refused record's gap."""
        producer, self._producer = self._producer, None
        if producer is not None:
            with contextlib.suppress(Exception):
                await producer.stop()
        await self._ready_producer()

    async def _leader(self) -> PoolConnection | None:
        """The relay's connection when it holds the publishing lock, else None. Opened (LISTEN,
        lock, no synchronous commit) on first use and again after the database went away."""
        if self._conn is not None and _lost(self._conn):
            await self._drop_connection()
        if self._conn is None:
            conn: PoolConnection = await self._pool.acquire()
            try:
                await conn.execute("SET synchronous_commit = off")
                await conn.add_listener("outbox", self._on_notify)
            except BaseException:
                await self._pool.release(conn)
                raise
            self._conn, self._locked = conn, False
        if not self._locked:
            self._locked = bool(await self._conn.fetchval("SELECT pg_try_advisory_lock($1)", _RELAY_LOCK_KEY))
        return self._conn if self._locked else None

    def _on_notify(self, *_: object) -> None:
        self._wake.set()

    async def _drop_connection(self) -> None:
        conn, self._conn, self._locked = self._conn, None, False
        if conn is not None:
            with contextlib.suppress(Exception):
                if not _lost(conn):
                    # The pool does not reset sessions (q2c_persistence.pool): unlock, UNLISTEN
                    # and synchronous_commit back to on, before anyone else gets it.
                    await conn.reset(timeout=2)
                await self._pool.release(conn, timeout=2)

    async def stop(self, timeout: float = 5.0) -> None:
        """Let the batch in flight finish (fewer republished messages), then end."""
        self._stopping = True
        self._wake.set()
        if self._task:
            try:
                await asyncio.wait_for(self._task, timeout)
            except (TimeoutError, asyncio.CancelledError):
                pass
        if self._conn is not None and not _lost(self._conn) and self._locked:
            with contextlib.suppress(Exception):
                await self._settle()
            with contextlib.suppress(Exception):
                await self._conn.execute("SELECT pg_advisory_unlock($1)", _RELAY_LOCK_KEY)
        await self._drop_connection()
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def _run(self) -> None:
        backoff = 0.2
        while not self._stopping:
            self._wake.clear()
            try:
                await self.publish_batch()
                backoff = 0.2
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker or database away: retry, never drop
                log.warning("outbox.publish_failed", error=repr(exc), retry_in=backoff)
                if isinstance(exc, (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError)):
                    await self._drop_connection()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            if self._more or self._stopping:
                continue
            waited = 0.0
            if self._published:
                # The next pass deletes them with its read, if it comes soon; else alone.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), SETTLE_DELAY)
                    continue
                waited = SETTLE_DELAY
                with contextlib.suppress(Exception):  # else the next pass deletes them
                    await self._settle()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(0.0, self._poll_interval - waited))

    async def _settle(self) -> None:
        """Delete the rows the last pass published, unless the next read already did."""
        if self._published and self._conn is not None and self._locked:
            await self._conn.execute(_DELETE, self._published)
            self._published = []

    async def publish_batch(self) -> int:
        """Publish up to one batch; return how many rows went out (0 when another relay of
        this database holds the publishing lock)."""
        self._more = False
        producer = await self._ready_producer()
        conn = await self._leader()
        if conn is None:
            return 0
        published, self._published = self._published, []
        try:
            rows = await (conn.fetch(_SETTLE_AND_NEXT_ROWS, self._batch_size, published) if published
                          else conn.fetch(_NEXT_ROWS, self._batch_size))
        except BaseException:
            self._published = published + self._published  # deleting them again does no harm
            raise
        if not rows:
            return 0
        careful = any(row["attempts"] for row in rows)
        if careful:
            rows = rows[:CAREFUL_BATCH]
            done = await self._one_at_a_time(rows)
        else:
            done = await self._pipelined(producer, rows)
        if careful or done.refused:
            await conn.execute(_DELETE, done.sent)  # a refusal's pass settles at once
        else:
            self._published = list(done.sent)
        parked = [row for row, exc in done.refused if await self._refused(conn, row, exc)]
        if done.refused and not careful:
            await self._renew_producer()
        self._more = len(rows) == (CAREFUL_BATCH if careful else self._batch_size) and bool(done.sent)
        self.published += len(done.sent)
        self.parked += len(parked)
        metrics.PUBLISHED.labels(self._service).inc(len(done.sent))
        for row in parked:
            metrics.OUTBOX_PARKED.labels(self._service, row["topic"]).inc()
        log.debug("outbox.published", count=len(done.sent))
        return len(done.sent)

    async def _send(self, producer: AIOKafkaProducer, row: asyncpg.Record) -> "asyncio.Future[object]":
        """Queue the record; the future resolves when the broker has it (or refused it)."""
        future: asyncio.Future[object] = await producer.send(
            row["topic"], value=row["value"], key=row["key"].encode("utf-8"),
            headers=h.to_kafka({**row["headers"], h.TRACEPARENT: row["traceparent"], h.TRACESTATE: row["tracestate"]}),
        )
        return future

    async def _pipelined(self, producer: AIOKafkaProducer, rows: list[asyncpg.Record]) -> _Pass:
        """All sends in flight together. A refused record fails its whole produce batch (its
        partition's neighbours too): each counts an attempt, and the next passes sort them out."""
        done = _Pass([], [], set())
        in_flight: list[tuple[asyncpg.Record, asyncio.Future[object]]] = []
        for row in rows:
            if (row["topic"], row["key"]) in done.blocked:
                continue
            try:
                in_flight.append((row, await self._send(producer, row)))
            except REFUSALS as exc:  # refused before sending (larger than max_request_size)
                done.refuse(row, exc)
        results = await asyncio.gather(*(future for _, future in in_flight), return_exceptions=True)
        for (row, _), result in zip(in_flight, results, strict=True):
            if isinstance(result, REFUSALS):
                done.refuse(row, result)
            elif isinstance(result, _SEQUENCE_BROKEN):
                continue  # behind a refused record on its partition: sent again next pass
            elif isinstance(result, BaseException):
                raise result
            elif (row["topic"], row["key"]) not in done.blocked:
                done.sent.append(row["id"])
        return done

    async def _one_at_a_time(self, rows: list[asyncpg.Record]) -> _Pass:
        """Each row sent and acknowledged before the next: a refusal is the row's own. The rows
        of a refused row's key wait; the producer is renewed so the others can go on."""
        done = _Pass([], [], set())
        for row in rows:
            if (row["topic"], row["key"]) in done.blocked:
                continue
            producer = await self._ready_producer()
            try:
                await (await self._send(producer, row))
            except REFUSALS as exc:
                done.refuse(row, exc)
                await self._renew_producer()
                continue
            done.sent.append(row["id"])
        return done

    async def _refused(self, conn: Connection, row: asyncpg.Record, exc: BaseException) -> bool:
        """Count the attempt; True when it parks the row."""
        error = f"{type(exc).__name__}: {getattr(exc, 'description', None) or exc}"[:2000]
        parked = bool(await conn.fetchval(_REFUSED, row["id"], error, self._max_attempts))
        log.warning("outbox.refused", id=row["id"], topic=row["topic"], key=row["key"], error=error,
                    attempt=row["attempts"] + 1, parked=parked)
        return parked


@dataclass(frozen=True)
class OutboxCounts:
    """What the outbox gauges show."""

    waiting: int  # written and not yet published (parked rows not counted)
    parked: int
    # Deleted rows not yet vacuumed, by PostgreSQL's statistics (`n_dead_tup`, approximate and
    # a second or so behind): the relay's read walks them, so a count that keeps growing means
    # vacuum is not keeping up (migration 0006_outbox_vacuum, docs/messaging.md).
    dead: int


async def outbox_counts(conn: Connection | asyncpg.Pool) -> OutboxCounts:
    row = await conn.fetchrow(
        "SELECT count(*) FILTER (WHERE parked_at IS NULL) AS waiting,"
        " count(*) FILTER (WHERE parked_at IS NOT NULL) AS parked,"
        " (SELECT n_dead_tup FROM pg_stat_user_tables WHERE relid = 'outbox'::regclass) AS dead FROM outbox")
    assert row is not None  # an aggregate always returns one row
    return OutboxCounts(int(row["waiting"]), int(row["parked"]), int(row["dead"] or 0))
