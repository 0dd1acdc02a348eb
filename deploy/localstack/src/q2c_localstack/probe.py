"""A black-box client for the stack's topics, as a Sales system or an SCM user would be one:
publish JSON messages, then wait for the records that answer them. Used by the demo and the
end-to-end tests; it knows nothing but topic names and CONTRACT.md shapes."""

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.structs import RecordMetadata
from prometheus_client.parser import text_string_to_metric_families

from q2c_messaging.failover import client_kwargs
from q2c_messaging.security import KafkaCredentials, security_kwargs

from .config import StackConfig


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
# Who publishes on a topic: a black-box client sends as the party that owns the topic.
PublishAs = Callable[[str], KafkaCredentials | None]


@dataclass(frozen=True)
class Watched:
    """What `TopicProbe.quiescent` watches: each consumer group with the topics it reads, and
    each service's /metrics URL (its `q2c_outbox_lag` gauge: outbox rows not yet published)."""

    groups: Mapping[str, tuple[str, ...]]
    metrics: Mapping[str, str]
    # the /metrics URLs of a service's other replicas (Q2C_REPLICAS): the outbox is the service
    # database's, so any replica that answers counts it; one that is down (killed) is skipped
    replicas: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def metrics_urls(self, service: str) -> tuple[str, ...]:
        return (self.metrics[service], *self.replicas.get(service, ()))


def stack_watch(config: StackConfig) -> Watched:
    """Every service of the stack: its group (= its name) reads the topics the catalog names it
    a consumer of; its /metrics is on the stack's HTTP port for it (each replica's on its own)."""
    from q2c_messaging.catalog import load_catalog  # the catalog is the runtime's, read as data

    names = {s.name for s in config.services}
    catalog = load_catalog(config.topic_catalog)
    groups = {name: tuple(sorted(t.name for t in catalog if name in t.consumers)) for name in sorted(names)}
    return Watched(groups={g: topics for g, topics in groups.items() if topics},
                   metrics={s.name: f"http://127.0.0.1:{config.http_port(s)}/metrics" for s in config.services},
                   replicas={s.name: tuple(f"http://127.0.0.1:{config.http_port(s, r)}/metrics"
                                           for r in range(2, config.replicas + 1))
                             for s in config.services if config.replicas > 1})


async def metric(url: str, name: str, labels: Mapping[str, str] | None = None, *,
                 default: float | None = 0.0) -> float:
    """One sample of a service's /metrics page (`url`); `default` when it has none (0: a counter
    not yet counted; None: raise LookupError). The service counts its outbox at the scrape."""
    parts = urlsplit(url)
    reader, writer = await asyncio.wait_for(asyncio.open_connection(parts.hostname, parts.port), 5)
    try:
        writer.write(f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        response = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
    head, _, body = response.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise ConnectionError(f"{url} answered {head.splitlines()[:1]!r}")
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in (labels or {}).items()):
                return float(sample.value)
    if default is None:
        raise LookupError(f"{url} has no {name}{labels}")
    return default


