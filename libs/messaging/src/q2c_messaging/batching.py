"""The consume loop of a service: `workers` aiokafka consumers in the service's group (one by
default), each subscribed to ALL the service's topics. Each polls a batch of records
(`getmany`) and handles each topic's records of the poll together, every partition's in offset
order, a database transaction per chunk (`MessageProcessor.process_batch`, topics
concurrently), then commits the offsets of what was handled in ONE offset commit.

Why not FastStream's subscribers (docs/decisions.md, "The consume loop"): a subscriber with
manual commit and several consumers takes one topic only (FastStream raises "You must use a
single topic with concurrent manual commit mode"), so a service ran a consumer per topic and
worker (~100 in the stack, each with its connection, heartbeats and fetches); every record cost
its own transaction and offset commit round trip; and the batch subscriber sleeps
`batch_timeout_ms` after an empty poll, which a record arriving then waits out. FastStream stays
the application runner (`runtime.app`: start-up and shutdown hooks).

Durability is the recipe's: the offset of a record is committed only after the transaction
that handled it has committed; a transient failure (database or broker away) commits
nothing for that partition's remaining records, seeks back to the first of them, pauses and
reads them again; other partitions of the batch are committed. A commit refused because of a
rebalance leaves the records to their new owner, whose inbox absorbs them.

The offset commit is not awaited by the loop (`_Committer`, Kafka's commitAsync): the next poll
is handled while it travels, and the offsets of polls handled meanwhile go in the next one,
sent no sooner than `commit_interval` after the last (Q2C_CONSUMER_COMMIT_INTERVAL_MS).
A commit waits for the group coordinator, and when the broker that was the coordinator dies the
wait lasts until the cluster has fenced it and moved the coordinator (seconds,
docs/scaling.md "Failover"); awaited, it held every partition of the consumer that long. What
a lost commit costs is what it always cost: the records are read again and the inbox absorbs
them."""

import asyncio
import contextlib
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import ConsumerStoppedError, KafkaError

from q2c_observability import get_logger

from . import headers
from .consumer import MessageProcessor
from .dead_letters import SourceRecord
from .failover import client_kwargs

log = get_logger(__name__)

# Transient errors of one transaction, not of the database: run the chunk again at once.
LOCK_CONFLICTS = (asyncpg.DeadlockDetectedError, asyncpg.SerializationError)
LOCK_CONFLICT_ATTEMPTS = 5
# Polls failed in a row after which a consumer is replaced by a new one (`_replace`).
POLL_FAILURES_BEFORE_REPLACING = 3


def _not_a_cancellation_of_this_task(exc: BaseException) -> None:
    """Raise again a CancelledError that cancels the running task (stop() gave up waiting);
    let the caller handle any other exception, a CancelledError that only came out of a
    library's own task among them (this task's `cancelling()` is 0 then)."""
    task = asyncio.current_task()
    if isinstance(exc, asyncio.CancelledError) and (task is None or task.cancelling()):
        raise exc


def source_record(record: ConsumerRecord[Any, Any]) -> SourceRecord:
    return SourceRecord(record.topic, record.partition, record.offset, record.key, record.value,
                        headers.from_kafka(record.headers))


@dataclass
class _Progress:
    commit: int | None = None  # next offset to commit: every record before it is in the database
    retry_from: int | None = None  # the first record to read again after a transient failure
    error: BaseException | None = None


