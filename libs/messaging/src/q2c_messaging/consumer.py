"""The consumer recipe (ARCHITECTURE.md "How every consumer handles a message").

For each record: parse and validate (invalid → `<topic>.dlq`, partition moves on); then in
one transaction claim the message id in the inbox (a duplicate ends here), run the
service's handler, which changes state and appends to the outbox; commit; only then is the
Kafka offset committed (FastStream `AckPolicy.NACK_ON_ERROR`: ack after the handler
returns, seek back when it raises)."""

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import asyncpg
from aiokafka.errors import KafkaError
from opentelemetry import trace
from opentelemetry.trace import SpanKind
from pydantic import BaseModel, ValidationError

from q2c_contracts.codec import NotAJsonObject, decode_object
from q2c_contracts.envelope import Envelope
from q2c_observability import bind_message_context, get_logger, metrics, tracing
from q2c_persistence import Connection

from . import dead_letters as dl
from . import headers as h
from . import inbox
from .catalog import TopicCatalog
from .dead_letters import DeadLetters, SourceRecord
from .outbox import Outbox

log = get_logger(__name__)

# The handling transaction's span (inbox claim, handler, outbox rows, commit).
_DB_ATTRIBUTES = {"db.system.name": "postgresql", "db.operation.name": "transaction"}

M = TypeVar("M")

# Infrastructure that is down, not a message that is wrong: retry until it is back.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.TooManyConnectionsError,
    asyncpg.CannotConnectNowError,
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
    KafkaError,  # the dead-letter producer could not reach the broker
)


@dataclass(frozen=True)
class Handling(Generic[M]):
    """What a handler gets: the parsed message, the open transaction, the outbox bound to
    it (causation = this message) and where the record came from."""

    message: M
    message_id: str
    conn: Connection
    outbox: Outbox
    source: SourceRecord


@dataclass(frozen=True)
class Route(Generic[M]):
    topic: str
    parse: Callable[[dict[str, Any]], M]
    message_id: Callable[[M], str]
    handle: Callable[[Handling[M]], Awaitable[None]]
    correlation_id: Callable[[M], str | None] = lambda _m: None
    # Consumers for this topic in the service's group; None = the service's setting.
    workers: int | None = None


class ContractViolation(ValueError):
    """The message is well-formed JSON but not what this topic carries (dead-lettered)."""


P = TypeVar("P", bound=BaseModel)


@dataclass(frozen=True)
class Typed(Generic[P]):
    """An internal message: its envelope and its payload, parsed into the model of its type."""

    envelope: Envelope
    payload: P


def envelope_parser(payloads: dict[str, type[BaseModel]]) -> Callable[[dict[str, Any]], Typed[Any]]:
    """Parse an Envelope whose `type` is one of `payloads`, and its payload with that model."""

    def parse(raw: dict[str, Any]) -> Typed[Any]:
        envelope = Envelope.model_validate(raw)
        model = payloads.get(envelope.type)
        if model is None:
            raise ContractViolation(f"type: {envelope.type!r} is not carried here; expected one of {sorted(payloads)}")
        return Typed(envelope, model.model_validate(envelope.payload))

    return parse


def envelope_route(topic: str, payloads: dict[str, type[BaseModel]],
                   handle: Callable[[Handling[Typed[Any]]], Awaitable[None]]) -> Route[Typed[Any]]:
    return Route(topic=topic, parse=envelope_parser(payloads), message_id=lambda m: m.envelope.message_id,
                 handle=handle, correlation_id=lambda m: m.envelope.correlation_id)