async def wait_for_metric(url: str, name: str, labels: Mapping[str, str], predicate: Callable[[float], bool], *,
                          timeout: float = 30.0) -> float:
    """Poll a sample of /metrics until `predicate` holds for it; return it."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value: float | None = await metric(url, name, labels)
        except (OSError, TimeoutError):
            value = None  # the service is not answering (yet): poll on
        if value is not None and predicate(value):
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{name}{labels} at {url} is {value} after {timeout}s")
        await asyncio.sleep(0.1)  # polling the fact, not waiting for it to happen


class TopicProbe:
    """Reads `topics` (every partition, no consumer group) from their current end, or from
    the beginning with `from_beginning=True`, into a buffer that `wait_for` searches. It logs
    in as `credentials` (default: the environment's, docs/security.md); with `publish_as`, each
    publish logs in as the principal it names for the topic (one producer per principal)."""

    def __init__(self, bootstrap: str, topics: list[str], *, from_beginning: bool = False,
                 watch: Watched | None = None, credentials: KafkaCredentials | None = None,
                 publish_as: PublishAs | None = None) -> None:
        self._bootstrap = bootstrap
        self.watch = watch
        self._next: dict[TopicPartition, int] = {}  # per partition: the offset after the last record buffered
        self._security = security_kwargs(credentials)
        self._publish_as = publish_as
        self._producers: dict[str, AIOKafkaProducer] = {}
        self._topics = topics
        self._from_beginning = from_beginning
        self.records: list[Record] = []
        self._arrived = asyncio.Condition()
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self._task: asyncio.Task[None] | None = None
        self._admin: AIOKafkaAdminClient | None = None
        self._offsets: AIOKafkaConsumer | None = None  # reads end offsets for `quiescent`

    async def __aenter__(self) -> "TopicProbe":
        self._producer = AIOKafkaProducer(bootstrap_servers=self._bootstrap, acks="all",
                                          enable_idempotence=True, **self._security)
        await self._producer.start()
        if not self._topics:  # a publisher only (q2c publish without --wait)
            return self
        self._consumer = AIOKafkaConsumer(bootstrap_servers=self._bootstrap, enable_auto_commit=False,
                                          **client_kwargs(), **self._security)
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
            self._next[tp] = await self._consumer.position(tp)
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
        if self._offsets:
            await self._offsets.stop()
        if self._consumer:
            await self._consumer.stop()
        if self._producer:
            await self._producer.stop()
        for producer in self._producers.values():
            await producer.stop()

    async def open_publishers(self, *topics: str) -> None:
        """Start now the producers that publishing on `topics` will use, so a first publish is
        as quick as any later one (a test racing the services is not slowed by a log-in)."""
        for topic in topics:
            await self._producer_for(topic)

    async def _producer_for(self, topic: str) -> AIOKafkaProducer:
        if self._publish_as is None:
            assert self._producer
            return self._producer
        login = self._publish_as(topic)
        name = login.username if login else ""
        if name not in self._producers:
            producer = AIOKafkaProducer(bootstrap_servers=self._bootstrap, acks="all", enable_idempotence=True,
                                        **security_kwargs(login, from_env=False))
            await producer.start()
            self._producers[name] = producer
        return self._producers[name]

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
                    for r in fresh:
                        self._next[TopicPartition(r.topic, r.partition)] = r.offset + 1
                    self._arrived.notify_all()

    async def publish(self, topic: str, key: str | None, value: Any,
                      headers: dict[str, str] | None = None) -> RecordMetadata:
        """Publish a dict as JSON, or bytes as they are (to test bad input); return where it went."""
        producer = await self._producer_for(topic)
        raw = value if isinstance(value, bytes) else json.dumps(value).encode()
        return await producer.send_and_wait(
            topic, raw, key=key.encode() if key is not None else None,
            headers=[(k, v.encode()) for k, v in (headers or {}).items()],
        )

    async def publish_many(self, messages: list[tuple[str, str | None, Any]]) -> None:
        """Publish (topic, key, value) messages with all sends in flight at once."""
        deliveries = [
            await (await self._producer_for(topic)).send(topic, json.dumps(value).encode(),
                                                         key=key.encode() if key else None)
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

    async def first_of(self, *wanted: tuple[str, Predicate], timeout: float = 30.0) -> Record:
        """The first record, in arrival order, that matches one of (topic, predicate);
        TimeoutError when none has come within `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            seen = len(self.records)
            for record in self.records[:seen]:
                if any(record.topic == topic and predicate(record) for topic, predicate in wanted):
                    return record
            await self.wait_past(seen, timeout=max(0.0, deadline - time.monotonic()))

    async def wait_past(self, seen: int, *, timeout: float) -> None:
        """Wait until more than `seen` records have arrived, on any topic; TimeoutError otherwise."""
        async with self._arrived:
            await asyncio.wait_for(self._arrived.wait_for(lambda: len(self.records) > seen), timeout)

    async def consumed(self, group: str, record: Record | RecordMetadata, *, timeout: float = 30.0) -> None:
        """Wait until consumer group `group` has committed an offset past `record` (read or
        published by this probe). A service
        commits a record's offset only after the transaction that handled it (the consumer
        recipe), so this proves from outside that the service's state holds its effect."""
        admin = await self._admin_client()
        tp = TopicPartition(record.topic, record.partition)
        deadline = time.monotonic() + timeout
        while True:
            offsets = await admin.list_consumer_group_offsets(group, partitions=[tp])
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

    async def quiescent(self, watch: Watched | None = None, *, timeout: float = 60.0) -> None:
        """Wait until the stack is quiet and this probe has read every record it will get, so
        that a record not in `records` now will not come: absence proved by facts, not time.

        Quiet means, in one observation: every watched group has committed, on every partition
        of every topic it reads, the topic's end offset (lag 0); every watched service's outbox
        has no row waiting for the relay; and the end offsets read again afterwards have not
        moved. A service commits a record's offset only after the transaction that wrote its
        outbox rows, and deletes outbox rows only once the broker has them, so lag 0 with empty
        outboxes means every effect of every record consumed is on its topic. Then this probe
        reads its own topics up to those end offsets. Not covered: work a service starts by
        itself (a timer, the message processor's loop), which no offset or outbox shows until
        it has written something."""
        watch = watch or self.watch
        if watch is None:
            raise ValueError("quiescent needs to know the stack's groups and services (watch=...)")
        admin = await self._admin_client()
        deadline = time.monotonic() + timeout
        partitions = await self._partitions({t for topics in watch.groups.values() for t in topics}
                                            | {tp.topic for tp in self._next})
        assert self._offsets
        while True:
            ends = await self._offsets.end_offsets(partitions)
            waiting = await self._lagging(admin, watch, ends)
            if not waiting:
                again = await self._offsets.end_offsets(partitions)
                moved = [f"{tp.topic}[{tp.partition}] {ends[tp]}->{again[tp]}"
                         for tp in partitions if again[tp] != ends[tp]]
                waiting = [f"records arrived meanwhile: {', '.join(moved)}"] if moved else []
            if not waiting:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"the stack is not quiet after {timeout}s: " + "; ".join(waiting))
            await asyncio.sleep(0.05)  # polling the fact, not waiting for it to happen
        # the stack is quiet at `ends`: read this probe's partitions up to there
        await self._read_to(ends, deadline - time.monotonic())

    async def caught_up(self, *, timeout: float = 30.0) -> None:
        """Wait until `records` holds every record of this probe's topics up to their end offsets
        of now (e.g. the whole state of a compacted topic read from the beginning)."""
        deadline = time.monotonic() + timeout
        partitions = await self._partitions({tp.topic for tp in self._next})
        assert self._offsets
        await self._read_to(await self._offsets.end_offsets(partitions), deadline - time.monotonic())

    async def _read_to(self, ends: Mapping[TopicPartition, int], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        async with self._arrived:
            while behind := [tp for tp, at in self._next.items() if at < ends[tp]]:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the probe has not read up to the end of {behind}")
                try:
                    await asyncio.wait_for(self._arrived.wait(), max(0.05, deadline - time.monotonic()))
                except TimeoutError:
                    pass

    async def _admin_client(self) -> AIOKafkaAdminClient:
        if self._admin is None:
            self._admin = AIOKafkaAdminClient(bootstrap_servers=self._bootstrap, **self._security)
            await self._admin.start()
        return self._admin

    async def _partitions(self, topics: set[str]) -> list[TopicPartition]:
        """Every partition of `topics`, with the offsets reader tracking their metadata."""
        if self._offsets is None:
            # a consumer of its own, assigned nothing: the reading consumer's metadata follows
            # its assignment and would drop the topics tracked here
            self._offsets = AIOKafkaConsumer(bootstrap_servers=self._bootstrap, enable_auto_commit=False,
                                             **self._security)
            await self._offsets.start()
        for topic in topics:
            await self._offsets._client.add_topic(topic)  # noqa: SLF001 - no public way to track a topic
        partitions = []
        for topic in sorted(topics):
            ids = self._offsets.partitions_for_topic(topic)
            if not ids:
                raise LookupError(f"topic {topic} does not exist")
            partitions += [TopicPartition(topic, p) for p in sorted(ids)]
        return partitions

    async def _lagging(self, admin: AIOKafkaAdminClient, watch: Watched,
                       ends: dict[TopicPartition, int]) -> list[str]:
        """What is not quiet yet at the end offsets `ends`: groups behind, outboxes not empty."""
        waiting = []
        for group, topics in watch.groups.items():
            committed = await admin.list_consumer_group_offsets(group)
            for tp in (tp for tp in ends if tp.topic in topics):
                meta = committed.get(tp)
                at = meta.offset if meta is not None and meta.offset >= 0 else 0
                if at < ends[tp]:
                    waiting.append(f"group {group} at {at} of {ends[tp]} on {tp.topic}[{tp.partition}]")
        for service in watch.metrics:
            lag, problems = None, []
            for url in watch.metrics_urls(service):  # the first replica that answers
                try:
                    lag = await metric(url, "q2c_outbox_lag", {"service": service}, default=None)
                    break
                except (OSError, TimeoutError, LookupError) as exc:
                    problems.append(repr(exc))
            if lag is None:
                waiting.append(f"outbox of {service} unknown ({'; '.join(problems)})")
                continue
            if lag != 0:  # NaN too: the service could not count its outbox
                waiting.append(f"outbox of {service} has {lag:g} rows to publish")
        return waiting


async def groups_settled(config: StackConfig, login: KafkaCredentials | None, *, timeout: float = 120.0) -> None:
    """Wait until every service's consumer group is Stable with exactly the consumers of its
    replicas 1…Q2C_REPLICAS in it (client ids `<service>`, `<service>-<r>`: a fact of the group
    coordinator), e.g. after replicas were started or stopped, so a measurement or a test does
    not begin inside a rebalance."""
    groups = stack_watch(config).groups
    wanted = {g: {g, *(f"{g}-{r}" for r in range(2, config.replicas + 1))} for g in groups}
    admin = AIOKafkaAdminClient(bootstrap_servers=config.kafka_bootstrap, **security_kwargs(login, from_env=False))
    await admin.start()
    try:
        deadline = time.monotonic() + timeout
        while True:
            waiting = []
            for group in groups:
                [response] = await admin.describe_consumer_groups([group])
                [described] = response.to_object()["groups"]
                clients = {m["client_id"] for m in described["members"]}
                if described["state"] != "Stable" or clients != wanted[group]:
                    waiting.append(f"{group}: {described['state']} {sorted(clients)}")
            if not waiting:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"consumer groups not settled after {timeout}s: {'; '.join(waiting)}")
            await asyncio.sleep(0.2)  # polling the fact, not waiting for it to happen
    finally:
        await admin.close()
