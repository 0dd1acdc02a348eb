"""A black-box client for the stack's topics, as a Sales system or an SCM user would be one:
publish JSON messages, then wait for the records that answer them. Used by the demo and the
end-to-end tests; it knows nothing but topic names and CONTRACT.md shapes."""

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.structs import RecordMetadata


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: str | None
    raw: bytes | None
    headers: dict[str, str] = field(default_factory=dict)
    timestamp: int = 0  # the producer's create time, ms: the order records were sent in

    @property
    def value(self) -> Any:
        return json.loads(self.raw) if self.raw is not None else None


Predicate = Callable[[Record], bool]


class TopicProbe:
    """Reads `topics` (every partition, no consumer group) from their current end, or from
    the beginning with `from_beginning=True`, into a buffer that `wait_for` searches."""

    def __init__(self, bootstrap: str, topics: list[str], *, from_beginning: bool = False) -> None:
        self._bootstrap = bootstrap
        self._topics = topics
        self._from_beginning = from_beginning
        self.records: list[Record] = []
        self._arrived = asyncio.Condition()
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self._task: asyncio.Task[None] | None = None
        self._admin: AIOKafkaAdminClient | None = None

    async def __aenter__(self) -> "TopicProbe":
        self._producer = AIOKafkaProducer(bootstrap_servers=self._bootstrap, acks="all",
                                          enable_idempotence=True)
        await self._producer.start()
        if not self._topics:  # a publisher only (q2c publish without --wait)
            return self
        self._consumer = AIOKafkaConsumer(bootstrap_servers=self._bootstrap, enable_auto_commit=False)
        await self._consumer.start()
        partitions = []
        for topic in self._topics:
            ids = self._consumer.partitions_for_topic(topic)
            if ids is None:
                await self._consumer._client.force_metadata_update()  # noqa: SLF001
                ids = self._consumer.partitions_for_topic(topic) or set()
            if not ids:
                raise LookupError(f"topic {topic} does not exist")
            partitions += [TopicPartition(topic, p) for p in ids]
        self._consumer.assign(partitions)
        if self._from_beginning:
            await self._consumer.seek_to_beginning(*partitions)
        else:
            await self._consumer.seek_to_end(*partitions)
            for tp in partitions:  # resolve positions now, so nothing published later is missed
                await self._consumer.position(tp)
        self._task = asyncio.create_task(self._pump())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        if self._admin:
            await self._admin.close()
        if self._consumer:
            await self._consumer.stop()
        if self._producer:
            await self._producer.stop()

    async def _pump(self) -> None:
        assert self._consumer
        while True:
            batches = await self._consumer.getmany(timeout_ms=200)
            fresh = [
                Record(m.topic, m.partition, m.offset, m.key.decode() if m.key else None, m.value,
                       {k: v.decode(errors="replace") for k, v in m.headers or ()}, m.timestamp)
                for msgs in batches.values() for m in msgs
            ]
            if fresh:
                async with self._arrived:
                    self.records.extend(fresh)
                    self._arrived.notify_all()

    async def publish(self, topic: str, key: str | None, value: Any,
                      headers: dict[str, str] | None = None) -> RecordMetadata:
        """Publish a dict as JSON, or bytes as they are (to test bad input); return where it went."""
        assert self._producer
        raw = value if isinstance(value, bytes) else json.dumps(value).encode()
        return await self._producer.send_and_wait(
            topic, raw, key=key.encode() if key is not None else None,
            headers=[(k, v.encode()) for k, v in (headers or {}).items()],
        )

    async def publish_many(self, messages: list[tuple[str, str | None, Any]]) -> None:
        """Publish (topic, key, value) messages with all sends in flight at once."""
        assert self._producer
        deliveries = [
            await self._producer.send(topic, json.dumps(value).encode(), key=key.encode() if key else None)
            for topic, key, value in messages
        ]
        await asyncio.gather(*deliveries)

    def matching(self, topic: str, predicate: Predicate = lambda r: True) -> list[Record]:
        return [r for r in self.records if r.topic == topic and predicate(r)]

    async def wait_for(self, topic: str, predicate: Predicate = lambda r: True, *,
                       timeout: float = 30.0, count: int = 1) -> list[Record]:
        """Wait until `count` records of `topic` match; raise TimeoutError otherwise."""
        deadline = time.monotonic() + timeout
        async with self._arrived:
            while True:
                found = self.matching(topic, predicate)
                if len(found) >= count:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"{len(found)}/{count} matching records on {topic} after {timeout}s")
                try:
                    await asyncio.wait_for(self._arrived.wait(), remaining)
                except TimeoutError:
                    pass

    async def wait_past(self, seen: int, *, timeout: float) -> None:
        """Wait until more than `seen` records have arrived, on any topic; TimeoutError otherwise."""
        async with self._arrived:
            await asyncio.wait_for(self._arrived.wait_for(lambda: len(self.records) > seen), timeout)

    async def consumed(self, group: str, record: Record | RecordMetadata, *, timeout: float = 30.0) -> None:
        """Wait until consumer group `group` has committed an offset past `record` (read or
        published by this probe). A service
        commits a record's offset only after the transaction that handled it (the consumer
        recipe), so this proves from outside that the service's state holds its effect."""
        if self._admin is None:
            self._admin = AIOKafkaAdminClient(bootstrap_servers=self._bootstrap)
            await self._admin.start()
        tp = TopicPartition(record.topic, record.partition)
        deadline = time.monotonic() + timeout
        while True:
            offsets = await self._admin.list_consumer_group_offsets(group, partitions=[tp])
            committed = offsets.get(tp)
            if committed is not None and committed.offset > record.offset:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"group {group} has not consumed {record.topic}[{record.partition}]"
                                   f"@{record.offset} after {timeout}s (committed: {committed})")
            await asyncio.sleep(0.05)  # polling the fact, not waiting for it to happen

    async def end_offset_total(self, topic: str) -> int:
        """How many records `topic` holds, summed over its partitions (high watermarks)."""
        assert self._consumer
        partitions = [TopicPartition(topic, p) for p in self._consumer.partitions_for_topic(topic) or ()]
        ends = await self._consumer.end_offsets(partitions)
        return sum(ends.values())

    def key_like(self, topic: str, key: str) -> str:
        """A fresh UUID that the default (murmur2) partitioner puts on `key`'s partition of
        `topic`: a sentinel answered under it arrives after any later record under `key`."""
        assert self._consumer
        partitions = sorted(self._consumer.partitions_for_topic(topic) or ())
        partitioner = DefaultPartitioner()
        wanted = partitioner(key.encode(), partitions, partitions)
        while True:
            candidate = str(uuid.uuid4())
            if partitioner(candidate.encode(), partitions, partitions) == wanted:
                return candidate

    async def settle(self, seconds: float) -> None:
        """Let records that might still come arrive (to assert that nothing more does).

        A fixed wait proves nothing; prefer a fact: `consumed` (a service has handled a record)
        or a sentinel, a later message on the same key whose answer lands on the same key and
        partition as the record that must not come (`key_like` for results), so per-key order
        makes its arrival a proof. Keep `settle` only where no such answer exists: the absence
        is on another topic or key than anything the test can make the service produce next."""
        await asyncio.sleep(seconds)
