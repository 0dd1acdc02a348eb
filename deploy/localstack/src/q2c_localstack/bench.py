"""`make bench`: figures, not assertions (timed tests flake on shared machines).

1. Outbox relay: rows already committed in the outbox → acknowledged by Kafka, messages/s.
2. Quotations: SCM quotations created, then sent (the ownership round trip), until Sales has them.
3. Order to invoice: SCM orders created with lines, confirmed, delivered and invoiced, each
   order step by step and a bounded number of orders at once, until Sales has them Invoiced:
   orders/s end to end and p50/p99 of each step.
4. Feature-state, end to end through the running stack: commands published to
   `scm.feature.commands` → results read from `scm.command.results`: throughput and latency.
5. Resident memory of each process of the stack after the runs.
"""

import asyncio
import math
import statistics
import time
from pathlib import Path
from uuid import uuid4

import asyncpg
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from q2c_messaging.catalog import parse_catalog
from q2c_messaging.outbox import Outbox, OutboxRelay
from q2c_messaging.producer import make_producer
from q2c_messaging.runtime import MESSAGING_MIGRATIONS
from q2c_observability import configure_logging
from q2c_persistence import apply_migrations, create_pool, load_migrations

from . import postgres, processes
from .config import StackConfig
from .probe import TopicProbe

RELAY_MESSAGES = 50_000
COMMANDS = 3_000
ORDERS = 100
ORDER_CONCURRENCY = 10  # orders in flight at once, each one step after the other
ORDER_BENCH_LIMIT = 300.0  # seconds for the whole order run
INVOICED = 192350005  # msdyn_processingstatus (CONTRACT §2.1)
# Features the bench toggles: none of them changes how SCM-owned quotations flow, and each
# ends on its default (DOMAIN.md §3).
FEATURE_DEFAULTS = {"UseMessageProcessor": False, "CopyQuotationDataToSalesOrders": True}


def run_bench(config: StackConfig) -> None:
    configure_logging("bench", "WARNING")
    asyncio.run(_bench(config))


async def _bench(config: StackConfig) -> None:
    print(f"q2c bench against {config.kafka_bootstrap} (2 cores shared by Kafka, PostgreSQL and the services)")
    await _bench_relay(config)
    # quotations first: the feature burst below keeps the consumers of scm.feature.events busy
    await _bench_quote_lifecycle(config)
    await _bench_order_to_invoice(config)
    await _bench_feature_commands(config)
    _report_memory(config)


async def _bench_relay(config: StackConfig) -> None:
    topic = f"bench.relay.{uuid4().hex[:8]}"
    database = f"q2c_bench_{uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=config.kafka_bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, 6, 1)])
    db_admin = await asyncpg.connect(postgres.admin_dsn(config))
    await db_admin.execute(f'CREATE DATABASE "{database}"')
    dsn = postgres.admin_dsn(config, database)
    pool = await create_pool(dsn)
    try:
        await apply_migrations(pool, load_migrations("messaging", MESSAGING_MIGRATIONS))
        catalog = parse_catalog({"topics": {topic: {"partitions": 6, "writers": ["bench"]}}})
        payload = b'{"SALESQUOTATIONNUMBER": "F-000001", "SALESQUOTATIONSTATUS": "sent", "lines": []}'
        started = time.perf_counter()
        for chunk in range(0, RELAY_MESSAGES, 5_000):
            async with pool.acquire() as conn, conn.transaction():
                outbox = Outbox(conn, "bench", catalog)
                for n in range(chunk, chunk + 5_000):
                    await outbox.append(topic, f"F-{n % 1000:06d}", payload, message_id=f"m-{n}", type="bench.x")
        written = time.perf_counter() - started

        relay = OutboxRelay(pool, lambda: make_producer(config.kafka_bootstrap, "bench-relay"), batch_size=500)
        started = time.perf_counter()
        while await relay.publish_batch():
            pass
        relayed = time.perf_counter() - started
        await relay.stop()
        print(f"\noutbox relay: {RELAY_MESSAGES} messages ({len(payload)} B, 1000 keys, 6 partitions)")
        print(f"  append to outbox in the business transaction: {RELAY_MESSAGES / written:,.0f} msg/s")
        print(f"  relay to Kafka (acks=all, idempotent, batches of 500): {RELAY_MESSAGES / relayed:,.0f} msg/s "
              f"({relayed:.2f} s)")
    finally:
        await pool.close()
        await db_admin.execute(f'DROP DATABASE "{database}" WITH (FORCE)')
        await db_admin.close()
        await admin.delete_topics([topic])
        await admin.close()