class _Committer:
    """One consumer's offset commits, one in flight at a time, off the consume loop's path, and
    at most one per `interval` seconds: the offsets of the polls handled meanwhile go together.
    Why the interval: under load a consumer polls often with few records each, and a commit
    per poll cost the broker an append to `__consumer_offsets` and the service a round trip per
    record or two (38 commits per lifecycle of 40 records, docs/performance.md). A commit that
    comes later is only a longer stretch to read again after a crash, which the inbox absorbs."""

    RETRY_PAUSE = 1.0  # how long a failed commit waits before it is tried again (the coordinator moving)
    COMMIT_TIMEOUT = 15.0  # a commit still unanswered then counts as failed, and is tried again

    def __init__(self, consumer: AIOKafkaConsumer, interval: float = 0.0) -> None:
        self._consumer = consumer
        self._interval = interval
        self._pending: dict[TopicPartition, int] = {}
        self._task: asyncio.Task[None] | None = None
        self._last_sent = -interval  # the first commit goes at once
        self._hurry = asyncio.Event()  # set by flush(): no more waiting for the interval

    def add(self, offsets: Mapping[TopicPartition, int]) -> None:
        """Offsets of records whose transactions have committed (never before: the recipe)."""
        self._pending.update(offsets)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="offset-commit")

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while self._pending:
            rest = self._last_sent + self._interval - loop.time()
            if rest > 0 and not self._hurry.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._hurry.wait(), rest)
            offsets, self._pending = self._pending, {}
            self._last_sent = loop.time()
            try:
                # Bounded: a commit that never returns would hold every later offset back.
                await asyncio.wait_for(self._consumer.commit(offsets), self.COMMIT_TIMEOUT)
            except (KafkaError, TimeoutError) as exc:
                self._again(offsets, exc)
                if self._pending:  # a stop's flush hurries the wait, not away
                    await asyncio.sleep(self.RETRY_PAUSE / 10 if self._hurry.is_set() else self.RETRY_PAUSE)

    def _again(self, offsets: Mapping[TopicPartition, int], exc: Exception) -> None:
        """Put back the offsets of a failed commit for the partitions the consumer still holds.
        Why: a commit can fail while the consumer keeps its partitions (the group coordinator's
        broker died, a timeout). Dropped, such a partition's committed offset stays behind until
        its next record is handled; when none comes, the group shows a lag forever (seen in the
        cluster tests: the stack never became quiet again). A partition a rebalance took is
        left to its new owner, who reads again from the last committed offset; the inbox
        absorbs it."""
        try:
            held = self._consumer.assignment()
        except Exception:  # noqa: BLE001 - a consumer stopped meanwhile holds nothing
            held = set()
        again = {tp: offset for tp, offset in offsets.items() if tp in held}
        for tp, offset in again.items():  # newer offsets added meanwhile win
            self._pending[tp] = max(offset, self._pending.get(tp, offset))
        log.warning("consumer.commit_failed", error=repr(exc), retried=len(again), dropped=len(offsets) - len(again))

    def close(self) -> None:
        """Drop what is pending: the consumer is leaving the group without its commits (being
        replaced); its successor reads those records again from the committed offsets."""
        self._pending = {}
        if self._task is not None:
            self._task.cancel()

    async def flush(self, timeout: float) -> None:
        """The last commits before the consumer leaves its group (a clean stop re-reads nothing)."""
        self._hurry.set()
        if self._task is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError, KafkaError):
                await asyncio.wait_for(asyncio.shield(self._task), timeout)


