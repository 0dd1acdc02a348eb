"""`Q2C_BENCH_ONLY=hops make bench`: where a lifecycle step's time goes, hop by hop, read from
the topics alone (docs/performance.md "Tenth session").

Sales quote lifecycles run one at a time (`Q2C_HOPS_LIFECYCLES`, 100); then every record they
caused is read back, and each is joined to the record that caused it: a record's `causation_id`
header names the `message_id` of its cause (a header on q2c's records, a field of the value on
Sales changes, CONTRACT §1). The gap between the two records' timestamps (set by each producer
when it sends, in whole milliseconds) is one service's hop: its poll, transaction and relay, and
the Kafka delivery before them. Gaps are grouped by (the cause's topic → the record's topic) and
named after the service that writes the record's topic (the topic catalog)."""

import json
import os
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from q2c_messaging.catalog import TopicSpec, load_catalog
from q2c_messaging.security import security_kwargs

from .config import StackConfig
from .kafka_security import BROKER, credentials

LIFECYCLES = 100


@dataclass(frozen=True)
class Sent:
    """A record as the gaps need it."""

    topic: str
    timestamp_ms: int
    message_id: str | None
    causation_id: str | None


def sent(topic: str, timestamp_ms: int, headers: Iterable[tuple[str, bytes | None]], value: bytes | None) -> Sent:
    """The ids of a record: from its headers, or (a Sales change) its value's `message_id`."""
    found = {name: raw.decode() for name, raw in headers if raw is not None}
    message_id = found.get("message_id")
    if message_id is None and value:
        try:
            body: Any = json.loads(value)
        except ValueError:
            body = None
        if isinstance(body, dict) and isinstance(body.get("message_id"), str):
            message_id = body["message_id"]
    return Sent(topic, timestamp_ms, message_id, found.get("causation_id"))


def hop_gaps(records: Iterable[Sent]) -> dict[tuple[str, str], list[int]]:
    """(cause's topic, record's topic) → the gaps in ms of every record whose cause is among them."""
    records = list(records)
    by_id = {r.message_id: r for r in records if r.message_id}
    gaps: dict[tuple[str, str], list[int]] = defaultdict(list)
    for record in records:
        cause = by_id.get(record.causation_id or "")
        if cause is not None and cause is not record:
            gaps[(cause.topic, record.topic)].append(record.timestamp_ms - cause.timestamp_ms)
    return dict(gaps)


def writer_of(topic: str, catalog: Mapping[str, TopicSpec]) -> str:
    writers = catalog[topic].writers if topic in catalog else frozenset()
    return ", ".join(sorted(writers)) or "?"


def report(gaps: Mapping[tuple[str, str], list[int]], catalog: Mapping[str, TopicSpec], lifecycles: int) -> list[str]:
    """The table's lines, the busiest paths first."""
    lines = [f"where a lifecycle step's time goes, hop by hop ({lifecycles} lifecycles one at a time; gaps between "
             "the record timestamps of a cause and its effect, whole ms):",
             f"  {'hop (the service writing the second topic)':<78} {'per lifecycle':>13} {'p50':>5} {'p90':>5} "
             f"{'p99':>5}"]
    for (cause, effect), values in sorted(gaps.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        ordered = sorted(values)
        p50, p90, p99 = (ordered[min(len(ordered) - 1, int(len(ordered) * q))] for q in (0.5, 0.9, 0.99))
        path = f"{cause} → {effect} ({writer_of(effect, catalog)})"
        lines.append(f"  {path:<78} {len(values) / lifecycles:13.1f} {p50:5d} {p90:5d} {p99:5d}")
    return lines


async def run_hop_gaps(config: StackConfig) -> None:
    # imported here: bench imports nothing of this module at load time, and this module needs its client
    from .bench import LIFECYCLE_STEPS, _SalesClient  # noqa: PLC0415
    from .volume import records_between  # noqa: PLC0415

    lifecycles = int(os.environ.get("Q2C_HOPS_LIFECYCLES") or LIFECYCLES)
    catalog = {t.name: t for t in load_catalog(config.topic_catalog)}
    consumer = AIOKafkaConsumer(bootstrap_servers=config.kafka_bootstrap, enable_auto_commit=False,
                                **security_kwargs(credentials(config, BROKER), from_env=False))
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()  # noqa: SLF001 - as TopicProbe does
        partitions = [TopicPartition(t, p) for t in catalog for p in sorted(consumer.partitions_for_topic(t) or ())]
        async with _SalesClient(config.kafka_bootstrap, credentials(config, "sales-connector")) as sales:
            await sales.lifecycle({step: [] for step in LIFECYCLE_STEPS})  # warm-up, not counted
            before = await consumer.end_offsets(partitions)
            for _ in range(lifecycles):
                await sales.lifecycle({step: [] for step in LIFECYCLE_STEPS})
            after = await consumer.end_offsets(partitions)
        records = [sent(r.topic, r.timestamp, r.headers, r.value)
                   async for r in records_between(consumer, before, after)]
    finally:
        await consumer.stop()
    print()
    print("\n".join(report(hop_gaps(records), catalog, lifecycles)))