async def _bench_feature_commands(config: StackConfig) -> None:
    names = list(FEATURE_DEFAULTS)
    async with TopicProbe(config.kafka_bootstrap, ["scm.command.results"]) as probe:
        commands = []
        for n in range(COMMANDS):
            name = names[n % len(names)]
            last_round = n >= COMMANDS - len(names)
            enabled = FEATURE_DEFAULTS[name] if last_round else bool(n % 2)  # ends on the defaults
            commands.append({"command_id": str(uuid4()), "type": "feature.set", "target": name,
                             "user": {"name": "bench", "privileges": []},
                             "data": {"feature": name, "enabled": enabled}})
        ids = {c["command_id"] for c in commands}
        started = time.perf_counter()
        await probe.publish_many([("scm.feature.commands", c["target"], c) for c in commands])
        published = time.perf_counter() - started
        results = await probe.wait_for("scm.command.results", lambda r: r.key in ids, count=COMMANDS, timeout=300)
        elapsed = time.perf_counter() - started
    arrival = {}
    for record in results:
        arrival.setdefault(record.key, record)
    accepted = sum(1 for r in arrival.values() if r.value["outcome"] == "accepted")
    print(f"\nfeature-state, end to end: {COMMANDS} feature.set commands over {len(names)} keys")
    print(f"  throughput: {COMMANDS / elapsed:,.0f} commands/s (first publish → every result read, {elapsed:.2f} s; "
          f"publishing took {published:.2f} s)")
    print(f"  accepted: {accepted}/{COMMANDS}; results per command: exactly 1 = "
          f"{len(results) == len(arrival) == COMMANDS}")
    await _latency(config)


async def _latency(config: StackConfig, samples: int = 50) -> None:
    """One command at a time, so latency is not queueing behind a burst."""
    latencies = []
    async with TopicProbe(config.kafka_bootstrap, ["scm.command.results"]) as probe:
        for n in range(samples):
            name = "PriceMaster"
            command = {"command_id": str(uuid4()), "type": "feature.set", "target": name,
                       "data": {"feature": name, "enabled": n % 2 == 1 and n != samples - 1}}
            started = time.perf_counter()
            await probe.publish("scm.feature.commands", name, command)
            await probe.wait_for("scm.command.results", lambda r, c=command: r.key == c["command_id"])
            latencies.append((time.perf_counter() - started) * 1000)
    latencies.sort()
    print(f"  latency, one command at a time ({samples} samples): p50 {statistics.median(latencies):.0f} ms, "
          f"p95 {latencies[int(samples * 0.95) - 1]:.0f} ms, max {latencies[-1]:.0f} ms")


async def _bench_quote_lifecycle(config: StackConfig, quotes: int = 300) -> None:
    """SCM quotations created, then sent: a send goes quote → ownership → quote (the
    decision round trip) and is written to Sales by the adapter."""
    def command(type_: str, target: str | None, data: dict | None = None) -> dict:  # type: ignore[type-arg]
        return {"command_id": str(uuid4()), "type": type_, "target": target,
                "user": {"name": "bench", "privileges": []}, "data": data or {}}

    async with TopicProbe(config.kafka_bootstrap, ["scm.command.results", "dataverse.quote.writes"]) as probe:
        creates = [command("quote.create", None, {"customer_account": "US-001", "currency": "USD", "lines": [
            {"product_number": "PC-1", "quantity": "3", "unit_price": "500.00"}]}) for _ in range(quotes)]
        started = time.perf_counter()
        await probe.publish_many([("scm.quote.commands", c["command_id"], c) for c in creates])
        ids = {c["command_id"] for c in creates}
        created = await probe.wait_for("scm.command.results", lambda r: r.key in ids, count=quotes, timeout=300)
        create_time = time.perf_counter() - started
        numbers = [r.value["target"] for r in created]
        sends = [command("quote.send", n) for n in numbers]
        started = time.perf_counter()
        await probe.publish_many([("scm.quote.commands", c["target"], c) for c in sends])
        ids = {c["command_id"] for c in sends}
        await probe.wait_for("scm.command.results", lambda r: r.key in ids, count=quotes, timeout=300)
        send_time = time.perf_counter() - started
        await probe.wait_for("dataverse.quote.writes", lambda r: r.key in set(numbers)
                             and r.value["record"].get("statecode") == 1, count=quotes, timeout=300)
        to_sales = time.perf_counter() - started
    print(f"\nquotations: {quotes} SCM quotations with one line")
    print(f"  quote.create: {quotes / create_time:,.0f} commands/s")
    print(f"  quote.send (ownership round trip, journal): {quotes / send_time:,.0f} commands/s; "
          f"all {quotes} Active in Sales after {to_sales:.2f} s")


