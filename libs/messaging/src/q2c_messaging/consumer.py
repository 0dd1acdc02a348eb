"""The consumer recipe (ARCHITECTURE.md "How every consumer handles a message").

For each chunk of records of one topic (a poll's records of its partitions, each partition's in
offset order, `q2c_messaging.batching`): parse and validate each (invalid → `<topic>.dlq`,
partition moves on); then in ONE transaction claim every record in the inbox (a duplicate
ends there) and run the service's handler for each new record (it changes state and appends
to the outbox), with a savepoint per record only when a handler failed; commit; only then is
the Kafka offset committed, once per poll (`q2c_messaging.batching`)."""

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
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
from q2c_persistence import Connection, copies

from . import dead_letters as dl
from . import headers as h
from . import inbox
from .catalog import TopicCatalog
from .dead_letters import DeadLetters, SourceRecord
from .outbox import Outbox, OutboxRows

log = get_logger(__name__)

# A record's part of its chunk's transaction (handler, outbox rows).
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
    # True when this record runs in a savepoint of its own (the batch was run again because a
    # handler raised): a failure here undoes this record's writes only.
    isolated: bool = False
    # What the route's `ChunkHooks.start` returned for the chunk this record is handled in
    # (None: no hooks, the hooks declined, or the record runs isolated).
    chunk: Any = None


class IsolateAndRetry(Exception):  # noqa: N818 - a request, not an error
    """Raised by a handler that hit a failure it deals with itself (the adapter's error log) and
    needs its writes so far undone first: the batch is run again with each record in its own
    savepoint (`Handling.isolated`), and nothing is logged as a handler failure. Batches
    without failures thus pay no savepoint."""


@dataclass(frozen=True)
class ChunkHooks(Generic[M]):
    """Set-based handling of a chunk (docs/messaging.md "Chunk hooks"): `start` runs in the
    chunk's transaction after the inbox claim, with the messages that will be handled in their
    order (duplicates and dead letters left out), and returns a state that every record's
    `Handling.chunk` carries (None: handle each record as if there were no hooks); `end` runs
    after the last record, before the outbox rows are written, with that state. A handler can
    thus read what the whole chunk needs in one statement and write what it decided in one,
    instead of a few statements per record. A failure in either is a handler failure: the chunk
    is rolled back and run again record by record in savepoints, without the hooks."""

    start: Callable[[Connection, list[M]], Awaitable[Any]]
    end: Callable[[Connection, Any], Awaitable[None]]


@dataclass(frozen=True)
class Route(Generic[M]):
    topic: str
    parse: Callable[[dict[str, Any]], M]
    message_id: Callable[[M], str]
    handle: Callable[[Handling[M]], Awaitable[None]]
    correlation_id: Callable[[M], str | None] = lambda _m: None
    # False for a message the handler would do nothing with (ownership reads every quotation
    # event for one type): it is passed over without a transaction or an inbox row, since
    # handling it again after a redelivery does nothing either. None: every message is wanted.
    wanted: Callable[[M], bool] | None = None
    chunk: ChunkHooks[M] | None = None


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
                   handle: Callable[[Handling[Typed[Any]]], Awaitable[None]], *,
                   wanted: Callable[[Typed[Any]], bool] | None = None) -> Route[Typed[Any]]:
    return Route(topic=topic, parse=envelope_parser(payloads), message_id=lambda m: m.envelope.message_id,
                 handle=handle, correlation_id=lambda m: m.envelope.correlation_id, wanted=wanted)


