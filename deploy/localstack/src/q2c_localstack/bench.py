"""`make bench`: figures, not assertions (timed tests flake on shared machines).

1. Outbox relay: rows already committed in the outbox → acknowledged by Kafka, messages/s.
2. Quotations: SCM quotations created, then sent (the ownership round trip), until Sales has them.
3. Order to invoice: SCM orders created with lines, confirmed, delivered and invoiced, each
   order step by step and a bounded number of orders at once, until Sales has them Invoiced:
   orders/s end to end and p50/p99 of each step.
4. Feature-state, end to end through the running stack: commands published to
   `scm.feature.commands` → results read from `scm.command.results`: throughput and latency.
5. Sales quote lifecycles (issue 8), closed loop at several concurrencies, through the
   contract topics only: create, 3 lines, activate, win, each step waiting for the Sales write
   that answers it; lifecycles/s and p50/p99 per step. In the same run, the bound: a raw
   consume → transaction (inbox + outbox rows) → relay → publish (acks=all, idempotent) →
   offset commit chain, batched per partition, with the same libraries; and the ratio.
6. Resident memory of each process of the stack after the runs.
"""

import asyncio
import json
import math
import statistics
import time
from pathlib import Path
from typing import Any
from uuid import uuid4

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from q2c_contracts import features
from q2c_messaging.catalog import parse_catalog
from q2c_messaging.outbox import Outbox, OutboxRelay
from q2c_messaging.producer import make_producer
from q2c_messaging.runtime import MESSAGING_MIGRATIONS
from q2c_messaging.security import KafkaCredentials, security_kwargs
from q2c_observability import configure_logging
from q2c_persistence import apply_migrations, create_pool, load_migrations

from . import postgres, processes
from .config import StackConfig
from .kafka_security import BROKER, credentials
from .probe import TopicProbe

RELAY_MESSAGES = 50_000
COMMANDS = 3_000
ORDERS = 100
ORDER_CONCURRENCY = 10  # orders in flight at once, each one step after the other
ORDER_BENCH_LIMIT = 300.0  # seconds for the whole order run
INVOICED = 192350005  # msdyn_processingstatus (CONTRACT §2.1)
# Features the bench toggles: none of them changes how SCM-owned quotations flow, and each
# ends on its default (DOMAIN.md §3).
TOGGLED_FEATURES = (features.USE_MESSAGE_PROCESSOR, features.COPY_QUOTATION_DATA_TO_SALES_ORDERS)


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
    peak = await _bench_lifecycles(config)
    bound = await _bench_bound(config)
    per_lifecycle = LIFECYCLE_RECORDS
    print(f"\nsame-run bound: {bound:,.0f} hops/s ÷ {per_lifecycle} records per lifecycle = "
          f"{bound / per_lifecycle:,.1f} lifecycles/s; q2c peak {peak:,.1f} lifecycles/s = "
          f"{peak / (bound / per_lifecycle):.1%} of the bound")
    _report_memory(config)