class ServiceConsumer:
    """The service's consumers: one loop each, sharing the partitions of every routed topic."""

    def __init__(
        self,
        processors: Mapping[str, MessageProcessor[Any]],
        *,
        bootstrap: str,
        group_id: str,
        client_id: str,
        workers: int,
        max_records: int = 200,
        transaction_records: int = 100,
        retry_pause: float = 1.0,
        graceful_timeout: float = 15.0,
        security: Mapping[str, Any] | None = None,
        fetch_max_wait_ms: int = 100,
        commit_interval: float = 0.0,
    ) -> None:
        self._processors = processors
        self._bootstrap = bootstrap
        self._group_id = group_id
        self._client_id = client_id
        self._workers = workers
        self._max_records = max_records
        self._transaction_records = transaction_records
        self._retry_pause = retry_pause
        self._graceful_timeout = graceful_timeout
        self._security = dict(security or {})  # SASL login (q2c_messaging.security)
        self._fetch_max_wait_ms = fetch_max_wait_ms
        self._commit_interval = commit_interval
        self._consumers: list[AIOKafkaConsumer] = []
        self._committers: list[_Committer] = []  # one per consumer, same order
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False

    def _new_consumer(self) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            *self._processors,
            bootstrap_servers=self._bootstrap,
            group_id=self._group_id,
            client_id=self._client_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            # Members learn of a rebalance at their next heartbeat: a short interval makes
            # start-up (the consumers joining the one group) take seconds, not tens.
            heartbeat_interval_ms=500,
            session_timeout_ms=10_000,
            # How long a fetch waits at the broker for records. It answers at once when one
            # arrives for a partition in the request, but aiokafka keeps one fetch in flight per
            # broker: a partition whose records were just handled joins only the next request,
            # so this is also how long such a partition can wait. 5 s made p99s of 5 s under
            # load (docs/performance.md); 100 ms costs 10 empty fetches/s per idle consumer.
            fetch_max_wait_ms=self._fetch_max_wait_ms,
            **client_kwargs(),
            **self._security,
        )

    async def start(self) -> None:
        if not self._processors:
            return
        self._stopping = False
        self._consumers = [self._new_consumer() for _ in range(self._workers)]
        self._committers = [_Committer(consumer, self._commit_interval) for consumer in self._consumers]
        # started together, so that they join the group in one rebalance
        await asyncio.gather(*(consumer.start() for consumer in self._consumers))
        self._tasks = [asyncio.create_task(self._run(n), name=f"consume-{n}") for n in range(len(self._consumers))]
        for task in self._tasks:
            task.add_done_callback(self._ended)

    def _ended(self, task: asyncio.Task[None]) -> None:
        """A consume loop ends only in stop(); one that ended otherwise is logged with why (its
        partitions stay assigned and unread: readiness fails, `running`)."""
        if self._stopping:
            return
        error = None if task.cancelled() else task.exception()
        log.error("consumer.loop_ended", task=task.get_name(), cancelled=task.cancelled(), error=repr(error),
                  exc_info=error)

    @property
    def running(self) -> bool:
        """Every consumer's loop is alive (readiness)."""
        return bool(self._tasks) and not self._stopping and not any(task.done() for task in self._tasks)

    async def stop(self) -> None:
        """Let the batches in flight finish (their offsets committed), then leave the group."""
        self._stopping = True
        if self._tasks:
            _done, pending = await asyncio.wait(self._tasks, timeout=self._graceful_timeout)
            for task in pending:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.gather(*(c.flush(self._graceful_timeout) for c in self._committers))
        await asyncio.gather(*(consumer.stop() for consumer in self._consumers), return_exceptions=True)
        self._tasks, self._consumers, self._committers = [], [], []

    async def _run(self, slot: int) -> None:
        """Poll and handle until stop(). Nothing but stop() ends this loop: a consumer loop that
        ended left its partitions assigned and unread while the process looked alive (CI: after
        a broker SIGKILL the stack never became quiet again, docs/messaging.md "A consume loop
        never ends")."""
        failures = 0  # polls failed in a row
        while not self._stopping:
            consumer, committer = self._consumers[slot], self._committers[slot]
            try:
                batches = await consumer.getmany(timeout_ms=500, max_records=self._max_records)
            except (Exception, asyncio.CancelledError) as exc:  # whatever a poll raises, polling goes on
                if self._stop_asked():
                    return
                _not_a_cancellation_of_this_task(exc)
                failures += 1
                log.warning("consumer.poll_failed", error=repr(exc), failures=failures)
                if failures >= POLL_FAILURES_BEFORE_REPLACING or isinstance(exc, ConsumerStoppedError):
                    await self._replace(slot, exc)
                    failures = 0
                else:
                    await asyncio.sleep(self._retry_pause)
                continue
            failures = 0
            if not batches:
                continue
            try:
                await self._handle(consumer, committer, batches)
            except (Exception, asyncio.CancelledError) as exc:  # see below
                _not_a_cancellation_of_this_task(exc)
                # Some records of this poll may not be in the database, and the consumer's
                # positions are past them: polling on would commit later offsets over them.
                # A new consumer starts from the committed offsets and reads them again.
                log.error("consumer.handling_failed", error=repr(exc), exc_info=exc)
                await self._replace(slot, exc)

    async def _replace(self, slot: int, error: BaseException) -> None:
        """Put a new consumer in the group instead of one that cannot go on: its polls keep
        failing (3 in a row), it was found stopped, or a poll's handling raised (its positions
        are past records that may not be in the database).

        Why polls that keep failing: aiokafka runs a consumer's group membership in one
        background task, and when that task died (after a broker SIGKILL, docs/messaging.md "A
        write on a closed connection") every later poll raised its error again while the
        partitions stayed assigned to it, never read. The old consumer is closed with its
        committer (the pending offsets dropped: the new member reads those records again from
        the committed offsets, and the inbox absorbs them); the rebalance hands the new one
        partitions."""
        log.error("consumer.replaced", slot=slot, error=repr(error))
        old = self._consumers[slot]
        self._committers[slot].close()  # the offsets of a member leaving the group: re-read instead
        try:
            await asyncio.wait_for(old.stop(), self._graceful_timeout)
        except (Exception, asyncio.CancelledError) as exc:  # it is gone either way
            _not_a_cancellation_of_this_task(exc)
        while not self._stop_asked():
            new = self._new_consumer()
            try:
                await new.start()
            except (Exception, asyncio.CancelledError) as exc:  # the broker may be away: again after a pause
                with contextlib.suppress(Exception, asyncio.CancelledError):  # leave nothing connected
                    await new.stop()
                _not_a_cancellation_of_this_task(exc)
                log.warning("consumer.start_failed", slot=slot, error=repr(exc))
                await asyncio.sleep(self._retry_pause)
                continue
            if not self._stop_asked():
                self._consumers[slot], self._committers[slot] = new, _Committer(new, self._commit_interval)
            else:  # stop() came meanwhile and does not know this one
                await new.stop()
            return

    def _stop_asked(self) -> bool:
        """`_stopping` read afresh after an await (stop() may have set it meanwhile)."""
        return self._stopping

    async def _handle(self, consumer: AIOKafkaConsumer, committer: _Committer,
                      batches: dict[TopicPartition, list[ConsumerRecord[Any, Any]]]) -> None:
        by_topic: dict[str, dict[TopicPartition, list[ConsumerRecord[Any, Any]]]] = {}
        for tp, records in batches.items():
            by_topic.setdefault(tp.topic, {})[tp] = records
        results = await asyncio.gather(*(self._topic(records) for records in by_topic.values()))
        progress = {tp: p for result in results for tp, p in result.items()}
        offsets = {tp: p.commit for tp, p in progress.items() if p.commit is not None}
        if offsets:
            committer.add(offsets)
        retried = False
        for tp, p in progress.items():
            if p.retry_from is None:
                continue
            retried = True
            # Read again from the first record not in the database, after a pause so that a
            # database or broker outage does not become a hot loop.
            log.warning("message.retry_later", topic=tp.topic, partition=tp.partition, offset=p.retry_from,
                        error=repr(p.error))
            with contextlib.suppress(Exception):  # not ours any more after a rebalance: fine
                consumer.seek(tp, p.retry_from)
        if retried:
            await asyncio.sleep(self._retry_pause)

    async def _topic(self, batches: Mapping[TopicPartition, Sequence[ConsumerRecord[Any, Any]]]
                     ) -> dict[TopicPartition, _Progress]:
        """One topic's records of a poll, all its partitions together: a transaction per chunk
        of up to `transaction_records` records, each partition's records in offset order
        (docs/messaging.md "One transaction per topic and poll"). Records of different
        partitions have different keys, so nothing orders them against each other; sharing
        a transaction makes one BEGIN, inbox claim, outbox write, COMMIT and relay pass
        serve them all. A chunk that fails commits nothing: each of its partitions, and
        those not reached yet, are read again from their first record not in the database."""
        progress = {tp: _Progress() for tp in batches}
        records = [(tp, record) for tp, partition_records in batches.items() for record in partition_records]
        processor = self._processors[records[0][1].topic]
        step = max(1, self._transaction_records)
        for start in range(0, len(records), step):
            chunk = records[start:start + step]
            try:
                await self._chunk(processor, [record for _, record in chunk])
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - transient, or a bug: nothing of it committed
                for tp, record in records[start:]:
                    if progress[tp].retry_from is None:
                        progress[tp].retry_from, progress[tp].error = record.offset, exc
                return progress
            for tp, record in chunk:
                progress[tp].commit = record.offset + 1
        return progress

    @staticmethod
    async def _chunk(processor: MessageProcessor[Any], chunk: Sequence[ConsumerRecord[Any, Any]]) -> None:
        """One transaction for the chunk. Lost to a lock conflict (a deadlock, a serialization
        failure: PostgreSQL rolled it back so that the other transaction goes on), it is run
        again at once, after a few random milliseconds that keep the two apart, instead of
        going the way of an outage (seek back, pause 1 s): under load such conflicts are
        frequent (quotation number sequences taken by concurrent chunks in different orders)."""
        sources = [source_record(r) for r in chunk]
        for attempt in range(1, LOCK_CONFLICT_ATTEMPTS + 1):
            try:
                await processor.process_batch(sources)
                return
            except LOCK_CONFLICTS as exc:
                if attempt == LOCK_CONFLICT_ATTEMPTS:
                    raise
                log.info("message.lock_conflict", error=type(exc).__name__, attempt=attempt)
                await asyncio.sleep(random.uniform(0.005, 0.05) * attempt)
