"""`Q2C_BENCH_ONLY=volume make bench` (or `python -m q2c_localstack bench` with that variable):
records and bytes per lifecycle, per topic, counted from the topics of a running stack
(docs/scaling.md sizes a Kafka cluster from them).

Two batches, one after the other, each between two quiet points of the stack (every group at
the end offsets, every outbox empty: `TopicProbe.quiescent`), so every record a batch causes is
counted and nothing else is:

1. Sales quote lifecycles (issue 8's: create, 3 lines, activate, win, each step waiting for its
   Sales write), `Q2C_VOLUME_QUOTES` (100), 8 at a time.
2. SCM orders to invoice (create with two lines, confirm, deliver, invoice.post, until Sales has
   the order Invoiced), `Q2C_VOLUME_ORDERS` (50), 8 at a time.

Per topic: records (end offsets after − before) and bytes (key + value + headers of each of
those records, read back; the record batch framing, ~70 B per batch and ~10-20 B per record,
is not counted). Offset commits are counted on `__consumer_offsets`. Per process of the stack
(each service, Kafka, PostgreSQL with its backends): CPU ms per lifecycle (user + system, from
/proc), the process's idle CPU over the same time (measured for `IDLE_SECONDS` before) taken off."""

import asyncio
import gzip
import os
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from pathlib import Path
from typing import Any
from uuid import uuid4

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from q2c_messaging.catalog import load_catalog
from q2c_messaging.security import security_kwargs

from . import processes
from .config import StackConfig
from .kafka_security import BROKER, credentials
from .probe import TopicProbe, stack_watch

CONCURRENCY = 8
OFFSETS_TOPIC = "__consumer_offsets"
INVOICED = 192350005  # msdyn_processingstatus (CONTRACT §2.1)
IDLE_SECONDS = 5.0
GZIP_BATCH = 100  # records of one partition compressed together
TICKS = os.sysconf("SC_CLK_TCK")

Ends = dict[TopicPartition, int]


async def run_volume(config: StackConfig) -> None:
    # imported here: bench imports nothing of this module at load time, and this module needs its client
    from .bench import _SalesClient  # noqa: PLC0415

    quotes = int(os.environ.get("Q2C_VOLUME_QUOTES", "100"))
    orders = int(os.environ.get("Q2C_VOLUME_ORDERS", "50"))
    login = credentials(config, BROKER)  # reads every topic, __consumer_offsets included
    topics = [t.name for t in load_catalog(config.topic_catalog)] + [OFFSETS_TOPIC]
    consumer = AIOKafkaConsumer(bootstrap_servers=config.kafka_bootstrap, enable_auto_commit=False,
                                **security_kwargs(login, from_env=False))
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()  # noqa: SLF001 - as TopicProbe does
        partitions = [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())]
        async with TopicProbe(config.kafka_bootstrap, ["scm.command.results", "dataverse.salesorder.writes"],
                              credentials=credentials(config, "operator"), watch=stack_watch(config)) as probe, \
                _SalesClient(config.kafka_bootstrap, credentials(config, "sales-connector")) as sales:
            async def quote_lifecycle() -> None:
                await sales.lifecycle(defaultdict(list))

            async def order_flow() -> None:
                await _order_to_invoice(probe)

            await sales.lifecycle(defaultdict(list))  # warm-up, not counted
            for name, count, one in [("Sales quote lifecycle (create, 3 lines, activate, win)", quotes,
                                      quote_lifecycle),
                                     ("SCM order to invoice (create with 2 lines, confirm, deliver, "
                                      "invoice.post, Sales Invoiced)", orders, order_flow)]:
                await probe.quiescent(timeout=120)
                idle_from = _cpu(config)
                await asyncio.sleep(IDLE_SECONDS)  # a measuring window, not a wait for something
                idle = _minus(_cpu(config), idle_from)
                before = await consumer.end_offsets(partitions)
                cpu_from = _cpu(config)
                started = time.perf_counter()
                await _run(count, one)
                await probe.quiescent(timeout=120)
                elapsed = time.perf_counter() - started
                cpu = _minus(_cpu(config), cpu_from)
                after = await consumer.end_offsets(partitions)
                sizes, compressed = await _sizes(consumer, before, after)
                _report(name, count, elapsed, before, after, sizes, compressed)
                _report_cpu(count, elapsed, cpu, idle)
    finally:
        await consumer.stop()


async def _run(count: int, one: Callable[[], Awaitable[None]]) -> None:
    gate = asyncio.Semaphore(CONCURRENCY)

    async def guarded() -> None:
        async with gate:
            await one()

    await asyncio.gather(*(guarded() for _ in range(count)))


async def _order_to_invoice(probe: TopicProbe) -> None:
    lines = [{"sequence_number": n, "product_number": f"PC-{n}", "quantity": "3", "unit_price": "500.00",
              "line_discount_amount": "3.33"} for n in (1, 2)]
    all_of_it = [{"sequence_number": n, "quantity": "3"} for n in (1, 2)]

    async def step(topic: str, type_: str, target: str | None, data: dict[str, Any] | None = None) -> str:
        command: dict[str, Any] = {"command_id": str(uuid4()), "type": type_, "target": target,
                                   "user": {"name": "volume", "privileges": []}, "data": data or {}}
        await probe.publish(topic, target or command["command_id"], command)
        [result] = await probe.wait_for("scm.command.results", lambda r: r.key == command["command_id"], timeout=60)
        if result.value["outcome"] != "accepted":
            raise RuntimeError(f"volume {type_} {target}: {result.value}")
        return str(result.value["target"])

    number = await step("scm.order.commands", "order.create", None,
                        {"customer_account": "US-001", "currency": "USD", "name": "Volume", "lines": lines})
    await step("scm.order.commands", "order.confirm", number)
    await step("scm.order.commands", "order.deliver", number, {"lines": all_of_it})
    await step("scm.invoice.commands", "invoice.post", number, {"sales_order_number": number, "lines": all_of_it})
    await probe.wait_for("dataverse.salesorder.writes", lambda r: r.key == number and r.value["record"].get(
        "msdyn_processingstatus") == INVOICED, timeout=60)