def describe_validation_error(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "message"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


@dataclass
class _Item(Generic[M]):
    """One record of a batch, parsed (or not) before the transaction opens."""

    source: SourceRecord
    inbox_key: str  # the message id, or its position (`inbox.position_key`) when it has none
    message: M | None = None
    correlation_id: str = ""
    dead_letter: tuple[str, str] | None = None  # (code, text) when it cannot be handled


class _HandlerFailed(Exception):
    """A handler raised on the fast path: the batch is rolled back and run with savepoints."""


class MessageProcessor(Generic[M]):
    """Runs one route's recipe for a batch of records of one topic. Independent of
    FastStream and of the consumer loop so that the recipe itself is testable without a broker.

    A batch is ONE transaction: one statement claims every record's inbox key, each new
    record is handled in turn, dead letters are acknowledged by Kafka, then ONE commit. When a
    handler raises, the batch is rolled back and run again with each record in its own
    SAVEPOINT (the failing record is rolled back alone, retried, then dead-lettered; the others
    commit). A dead-lettered record keeps its inbox row, so a replay from offset 0 does not dead-letter
    it again. A transient error (`TRANSIENT_ERRORS`) rolls the whole batch back and raises."""

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
        [outcome] = await self.process_batch([source])
        return outcome

    async def process_batch(self, sources: Sequence[SourceRecord]) -> list[str]:
        """The outcome of each record, in order (each partition's records in offset order).
        Raises only for transient failures: then nothing of the batch is committed."""
        if not sources:
            return []
        started = time.perf_counter()
        topic = sources[0].topic
        try:
            outcomes = await self._process_batch(sources)
        except BaseException:
            metrics.MESSAGES.labels(self.service, topic, "retried").inc(len(sources))
            raise
        each = (time.perf_counter() - started) / len(sources)
        histogram = metrics.HANDLER_SECONDS.labels(self.service, topic)
        for outcome in outcomes:
            metrics.MESSAGES.labels(self.service, topic, outcome).inc()
            histogram.observe(each)  # the batch's time, shared out: per-message cost
        return outcomes

    def _span_attributes(self, source: SourceRecord) -> dict[str, str | int]:
        attributes: dict[str, str | int] = {
            "messaging.system": "kafka", "messaging.operation.type": "process",
            "messaging.destination.name": source.topic, "messaging.destination.partition.id": str(source.partition),
            "messaging.kafka.offset": source.offset, "messaging.consumer.group.name": self.service,
        }
        if source.key is not None:
            attributes["messaging.kafka.message.key"] = source.key.decode("utf-8", "replace")
        return attributes

    def _parse(self, source: SourceRecord) -> _Item[M]:
        position = inbox.position_key(source.topic, source.partition, source.offset)
        try:
            message = self.route.parse(decode_object(source.value))
        except NotAJsonObject as exc:
            return _Item(source, position, dead_letter=(dl.NOT_JSON, str(exc)))
        except ValidationError as exc:
            return _Item(source, position, dead_letter=(dl.INVALID, describe_validation_error(exc)))
        except ContractViolation as exc:
            return _Item(source, position, dead_letter=(dl.INVALID, str(exc)))
        message_id = self.route.message_id(message)
        # A flow keeps one correlation id across services: from the message, else from the
        # headers q2c puts on what it publishes, else this message starts the flow.
        correlation_id = (self.route.correlation_id(message) or source.headers.get(h.CORRELATION_ID)
                          or message_id)
        return _Item(source, message_id, message, correlation_id)

    def _bind(self, item: _Item[M], trace_id: str | None = None) -> None:
        source = item.source
        bind_message_context(topic=source.topic, partition=source.partition, offset=source.offset,
                             key=source.key.decode("utf-8", "replace") if source.key else None,
                             message_id=item.inbox_key if item.message is not None else None,
                             correlation_id=item.correlation_id or None,
                             causation_id=source.headers.get(h.CAUSATION_ID), trace_id=trace_id)

    async def _process_batch(self, sources: Sequence[SourceRecord]) -> list[str]:
        parsed = [self._parse(source) for source in sources]
        wanted = [self._wanted(item) for item in parsed]
        items = [item for item, want in zip(parsed, wanted, strict=True) if want]
        handled: list[str] = []
        if items:
            metrics.TRANSACTION_RECORDS.labels(self.service, items[0].source.topic).observe(len(items))
            try:
                # Fast path: no savepoints (each costs two round trips and a subtransaction).
                handled = await self._run(items, savepoints=False)
            except _HandlerFailed:
                # One record's handler raised: everything was rolled back; again, each record in
                # its own savepoint, so that only that one is retried and dead-lettered.
                handled = await self._run(items, savepoints=True)
        outcomes = iter(handled)  # in the order of `items`
        return [next(outcomes) if want else "passed-over" for want in wanted]

    def _wanted(self, item: _Item[M]) -> bool:
        """A record to handle in the transaction: wanted, or one to dead-letter."""
        return item.message is None or self.route.wanted is None or self.route.wanted(item.message)

    async def _run(self, items: list[_Item[M]], *, savepoints: bool) -> list[str]:
        outcomes: list[str] = []
        letters: list[tuple[_Item[M], str, str]] = []
        rows = OutboxRows()  # the chunk's outbox rows, written in one statement before the commit
        async with self.pool.acquire() as conn, conn.transaction():
            new, versions = await inbox.claim_many_with_versions(
                conn, self.service, [item.inbox_key for item in items], items[0].source.topic)
            with copies.claimed(conn, versions):  # the handlers' copies: from memory while current
                chunk = await self._chunk_start(conn, items, new) if not savepoints else None
                for item in items:
                    # The record's trace continues here (docs/observability.md): a CONSUMER span and
                    # its part of the transaction, whose context the outbox rows it writes inherit.
                    with tracing.consuming(item.source.headers, f"process {item.source.topic}",
                                           self._span_attributes(item.source) if tracing.enabled() else None
                                           ) as trace_id:
                        self._bind(item, trace_id)
                        outcome = await self._one(conn, item, new, letters, rows, savepoints=savepoints,
                                                  chunk=chunk)
                        if tracing.enabled():
                            trace.get_current_span().set_attribute("q2c.outcome", outcome)
                    outcomes.append(outcome)
                if chunk is not None:
                    assert self.route.chunk is not None
                    await self._in_hook(self.route.chunk.end(conn, chunk))
            await rows.write(conn)
            # Every dead letter is acknowledged by Kafka before the inbox rows that stand
            # for them commit (a crash in between sends them again: at least once).
            for item, code, text in letters:
                self._bind(item)
                await self.dead_letters.send(item.source, code, text)
        return outcomes

    async def _chunk_start(self, conn: Connection, items: list[_Item[M]], new: set[str]) -> Any:
        """The route's chunk state for the records `_one` will handle (None without hooks)."""
        if self.route.chunk is None:
            return None
        fresh: list[M] = []
        seen: set[str] = set()
        for item in items:  # what `_one` will hand to the handler, in order
            if item.inbox_key in new and item.inbox_key not in seen and item.dead_letter is None:
                assert item.message is not None
                fresh.append(item.message)
            seen.add(item.inbox_key)
        return await self._in_hook(self.route.chunk.start(conn, fresh)) if fresh else None

    @staticmethod
    async def _in_hook(call: Awaitable[Any]) -> Any:
        """A chunk hook's failure is a handler's: transient errors raise, the rest rerun the
        chunk record by record in savepoints (`_HandlerFailed`)."""
        try:
            return await call
        except TRANSIENT_ERRORS:
            raise
        except IsolateAndRetry as exc:
            raise _HandlerFailed from exc
        except Exception as exc:
            log.exception("message.chunk_hook_failed")
            raise _HandlerFailed from exc

    async def _one(self, conn: Connection, item: _Item[M], new: set[str],
                   letters: list[tuple[_Item[M], str, str]], rows: OutboxRows, *, savepoints: bool,
                   chunk: Any = None) -> str:
        """One record of the chunk, in the chunk's transaction: its outcome."""
        if item.inbox_key not in new:  # handled before, or earlier in this batch
            log.info("message.duplicate")
            return "duplicate"
        new.discard(item.inbox_key)
        if item.dead_letter is not None:
            letters.append((item, *item.dead_letter))
            return "dead-lettered"
        if tracing.enabled():
            trace.get_current_span().set_attributes({"messaging.message.id": item.inbox_key,
                                                     "q2c.correlation_id": item.correlation_id})
        with tracing.span("db.transaction", SpanKind.CLIENT, _DB_ATTRIBUTES):
            if savepoints:
                failure = await self._handle(conn, item)
                if failure is not None:
                    letters.append((item, dl.HANDLER_FAILED, failure))
                    return "dead-lettered"
            else:
                await self._handle_plain(conn, item, rows, chunk)
        return "handled"

    async def _call_handler(self, conn: Connection, item: _Item[M], rows: OutboxRows, *, isolated: bool,
                            chunk: Any = None) -> None:
        """The route's handler for one parsed record, with an outbox bound to its transaction
        (causation = this record, its flow's correlation id) that keeps its rows in `rows`."""
        assert item.message is not None
        outbox = Outbox(conn, self.service, self.catalog,
                        correlation_id=item.correlation_id, causation_id=item.inbox_key, rows=rows)
        await self.route.handle(Handling(item.message, item.inbox_key, conn, outbox, item.source,
                                         isolated=isolated, chunk=chunk))

    async def _handle_plain(self, conn: Connection, item: _Item[M], rows: OutboxRows, chunk: Any = None) -> None:
        try:
            await self._call_handler(conn, item, rows, isolated=False, chunk=chunk)
        except TRANSIENT_ERRORS:
            raise
        except IsolateAndRetry as exc:
            raise _HandlerFailed from exc
        except Exception as exc:
            log.exception("message.handler_failed", attempt=1)
            raise _HandlerFailed from exc
        log.info("message.handled")

    async def _handle(self, conn: Connection, item: _Item[M]) -> str | None:
        """Handle one claimed record in its own savepoint; None when handled, else the text
        of the last failure after `attempts` tries (each rolled back whole)."""
        for attempt in range(1, self.attempts + 1):
            try:
                async with conn.transaction():  # a SAVEPOINT: a failure undoes this record only
                    rows = OutboxRows()  # this attempt's: written inside its savepoint, or dropped
                    await self._call_handler(conn, item, rows, isolated=True)
                    await rows.write(conn)
            except TRANSIENT_ERRORS:
                raise
            except Exception as exc:
                log.exception("message.handler_failed", attempt=attempt)
                if attempt == self.attempts:
                    return f"{type(exc).__name__}: {exc}"
                await asyncio.sleep(0.1 * attempt)
            else:
                log.info("message.handled")
                return None
        raise AssertionError("unreachable")