async def _bench_order_to_invoice(config: StackConfig, orders: int = ORDERS,
                                  concurrency: int = ORDER_CONCURRENCY) -> None:
    """SCM orders with two lines: `order.create` → `order.confirm` → `order.deliver` (all) →
    `invoice.post` (all; invoice → order → invoice round trip), each step once the previous
    one's result is back, then until the adapter has written the order to Sales as Invoiced.
    `concurrency` orders are in flight at once."""
    steps = ["order.create", "order.confirm", "order.deliver", "invoice.post", "Sales Invoiced"]
    latencies: dict[str, list[float]] = {step: [] for step in steps}
    totals: list[float] = []
    lines = [{"sequence_number": n, "product_number": f"PC-{n}", "quantity": "3", "unit_price": "500.00",
              "line_discount_amount": "3.33"} for n in (1, 2)]
    all_of_it = [{"sequence_number": n, "quantity": "3"} for n in (1, 2)]
    gate = asyncio.Semaphore(concurrency)

    async with TopicProbe(config.kafka_bootstrap, ["scm.command.results", "dataverse.salesorder.writes"]) as probe:
        async def step(topic: str, type_: str, target: str | None, data: dict | None = None) -> str:  # type: ignore[type-arg]
            command = {"command_id": str(uuid4()), "type": type_, "target": target,
                       "user": {"name": "bench", "privileges": []}, "data": data or {}}
            started = time.perf_counter()
            await probe.publish(topic, target or command["command_id"], command)
            [result] = await probe.wait_for("scm.command.results", lambda r: r.key == command["command_id"],
                                            timeout=60)
            latencies[type_].append((time.perf_counter() - started) * 1000)
            if result.value["outcome"] != "accepted":
                raise RuntimeError(f"bench {type_} {target}: {result.value}")
            return str(result.value["target"])

        async def one_order() -> None:
            async with gate:
                started = time.perf_counter()
                number = await step("scm.order.commands", "order.create", None, {
                    "customer_account": "US-001", "currency": "USD", "name": "Bench", "lines": lines})
                await step("scm.order.commands", "order.confirm", number)
                await step("scm.order.commands", "order.deliver", number, {"lines": all_of_it})
                await step("scm.invoice.commands", "invoice.post", number,
                           {"sales_order_number": number, "lines": all_of_it})
                invoiced = time.perf_counter()
                await probe.wait_for("dataverse.salesorder.writes", lambda r: r.key == number and r.value[
                    "record"].get("msdyn_processingstatus") == INVOICED, timeout=60)
                done = time.perf_counter()
                latencies["Sales Invoiced"].append((done - invoiced) * 1000)
                totals.append((done - started) * 1000)

        started = time.perf_counter()
        try:
            async with asyncio.timeout(ORDER_BENCH_LIMIT):
                await asyncio.gather(*(one_order() for _ in range(orders)))
        except TimeoutError:
            print(f"\norder to invoice: stopped after {ORDER_BENCH_LIMIT:.0f} s with {len(totals)}/{orders} done")
        elapsed = time.perf_counter() - started
    print(f"\norder to invoice: {len(totals)} SCM orders with two lines, {concurrency} at a time: create, confirm, "
          "deliver, invoice.post, until Sales has them Invoiced")
    print(f"  {len(totals) / elapsed:,.1f} orders/s end to end ({elapsed:.2f} s; "
          f"{len(totals) * 4 / elapsed:,.0f} commands/s)")
    for name, values in [*latencies.items(), ("whole order", totals)]:
        if values:
            print(f"  {name:<15} p50 {_percentile(values, 0.50):6.0f} ms   p99 {_percentile(values, 0.99):6.0f} ms"
                  f"   ({len(values)} samples)")


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def _report_memory(config: StackConfig) -> None:
    print("\nresident memory after the runs:")
    for pidfile in sorted(config.run_dir.glob("*.pid")):
        name = pidfile.stem
        pid = processes.running_pid(config.run_dir, name)
        if pid:
            print(f"  {name:<24} {_rss_mib(pid):7.1f} MiB")
    pg_pid = _postmaster_pid(config)
    if pg_pid:
        print(f"  {'postgres (postmaster)':<24} {_rss_mib(pg_pid):7.1f} MiB")


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _postmaster_pid(config: StackConfig) -> int | None:
    pid_file = config.home / "postgres" / "data" / "postmaster.pid"
    try:
        return int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