async def records_between(consumer: AIOKafkaConsumer, before: Ends, after: Ends,
                          skip: Collection[str] = ()) -> AsyncIterator[ConsumerRecord[bytes, bytes]]:
    """Every record from the `before` offsets up to the `after` ones (topics in `skip` left out),
    read with `consumer` (assigned here)."""
    todo = {tp: end for tp, end in after.items() if end > before[tp] and tp.topic not in skip}
    consumer.assign(list(todo))
    for tp in todo:
        consumer.seek(tp, before[tp])
    while todo:
        batches = await consumer.getmany(*todo, timeout_ms=1000)
        for tp, records in batches.items():
            for record in records:
                if record.offset < todo.get(tp, 0):
                    yield record
            if records and records[-1].offset + 1 >= todo.get(tp, 0):
                todo.pop(tp, None)


async def _sizes(consumer: AIOKafkaConsumer, before: Ends, after: Ends) -> tuple[dict[str, int], dict[str, int]]:
    """Bytes (key + value + header names and values) of the records between the two offsets,
    per topic; and the same gzip-compressed in batches of `GZIP_BATCH` records of a partition,
    as a producer with `compression_type="gzip"` would send them at load (q2c sends uncompressed)."""
    sizes: dict[str, int] = defaultdict(int)
    raw: dict[TopicPartition, list[bytes]] = defaultdict(list)
    async for record in records_between(consumer, before, after, skip={OFFSETS_TOPIC}):
        parts = [record.key or b"", record.value or b""]
        parts += [k.encode() + (v or b"") for k, v in record.headers]
        sizes[record.topic] += sum(len(part) for part in parts)
        raw[TopicPartition(record.topic, record.partition)].append(b"".join(parts))
    compressed: dict[str, int] = defaultdict(int)
    for tp, records in raw.items():
        for start in range(0, len(records), GZIP_BATCH):
            compressed[tp.topic] += len(gzip.compress(b"".join(records[start:start + GZIP_BATCH])))
    return sizes, compressed


def _report(name: str, count: int, elapsed: float, before: Ends, after: Ends, sizes: dict[str, int],
            compressed: dict[str, int]) -> None:
    records: dict[str, int] = defaultdict(int)
    for tp, end in after.items():
        records[tp.topic] += end - before[tp]
    print(f"\n{name}: {count} in {elapsed:.1f} s, {CONCURRENCY} at a time; per lifecycle:")
    print(f"  {'topic':<40} {'records':>8} {'bytes':>9} {'B/record':>9} {'gzip':>8}")
    total_records = total_bytes = total_gzip = 0
    for topic in sorted(t for t in records if records[t] and t != OFFSETS_TOPIC):
        total_records += records[topic]
        total_bytes += sizes[topic]
        total_gzip += compressed[topic]
        print(f"  {topic:<40} {records[topic] / count:8.2f} {sizes[topic] / count:9,.0f} "
              f"{sizes[topic] / records[topic]:9,.0f} {compressed[topic] / count:8,.0f}")
    print(f"  {'total':<40} {total_records / count:8.2f} {total_bytes / count:9,.0f} "
          f"{total_bytes / max(total_records, 1):9,.0f} {total_gzip / count:8,.0f}")
    print(f"  offset commits ({OFFSETS_TOPIC} records): {records[OFFSETS_TOPIC] / count:.2f} per lifecycle")


def _cpu(config: StackConfig) -> dict[str, float]:
    """CPU seconds (user + system) of each process of the stack and its descendants (the
    PostgreSQL backends under the postmaster), reaped children included."""
    roots: dict[str, int] = {}
    for pidfile in sorted(config.run_dir.glob("*.pid")):
        if pid := processes.running_pid(config.run_dir, pidfile.stem):
            roots[pidfile.stem] = pid
    try:
        roots["postgres"] = int((config.home / "postgres" / "data" / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        pass
    stats: dict[int, tuple[int, float]] = {}  # pid -> (parent, own + reaped children's CPU seconds)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        stats[int(entry.name)] = (int(fields[1]), sum(int(f) for f in fields[11:15]) / TICKS)
    children: dict[int, list[int]] = defaultdict(list)
    for pid, (parent, _) in stats.items():
        children[parent].append(pid)

    def tree(pid: int) -> float:
        return stats.get(pid, (0, 0.0))[1] + sum(tree(child) for child in children.get(pid, []))

    return {name: tree(pid) for name, pid in roots.items()}


def _minus(after: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    return {name: after[name] - before.get(name, 0.0) for name in after}


def _report_cpu(count: int, elapsed: float, cpu: dict[str, float], idle: dict[str, float]) -> None:
    print(f"  CPU per lifecycle ({elapsed:.1f} s; idle CPU over {IDLE_SECONDS:.0f} s before, scaled, taken off):")
    total = 0.0
    for name in sorted(cpu, key=lambda n: -cpu[n]):
        net = max(0.0, cpu[name] - idle.get(name, 0.0) * elapsed / IDLE_SECONDS)
        total += net
        print(f"    {name:<28} {net / count * 1000:7.1f} ms   (busy {cpu[name] / elapsed:6.1%} of a core, "
              f"idle {idle.get(name, 0.0) / IDLE_SECONDS:5.1%})")
    print(f"    {'total':<28} {total / count * 1000:7.1f} ms")