async def _bench_relay(config: StackConfig) -> None:
    topic = f"bench.relay.{uuid4().hex[:8]}"
    database = f"q2c_bench_{uuid4().hex[:8]}"
    # bench.* topics and scratch databases: cluster-admin work, as the broker principal
    admin = AIOKafkaAdminClient(bootstrap_servers=config.kafka_bootstrap,
                                **security_kwargs(credentials(config, BROKER), from_env=False))
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

        relay = OutboxRelay(pool, lambda: make_producer(config.kafka_bootstrap, "bench-relay",
                                                       credentials(config, BROKER)), batch_size=500)
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
    names = list(TOGGLED_FEATURES)
    async with TopicProbe(config.kafka_bootstrap, ["scm.command.results"],
                          credentials=credentials(config, "scm-client")) as probe:
        commands = []
        for n in range(COMMANDS):
            name = names[n % len(names)]
            last_round = n >= COMMANDS - len(names)
            enabled = features.flag_default(name) if last_round else bool(n % 2)  # ends on the defaults
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
    async with TopicProbe(config.kafka_bootstrap, ["scm.command.results"],
                          credentials=credentials(config, "scm-client")) as probe:
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
    def command(type_: str, target: str | None, data: dict[str, Any] | None = None) -> dict[str, Any]:
        return {"command_id": str(uuid4()), "type": type_, "target": target,
                "user": {"name": "bench", "privileges": []}, "data": data or {}}

    async with TopicProbe(config.kafka_bootstrap, ["scm.command.results", "dataverse.quote.writes"],
                          credentials=credentials(config, "operator")) as probe:
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

    async with TopicProbe(config.kafka_bootstrap, ["scm.command.results", "dataverse.salesorder.writes"],
                          credentials=credentials(config, "operator")) as probe:
        async def step(topic: str, type_: str, target: str | None, data: dict[str, Any] | None = None) -> str:
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


# --- Sales quote lifecycles (issue 8) ------------------------------------------------------------

LIFECYCLE_CONCURRENCY = (1, 8, 32)
LIFECYCLE_SECONDS = 20.0  # per concurrency level
LIFECYCLE_RECORDS = 40  # records one lifecycle puts on Kafka (issue 8, counted from end offsets)
LIFECYCLE_STEPS = ["create", "line 1", "line 2", "line 3", "activate", "win"]
STATUS_CREATED, STATUS_SENT, STATUS_CONFIRMED = 192350000, 192350001, 192350002


class _SalesClient:
    """A Sales system that speaks only the contract: publishes row changes, and resolves a
    waiter when the write it waits for arrives (records are decoded once, routed by key)."""

    def __init__(self, bootstrap: str, login: KafkaCredentials | None) -> None:
        self._bootstrap = bootstrap
        self._login = login
        self._waiters: dict[str, list[tuple[Any, asyncio.Future[None]]]] = {}
        self._producer = make_producer(bootstrap, "bench-sales", login)
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> "_SalesClient":
        await self._producer.start()
        self._consumer = AIOKafkaConsumer(bootstrap_servers=self._bootstrap, enable_auto_commit=False,
                                          **security_kwargs(self._login))
        await self._consumer.start()
        topics = ["dataverse.quote.writes", "dataverse.quotedetail.writes", "dataverse.notifications"]
        await self._consumer._client.force_metadata_update()  # noqa: SLF001 - as TopicProbe does
        partitions = [TopicPartition(t, p) for t in topics for p in self._consumer.partitions_for_topic(t) or ()]
        self._consumer.assign(partitions)
        await self._consumer.seek_to_end(*partitions)
        for tp in partitions:
            await self._consumer.position(tp)
        self._task = asyncio.create_task(self._pump())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._consumer:
            await self._consumer.stop()
        await self._producer.stop()

    async def _pump(self) -> None:
        assert self._consumer
        while True:
            batches = await self._consumer.getmany(timeout_ms=100)
            for records in batches.values():
                for record in records:
                    key = record.key.decode() if record.key else ""
                    waiters = self._waiters.get(key)
                    if not waiters:
                        continue
                    value = json.loads(record.value)
                    if record.topic == "dataverse.notifications":
                        for _, future in waiters:
                            if not future.done():
                                future.set_exception(RuntimeError(f"refused: {value}"))
                        continue
                    for predicate, future in list(waiters):
                        if not future.done() and predicate(value):
                            future.set_result(None)
                            waiters.remove((predicate, future))

    async def step(self, table: str, key: str, wait_key: str, record: dict[str, Any],
                   operation: str, predicate: Any) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(wait_key, []).append((predicate, future))
        change = {"message_id": str(uuid4()), "table": table, "operation": operation, "occurred_at": _now(),
                  "user": "bench", "record": record}
        await self._producer.send_and_wait(f"dataverse.{table}.changes", json.dumps(change).encode(),
                                           key=record[f"{table}id"].encode())
        try:
            await asyncio.wait_for(future, 30)
        finally:
            waiters = self._waiters.get(wait_key, [])
            if (predicate, future) in waiters:
                waiters.remove((predicate, future))
            if not waiters:
                self._waiters.pop(wait_key, None)

    async def lifecycle(self, latencies: dict[str, list[float]]) -> None:
        number = f"B-{uuid4().hex[:10]}"
        quote_id = str(uuid4())

        def status(value: int) -> Any:
            return lambda w: w["record"].get("msdyn_salesquotationstatus") == value

        async def timed(name: str, *args: Any) -> None:
            started = time.perf_counter()
            await self.step(*args)
            latencies[name].append((time.perf_counter() - started) * 1000)

        await timed("create", "quote", quote_id, number, {
            "quoteid": quote_id, "msdyn_quotenumber": number, "name": "Bench PCs", "customerid": "US-001",
            "transactioncurrencyid": "USD", "statecode": 0, "statuscode": 1, "revisionnumber": 0},
            "create", status(STATUS_CREATED))
        for sequence in (1, 2, 3):
            line_id = str(uuid4())
            await timed(f"line {sequence}", "quotedetail", line_id, f"{number}/{sequence}", {
                "quotedetailid": line_id, "quoteid": quote_id, "msdyn_quotenumber": number,
                "sequencenumber": sequence, "productid": "PC-1", "quantity": "3", "priceperunit": "500.00",
                "manualdiscountamount": "10.00", "msdyn_shippingsite": "1", "msdyn_shippingwarehouse": "11"},
                "create", lambda w: True)
        update = {"quoteid": quote_id, "msdyn_quotenumber": number}
        await timed("activate", "quote", quote_id, number, {**update, "statecode": 1, "statuscode": 2},
                    "update", status(STATUS_SENT))
        await timed("win", "quote", quote_id, number, {**update, "statecode": 2, "statuscode": 4},
                    "update", status(STATUS_CONFIRMED))


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