def describe_validation_error(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "message"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


class MessageProcessor(Generic[M]):
    """Runs one route's recipe for one record. Independent of FastStream so that the
    recipe itself is testable without a broker."""

    def __init__(
        self,
        route: Route[M],
        *,
        service: str,
        pool: asyncpg.Pool,
        catalog: TopicCatalog,
        dead_letters: DeadLetters,
        attempts: int = 3,
    ) -> None:
        self.route = route
        self.service = service
        self.pool = pool
        self.catalog = catalog
        self.dead_letters = dead_letters
        self.attempts = attempts

    async def process(self, source: SourceRecord) -> str:
        """Return what happened: `handled`, `duplicate` or `dead-lettered`. Raises only for
        transient failures, which must not commit the offset."""
        started = time.perf_counter()
        try:
            # The record's trace continues here (docs/observability.md): a CONSUMER span whose
            # context the handling's transaction and outbox rows inherit.
            with tracing.consuming(source.headers, f"process {source.topic}",
                                   self._span_attributes(source) if tracing.enabled() else None) as trace_id:
                outcome = await self._process(source, trace_id)
                if tracing.enabled():
                    trace.get_current_span().set_attribute("q2c.outcome", outcome)
        except BaseException:
            metrics.MESSAGES.labels(self.service, source.topic, "retried").inc()
            raise
        metrics.MESSAGES.labels(self.service, source.topic, outcome).inc()
        metrics.HANDLER_SECONDS.labels(self.service, source.topic).observe(time.perf_counter() - started)
        return outcome

    def _span_attributes(self, source: SourceRecord) -> dict[str, str | int]:
        attributes: dict[str, str | int] = {
            "messaging.system": "kafka", "messaging.operation.type": "process",
            "messaging.destination.name": source.topic, "messaging.destination.partition.id": str(source.partition),
            "messaging.kafka.offset": source.offset, "messaging.consumer.group.name": self.service,
        }
        if source.key is not None:
            attributes["messaging.kafka.message.key"] = source.key.decode("utf-8", "replace")
        return attributes

    async def _process(self, source: SourceRecord, trace_id: str | None = None) -> str:
        bind_message_context(topic=source.topic, partition=source.partition, offset=source.offset,
                             key=source.key.decode("utf-8", "replace") if source.key else None, trace_id=trace_id)
        position = inbox.position_key(source.topic, source.partition, source.offset)
        try:
            message = self.route.parse(decode_object(source.value))
        except NotAJsonObject as exc:
            return await self._dead_letter_once(source, position, dl.NOT_JSON, str(exc))
        except ValidationError as exc:
            return await self._dead_letter_once(source, position, dl.INVALID, describe_validation_error(exc))
        except ContractViolation as exc:
            return await self._dead_letter_once(source, position, dl.INVALID, str(exc))

        message_id = self.route.message_id(message)
        # A flow keeps one correlation id across services: from the message, else from the
        # headers q2c puts on what it publishes, else this message starts the flow.
        correlation_id = (self.route.correlation_id(message) or source.headers.get(h.CORRELATION_ID)
                          or message_id)
        bind_message_context(message_id=message_id, correlation_id=correlation_id,
                             causation_id=source.headers.get(h.CAUSATION_ID), trace_id=trace_id)
        if tracing.enabled():
            trace.get_current_span().set_attributes({"messaging.message.id": message_id,
                                                     "q2c.correlation_id": correlation_id})
        for attempt in range(1, self.attempts + 1):
            try:
                return await self._handle_once(message, message_id, correlation_id, source)
            except TRANSIENT_ERRORS:
                raise
            except Exception as exc:
                log.exception("message.handler_failed", attempt=attempt)
                if attempt == self.attempts:
                    return await self._dead_letter_once(source, message_id, dl.HANDLER_FAILED,
                                                        f"{type(exc).__name__}: {exc}")
                await asyncio.sleep(0.1 * attempt)
        raise AssertionError("unreachable")

    async def _dead_letter_once(self, source: SourceRecord, inbox_key: str, code: str, text: str) -> str:
        """Dead-letter a record, and count it as handled: the inbox row is written once Kafka has
        the dead letter (a crash in between sends it again: at least once), so a replay of the
        topic from an earlier offset adds nothing to the DLQ."""
        async with self.pool.acquire() as conn:
            if await inbox.seen(conn, self.service, inbox_key):
                log.info("message.duplicate", dead_lettered_before=True)
                return "duplicate"
        await self.dead_letters.send(source, code, text)
        async with self.pool.acquire() as conn:
            await inbox.claim(conn, self.service, inbox_key)
        return "dead-lettered"

    async def _handle_once(
        self, message: M, message_id: str, correlation_id: str, source: SourceRecord
    ) -> str:
        with tracing.span("db.transaction", SpanKind.CLIENT, _DB_ATTRIBUTES):
            return await self._transaction(message, message_id, correlation_id, source)

    async def _transaction(self, message: M, message_id: str, correlation_id: str, source: SourceRecord) -> str:
        async with self.pool.acquire() as conn, conn.transaction():
            if not await inbox.claim(conn, self.service, message_id):
                log.info("message.duplicate")
                return "duplicate"
            outbox = Outbox(conn, self.service, self.catalog,
                            correlation_id=correlation_id, causation_id=message_id)
            await self.route.handle(Handling(message, message_id, conn, outbox, source))
        log.info("message.handled")
        return "handled"
