"""The transactional outbox: messages are rows written in the business transaction, and a
relay publishes them afterwards. A crash between commit and publish only delays them; a
crash between publish and delete republishes them, which the consumers' inbox absorbs."""

import asyncio
import contextlib
from collections.abc import Mapping
from dataclasses import dataclass

import asyncpg
from aiokafka import AIOKafkaProducer
from pydantic import BaseModel

from q2c_contracts.codec import encode
from q2c_contracts.envelope import Envelope, SourceSystem
from q2c_observability import get_logger, metrics
from q2c_persistence import Connection

from . import headers as h
from .catalog import TopicCatalog

log = get_logger(__name__)

_RELAY_LOCK_KEY = 7_204_118  # one publishing relay per database keeps per-key order across replicas


class UnauthorisedWrite(RuntimeError):
    """A service tried to write a topic the catalog does not let it write."""


@dataclass
class Outbox:
    """Appends messages to the outbox inside the caller's transaction. Every message gets
    the ids of the message being handled (causation) and of its flow (correlation)."""

    conn: Connection
    service: str
    catalog: TopicCatalog
    correlation_id: str | None = None
    causation_id: str | None = None

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
        await self.conn.execute(
            "INSERT INTO outbox (topic, key, value, headers) VALUES ($1, $2, $3, $4)",
            topic, key, value, {k: v for k, v in record_headers.items() if v is not None},
        )


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


class OutboxRelay:
    """Publishes outbox rows in id order, in batches: all sends of a batch are in flight
    together (the idempotent producer keeps their order per partition), then the batch is
    deleted in one statement. Wakes on NOTIFY from the insert trigger, polls as a fallback."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        producer: AIOKafkaProducer,
        *,
        listen_dsn: str | None = None,
        service: str = "",
        batch_size: int = 500,
        poll_interval: float = 1.0,
    ) -> None:
        self._pool = pool
        self._producer = producer
        self._listen_dsn = listen_dsn
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._listener: asyncpg.Connection | None = None
        self._stopping = False
        self.published = 0
        self._service = service

    async def start(self) -> None:
        await self._listen()
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def _listen(self) -> None:
        """(Re)open the LISTEN connection; without it the relay still polls."""
        if not self._listen_dsn or (self._listener is not None and not self._listener.is_closed()):
            return
        try:
            self._listener = await asyncpg.connect(self._listen_dsn, timeout=5)
            await self._listener.add_listener("outbox", lambda *_: self._wake.set())
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            self._listener = None
            log.warning("outbox.listen_failed", error=repr(exc))

    async def stop(self, timeout: float = 5.0) -> None:
        """Let the batch in flight finish (fewer republished messages), then end."""
        self._stopping = True
        self._wake.set()
        if self._task:
            try:
                await asyncio.wait_for(self._task, timeout)
            except (TimeoutError, asyncio.CancelledError):
                pass
        if self._listener and not self._listener.is_closed():
            await self._listener.close()

    async def _run(self) -> None:
        backoff = 0.2
        while not self._stopping:
            self._wake.clear()
            try:
                published = await self.publish_batch()
                backoff = 0.2
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker or database away: retry, never drop
                log.warning("outbox.publish_failed", error=repr(exc), retry_in=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            if published < self._batch_size and not self._stopping:
                await self._listen()  # after a database restart the old LISTEN connection is gone
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._poll_interval)

    async def publish_batch(self) -> int:
        """Publish up to one batch; return how many rows went out."""
        async with self._pool.acquire() as conn, conn.transaction():
            if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", _RELAY_LOCK_KEY):
                return 0
            rows = await conn.fetch(
                "SELECT id, topic, key, value, headers FROM outbox ORDER BY id LIMIT $1",
                self._batch_size,
            )
            if not rows:
                return 0
            deliveries = [
                await self._producer.send(
                    row["topic"],
                    value=row["value"],
                    key=row["key"].encode("utf-8"),
                    headers=h.to_kafka(row["headers"]),
                )
                for row in rows
            ]
            await asyncio.gather(*deliveries)
            await conn.execute(
                "DELETE FROM outbox WHERE id = ANY($1::bigint[])", [row["id"] for row in rows]
            )
        self.published += len(rows)
        metrics.PUBLISHED.labels(self._service).inc(len(rows))
        log.debug("outbox.published", count=len(rows))
        return len(rows)