async def _bench_lifecycles(config: StackConfig) -> float:
    """Closed loop: C Sales users, each running lifecycles one after the other for
    LIFECYCLE_SECONDS. Returns the peak lifecycles/s."""
    print(f"\nSales quote lifecycles (create, 3 lines, activate, win; each step waits for its Sales write), "
          f"{LIFECYCLE_SECONDS:.0f} s per concurrency:")
    peak = 0.0
    async with _SalesClient(config.kafka_bootstrap, credentials(config, "sales-connector")) as sales:
        await sales.lifecycle({step: [] for step in LIFECYCLE_STEPS})  # warm-up
        for concurrency in LIFECYCLE_CONCURRENCY:
            latencies: dict[str, list[float]] = {step: [] for step in LIFECYCLE_STEPS}
            started = time.perf_counter()
            done, failed = await _closed_loop(sales, concurrency, latencies, started + LIFECYCLE_SECONDS)
            rate = done / (time.perf_counter() - started)
            peak = max(peak, rate)
            steps = "  ".join(f"{name} {_percentile(v, 0.5):.0f}/{_percentile(v, 0.99):.0f}"
                              for name, v in latencies.items() if v)
            print(f"  C={concurrency:<3} {rate:6.1f} lifecycles/s ({done} done, {failed} failed); "
                  f"p50/p99 ms per step: {steps}")
    return peak


async def _closed_loop(sales: _SalesClient, concurrency: int, latencies: dict[str, list[float]],
                       deadline: float) -> tuple[int, int]:
    done = failed = 0

    async def user() -> None:
        nonlocal done, failed
        while time.perf_counter() < deadline:
            try:
                await sales.lifecycle(latencies)
                done += 1
            except (TimeoutError, RuntimeError):
                failed += 1

    await asyncio.gather(*(user() for _ in range(concurrency)))
    return done, failed


async def _bench_bound(config: StackConfig, hops: int = 20_000, partitions: int = 6) -> float:
    """The fastest this machine's Kafka and PostgreSQL carry `hops` records through the
    recipe's chain, batched: consume a poll (up to 500 records), one transaction per
    partition inserting inbox and outbox rows, the relay's read-and-delete of those rows,
    publish with acks=all on the idempotent producer, then one offset commit. Hops/s."""
    source, target = f"bench.bound.in.{uuid4().hex[:8]}", f"bench.bound.out.{uuid4().hex[:8]}"
    database = f"q2c_bound_{uuid4().hex[:8]}"
    # bench.* topics and scratch databases: cluster-admin work, as the broker principal
    admin = AIOKafkaAdminClient(bootstrap_servers=config.kafka_bootstrap,
                                **security_kwargs(credentials(config, BROKER), from_env=False))
    await admin.start()
    await admin.create_topics([NewTopic(source, partitions, 1), NewTopic(target, partitions, 1)])
    db_admin = await asyncpg.connect(postgres.admin_dsn(config))
    await db_admin.execute(f'CREATE DATABASE "{database}"')
    pool = await create_pool(postgres.admin_dsn(config, database))
    producer = make_producer(config.kafka_bootstrap, "bench-bound", credentials(config, BROKER))
    await producer.start()
    consumer = AIOKafkaConsumer(source, bootstrap_servers=config.kafka_bootstrap, group_id=f"bound-{uuid4().hex[:6]}",
                                **security_kwargs(credentials(config, BROKER), from_env=False),
                                enable_auto_commit=False, auto_offset_reset="earliest")
    try:
        await apply_migrations(pool, load_migrations("messaging", MESSAGING_MIGRATIONS))
        payload = json.dumps({"message_id": "x", "type": "bench.hop", "payload": {"n": 1}}).encode()
        sends = [await producer.send(source, payload, key=f"k-{n % 1000}".encode()) for n in range(hops)]
        await asyncio.gather(*sends)
        await consumer.start()

        async def one_partition(records: list[Any]) -> None:
            async with pool.acquire() as conn:
                async with conn.transaction():
                    await conn.execute("INSERT INTO inbox (consumer, message_id) SELECT 'bound', unnest($1::text[]) "
                                       "ON CONFLICT DO NOTHING", [f"{r.partition}/{r.offset}" for r in records])
                    await conn.execute("INSERT INTO outbox (topic, key, value) SELECT $1, unnest($2::text[]), "
                                       "unnest($3::bytea[])", target, [r.key.decode() for r in records],
                                       [r.value for r in records])
                async with conn.transaction():  # the relay
                    rows = await conn.fetch("SELECT id, key, value FROM outbox ORDER BY id LIMIT 500")
                    deliveries = [await producer.send(target, row["value"], key=row["key"].encode()) for row in rows]
                    await asyncio.gather(*deliveries)
                    await conn.execute("DELETE FROM outbox WHERE id = ANY($1::bigint[])", [r["id"] for r in rows])

        started = time.perf_counter()
        carried = 0
        while carried < hops:
            batches = await consumer.getmany(timeout_ms=1000, max_records=500)
            await asyncio.gather(*(one_partition(records) for records in batches.values()))
            await consumer.commit({tp: records[-1].offset + 1 for tp, records in batches.items()})
            carried += sum(len(records) for records in batches.values())
        elapsed = time.perf_counter() - started
        print(f"\nbound: {hops} hops (consume → inbox+outbox transaction → relay → publish acks=all → "
              f"offset commit), batches of ≤500, {partitions} partitions: {hops / elapsed:,.0f} hops/s")
        return hops / elapsed
    finally:
        await consumer.stop()
        await producer.stop()
        await pool.close()
        await db_admin.execute(f'DROP DATABASE "{database}" WITH (FORCE)')
        await db_admin.close()
        await admin.delete_topics([source, target])
        await admin.close()
