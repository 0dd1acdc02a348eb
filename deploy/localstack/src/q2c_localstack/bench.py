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
   that answers it; lifecycles/s and p50/p99 per step. Then an open loop at half of the peak:
   lifecycles started at random (Poisson) arrivals at that rate, whatever the earlier ones
   are doing, and the p99 of each step under that load. Then the messaging core alone, the
   floor under those figures: a chain of 5 services whose handlers do nothing
   (`hopfloor.Chain`), one message at a time, in an open loop at the same hop rate, and in a
   burst. In the same run, the bound: a raw
   consume → transaction (inbox + outbox rows) → relay → publish (acks=all, idempotent) →
   offset commit chain, batched per partition, with the same libraries; and the ratio.
6. Initial sync: `make admin ARGS=initial-sync` over 20,000 generated rows, from the command
   to the last write acknowledged by Kafka, rows/s.
7. Resident memory of each process of the stack after the runs.
8. Scale (issue 13): lifecycles/s at C=32 with 1 and with 2 replicas of every service on this
   machine, with the CPU each process used during each run; and the partitions per topic, the
   ceiling of busy consumers per group. The bench scales the running stack itself (replicas
   started, or stopped, with `stack.scale`) and leaves it at Q2C_REPLICAS afterwards.
   `make bench Q2C_BENCH_ONLY=scale` runs only this.

`make bench LONG=1` (LIFECYCLES=N, default 20,000) runs only the long memory run: lifecycles
at C=8 and each process's resident memory at start and end, with the growth.
`Q2C_BENCH_ONLY=volume make bench` runs only the count of records and bytes per lifecycle,
per topic (`q2c_localstack.volume`, docs/scaling.md).
`Q2C_BENCH_ONLY=hops make bench` runs lifecycles one at a time and prints, per hop (cause's
topic → effect's topic), the gaps between the records' timestamps (`q2c_localstack.hopgaps`).
`Q2C_BENCH_ONLY=lifecycles make bench` runs only the lifecycle load and the same-run bound
(`Q2C_BENCH_CONCURRENCY=1,8` only those concurrencies; `Q2C_BENCH_OPEN_RATE=60` the open loop
at 60 lifecycles/s instead of half of the peak).
"""

import asyncio
import dataclasses
import json
import math
import os
import resource
import statistics
import time
from pathlib import Path
from typing import Any
from uuid import uuid4

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from q2c_contracts import features
from q2c_messaging.catalog import load_catalog, parse_catalog
from q2c_messaging.failover import client_kwargs
from q2c_messaging.outbox import Outbox, OutboxRelay
from q2c_messaging.producer import make_producer
from q2c_messaging.runtime import MESSAGING_MIGRATIONS
from q2c_messaging.security import KafkaCredentials, security_kwargs
from q2c_messaging.settings import RuntimeSettings
from q2c_observability import configure_logging
from q2c_persistence import apply_migrations, create_pool, load_migrations

from . import postgres, processes, services, stack
from .arrivals import poisson_arrivals
from .config import StackConfig
from .hopfloor import BURST, CHAIN_HOPS, CHAIN_PARTITIONS, ONE_AT_A_TIME, STEP_HOPS, WARM_UP, Chain, cpu_per_hop
from .kafka_security import BROKER, credentials
from .probe import TopicProbe, groups_settled

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
    if os.environ.get("LONG", "") not in ("", "0"):  # make bench LONG=1 [LIFECYCLES=N]
        asyncio.run(_bench_long(config, int(os.environ.get("LIFECYCLES") or LONG_LIFECYCLES)))
    elif os.environ.get("Q2C_BENCH_ONLY") == "initial-sync":
        asyncio.run(_bench_initial_sync(config))
    elif os.environ.get("Q2C_BENCH_ONLY") == "scale":
        asyncio.run(_bench_scale(config))
    elif os.environ.get("Q2C_BENCH_ONLY") == "lifecycles":
        asyncio.run(_bench_lifecycles_and_bound(config))
    elif os.environ.get("Q2C_BENCH_ONLY") == "volume":  # records and bytes per lifecycle (docs/scaling.md)
        from .volume import run_volume

        asyncio.run(run_volume(config))
    elif os.environ.get("Q2C_BENCH_ONLY") == "hops":  # a step's time, hop by hop (docs/performance.md)
        from .hopgaps import run_hop_gaps

        asyncio.run(run_hop_gaps(config))
    else:
        asyncio.run(_bench(config))


async def _bench(config: StackConfig) -> None:
    print(f"q2c bench against {config.kafka_bootstrap} (2 cores shared by Kafka, PostgreSQL and the services)")
    await _bench_relay(config)
    # quotations first: the feature burst below keeps the consumers of scm.feature.events busy
    await _bench_quote_lifecycle(config)
    await _bench_order_to_invoice(config)
    await _bench_feature_commands(config)
    await _bench_initial_sync(config)
    await _bench_lifecycles_and_bound(config)
    _report_memory(config)
    await _bench_scale(config)


async def _bench_relay(config: StackConfig) -> None:
    topic = f"bench.relay.{uuid4().hex[:8]}"
    database = f"q2c_bench_{uuid4().hex[:8]}"
    # bench.* topics and scratch databases: cluster-admin work, as the broker principal
    admin = AIOKafkaAdminClient(bootstrap_servers=config.kafka_bootstrap,
                                **security_kwargs(credentials(config, BROKER), from_env=False))
    await admin.start()
    await admin.create_topics([NewTopic(topic, 6, config.replication_factor)])
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


def _step_figures(latencies: dict[str, list[float]]) -> str:
    """`create 12/23  line 1 11/20 ...`: each step's p50/p99 in ms."""
    return "  ".join(f"{name} {_percentile(v, 0.5):.0f}/{_percentile(v, 0.99):.0f}"
                     for name, v in latencies.items() if v)


def _slowest_p99(latencies: dict[str, list[float]]) -> float:
    """The p99 of the slowest step (what the issue's latency targets are about)."""
    return max((_percentile(v, 0.99) for v in latencies.values() if v), default=math.nan)


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

LIFECYCLE_CONCURRENCY = (1, 8, 16, 32, 64, 128, 256, 512)  # the peak still rose from 128 to 512
LIFECYCLE_SECONDS = 20.0  # per concurrency level, and for the open loop at half of the peak
# The open loop stops starting lifecycles when this many are in flight (the stack cannot keep
# up with the rate): the run then reports how many were held back, not a growing queue's p99.
OPEN_LOOP_IN_FLIGHT = 2_048
# records one lifecycle puts on Kafka, counted from end offsets (`Q2C_BENCH_ONLY=volume`): 40 in
# issue 8, 34 since the Sales-command answers carry refusals only (docs/decisions.md)
LIFECYCLE_RECORDS = 34
LIFECYCLE_STEPS = ["create", "line 1", "line 2", "line 3", "activate", "win"]
STATUS_CREATED, STATUS_SENT, STATUS_CONFIRMED = 192350000, 192350001, 192350002


class _SalesClient:
    """A Sales system that speaks only the contract: publishes row changes, and resolves a
    waiter when the write it waits for arrives (records are decoded once, routed by key)."""

    TOPICS = ["dataverse.quote.writes", "dataverse.quotedetail.writes", "dataverse.notifications"]

    def __init__(self, bootstrap: str, login: KafkaCredentials | None, *, topics: list[str] | None = None,
                 timeout: float = 30.0) -> None:
        self._bootstrap = bootstrap
        self._login = login
        self._topics = [*self.TOPICS, *(topics or [])]
        self.timeout = timeout  # per step
        self._waiters: dict[str, list[tuple[Any, asyncio.Future[Any]]]] = {}
        self._producer = make_producer(bootstrap, "bench-sales", login)
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        # (published, answered, topic) of every answered request, monotonic seconds: when a
        # step waited, for the failover and soak figures (a stall is matched to its kill)
        self.spans: list[tuple[float, float, str]] = []

    async def __aenter__(self) -> "_SalesClient":
        await self._producer.start()
        self._consumer = AIOKafkaConsumer(bootstrap_servers=self._bootstrap, enable_auto_commit=False,
                                          **client_kwargs(), **security_kwargs(self._login))
        await self._consumer.start()
        await self._consumer._client.force_metadata_update()  # noqa: SLF001 - as TopicProbe does
        partitions = [TopicPartition(t, p) for t in self._topics for p in self._consumer.partitions_for_topic(t) or ()]
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
            try:
                batches = await self._consumer.getmany(timeout_ms=100)
            except KafkaError:
                # The broker away (killed by `make soak`, say): read on once it is back. Ending
                # here would leave every waiting step unanswered, as if its write were lost.
                await asyncio.sleep(0.5)
                continue
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
                            future.set_result(value)
                            waiters.remove((predicate, future))

    async def step(self, table: str, key: str, wait_key: str, record: dict[str, Any],
                   operation: str, predicate: Any) -> None:
        change = {"message_id": str(uuid4()), "table": table, "operation": operation, "occurred_at": _now(),
                  "user": "bench", "record": record}
        await self.request(f"dataverse.{table}.changes", record[f"{table}id"], change, wait_key, predicate)

    async def request(self, topic: str, key: str, value: dict[str, Any], wait_key: str, predicate: Any) -> Any:
        """Publish `value`, then wait for the first record under `wait_key` that `predicate`
        accepts (a notification under it raises RuntimeError); returns that record's value."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(wait_key, []).append((predicate, future))
        started = time.monotonic()
        try:
            await self.publish(topic, key, value)
            answer = await asyncio.wait_for(future, self.timeout)
            self.spans.append((started, time.monotonic(), topic))
            return answer
        finally:
            waiters = self._waiters.get(wait_key, [])
            if (predicate, future) in waiters:
                waiters.remove((predicate, future))
            if not waiters:
                self._waiters.pop(wait_key, None)

    async def publish(self, topic: str, key: str, value: dict[str, Any]) -> None:
        """Publish until the broker has it: a broker away (restarting, say) is waited out,
        up to the step timeout; sending again is safe, the message id is the same."""
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                await self._producer.send_and_wait(topic, json.dumps(value).encode(), key=key.encode())
                return
            except KafkaError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)

    async def lifecycle(self, latencies: dict[str, list[float]]) -> str:
        """One Sales quote lifecycle; returns the quote number."""
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
        return number


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


async def _bench_lifecycles_and_bound(config: StackConfig) -> None:
    """The lifecycle load, the messaging core's floor, then the same-run bound and the shares of
    it (`Q2C_BENCH_ONLY=lifecycles` runs only this)."""
    peak, open_rate = await _bench_lifecycles(config)
    core = await _bench_core_floor(config, open_rate)
    bound = await _bench_bound(config)
    per_lifecycle = LIFECYCLE_RECORDS
    print(f"\nsame-run bound: {bound:,.0f} hops/s ÷ {per_lifecycle} records per lifecycle = "
          f"{bound / per_lifecycle:,.1f} lifecycles/s; q2c peak {peak:,.1f} lifecycles/s = "
          f"{peak / (bound / per_lifecycle):.1%} of the bound; the messaging core alone "
          f"({CHAIN_HOPS} services whose handlers do nothing) {core:,.0f} hops/s = {core / bound:.1%} of it")


async def _bench_core_floor(config: StackConfig, open_rate: float) -> float:
    """The messaging core alone, a chain of services whose handlers only write their answer
    (`hopfloor.Chain`): the floor under the lifecycle figures. Returns its hops/s in a burst."""
    print(f"\nthe messaging core alone: {CHAIN_HOPS} services in a chain whose handlers only write their answer, "
          f"each its own process and database ({CHAIN_HOPS} service hops; a lifecycle step takes "
          f"{', '.join(f'{hops} ({step})' for step, hops in STEP_HOPS.items())})")
    async with Chain(config) as chain:
        def cpu() -> dict[str, float]:
            used = _cpu_by_process(config)
            return {"kafka": used.get("kafka", 0.0), "postgres": used.get("postgres", 0.0),
                    "the chain's services": sum(_cpu_seconds(pid) for pid in chain.pids)}

        before = cpu()
        latencies = await chain.one_at_a_time()
        print(f"  one message at a time ({ONE_AT_A_TIME}, client publish and fetch included): "
              f"p50 {_percentile(latencies, 0.5):.1f} ms, p90 {_percentile(latencies, 0.9):.1f}, "
              f"p99 {_percentile(latencies, 0.99):.1f} ms (the target for a real {CHAIN_HOPS}-hop step: p99 <= 25 ms)")
        print("    " + cpu_per_hop(before, cpu(), (WARM_UP + ONE_AT_A_TIME) * CHAIN_HOPS))
        if open_rate:
            hop_rate = open_rate * LIFECYCLE_RECORDS
            before, started = cpu(), time.perf_counter()
            latencies = await chain.open_loop(hop_rate, LIFECYCLE_SECONDS)
            busy = (sum(cpu().values()) - sum(before.values())) / (time.perf_counter() - started)
            print(f"  open loop at {hop_rate:,.0f} hops/s ({open_rate:.1f} lifecycles/s × {LIFECYCLE_RECORDS} "
                  f"records), arrivals at random, {LIFECYCLE_SECONDS:.0f} s: p50 {_percentile(latencies, 0.5):.0f} ms, "
                  f"p99 {_percentile(latencies, 0.99):.0f} ms (the target for a real step at half of peak: "
                  f"p99 <= 100 ms)")
            print("    " + cpu_per_hop(before, cpu(), len(latencies) * CHAIN_HOPS)
                  + f"; {busy:.1f} of the machine's {os.cpu_count()} cores busy")
        hops_per_second = await chain.burst()
        print(f"  {BURST:,} messages at once, over {CHAIN_PARTITIONS} partitions: {hops_per_second:,.0f} hops/s")
    return hops_per_second


async def _bench_lifecycles(config: StackConfig) -> tuple[float, float]:
    """Closed loop: C Sales users, each running lifecycles one after the other for
    LIFECYCLE_SECONDS, then the open loop. Returns the peak lifecycles/s and the open loop's
    rate (0 without one)."""
    print(f"\nSales quote lifecycles (create, 3 lines, activate, win; each step waits for its Sales write), "
          f"{LIFECYCLE_SECONDS:.0f} s per concurrency:")
    peak = 0.0
    runs: list[tuple[int, float, float]] = []  # (C, lifecycles/s, p99 of its slowest step)
    async with _SalesClient(config.kafka_bootstrap, credentials(config, "sales-connector")) as sales:
        await sales.lifecycle({step: [] for step in LIFECYCLE_STEPS})  # warm-up
        # Q2C_BENCH_CONCURRENCY=1,8 runs only those (a quick look at one setting's latency)
        levels = os.environ.get("Q2C_BENCH_CONCURRENCY")
        for concurrency in (tuple(int(c) for c in levels.split(",")) if levels else LIFECYCLE_CONCURRENCY):
            latencies: dict[str, list[float]] = {step: [] for step in LIFECYCLE_STEPS}
            cpu_before = _cpu_by_process(config)
            started = time.perf_counter()
            done, failed = await _closed_loop(sales, concurrency, latencies, started + LIFECYCLE_SECONDS)
            rate = done / (time.perf_counter() - started)
            peak = max(peak, rate)
            steps = _step_figures(latencies)
            print(f"  C={concurrency:<3} {rate:6.1f} lifecycles/s ({done} done, {failed} failed); "
                  f"p50/p99 ms per step: {steps}")
            if done:
                print("         " + _cpu_per_lifecycle(cpu_before, _cpu_by_process(config), done))
            runs.append((concurrency, rate, _slowest_p99(latencies)))
        # "Half of peak load" is a rate. In a closed loop the load follows the latency (C users
        # wait for their answers), so the rate comes from open-loop arrivals at half the peak.
        # Q2C_BENCH_OPEN_RATE=R runs the open loop at R lifecycles/s instead (the p99 at a load
        # of one's own); with one concurrency level and no rate, there is no open loop.
        given_rate = float(os.environ.get("Q2C_BENCH_OPEN_RATE") or 0)
        open_rate = given_rate or (peak / 2 if len(runs) > 1 else 0)
        open_p99 = await _report_open_loop(config, sales, open_rate) if open_rate else None
    # The latency targets, against the runs above.
    c1 = next((r for r in runs if r[0] == 1), None)
    half = min(runs, key=lambda r: abs(r[1] - peak / 2))
    if c1:
        print(f"  p99 of the slowest step at C=1: {c1[2]:.0f} ms (target <= 25 ms)")
    if open_p99 is not None:
        print(f"  p99 of the slowest step at {'the given rate' if given_rate else 'half of peak'} "
              f"(open loop, {open_rate:.1f} lifecycles/s): {open_p99:.0f} ms (target <= 100 ms at half of peak)")
    print(f"  p99 of the slowest step in the closed loop whose rate is nearest half of peak "
          f"(C={half[0]}, {half[1]:.1f} lifecycles/s): {half[2]:.0f} ms")
    return peak, open_rate


async def _report_open_loop(config: StackConfig, sales: "_SalesClient", rate: float) -> float:
    """Run and print the open loop at `rate`; return the p99 of its slowest step."""
    latencies: dict[str, list[float]] = {step: [] for step in LIFECYCLE_STEPS}
    cpu_before = _cpu_by_process(config)
    started = time.perf_counter()
    done, failed, held = await _open_loop(sales, rate, latencies, LIFECYCLE_SECONDS)
    achieved = done / (time.perf_counter() - started)
    steps = _step_figures(latencies)
    print(f"  open loop, lifecycles started at {rate:.1f}/s (random arrivals) for {LIFECYCLE_SECONDS:.0f} s: "
          f"{achieved:.1f} lifecycles/s ({done} done, {failed} failed, {held} not started: too many in flight); "
          f"p50/p99 ms per step: {steps}")
    if done:
        print("         " + _cpu_per_lifecycle(cpu_before, _cpu_by_process(config), done))
    return _slowest_p99(latencies)


async def _open_loop(sales: "_SalesClient", rate: float, latencies: dict[str, list[float]],
                     seconds: float) -> tuple[int, int, int]:
    """Lifecycles started at Poisson arrivals of `rate` per second for `seconds`, each running
    its steps one after the other, independently of the others: the load does not fall when
    the stack slows down, as it does in a closed loop. Returns (done, failed, held back)."""
    done = failed = held = 0
    tasks: set[asyncio.Task[None]] = set()

    async def one() -> None:
        nonlocal done, failed
        try:
            await sales.lifecycle(latencies)
            done += 1
        except (TimeoutError, RuntimeError):
            failed += 1

    async for _ in poisson_arrivals(rate, seconds):
        if len(tasks) >= OPEN_LOOP_IN_FLIGHT:
            held += 1
        else:
            task = asyncio.create_task(one())
            tasks.add(task)
            task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.gather(*tasks)
    return done, failed, held


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
    await admin.create_topics([NewTopic(source, partitions, config.replication_factor),
                               NewTopic(target, partitions, config.replication_factor)])
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


# --- initial sync (issue 8) ----------------------------------------------------------------------

INITIAL_SYNC_QUOTATIONS = 2_000
INITIAL_SYNC_LINES = 9  # per quotation: 2,000 × (1 header + 9 lines) = 20,000 generated rows


def _generated_quotation(number: str) -> dict[str, Any]:
    """A quotation as `scm.quote.events` carries it (CONTRACT §4.3), with its lines."""
    return {
        "SALESQUOTATIONNUMBER": number, "SALESQUOTATIONSTATUS": "sent",
        "SALESQUOTATIONHEADERCREATIONMETHOD": "SCM", "SALESQUOTATIONOWNERSHIP": "BasedOnOrigin",
        "SALESQUOTATIONNAME": "Generated", "REQUESTINGCUSTOMERACCOUNTNUMBER": "US-001", "CURRENCYCODE": "USD",
        "REQUESTEDSHIPPINGDATE": None, "GENERATEDSALESORDERNUMBER": None, "journals": [],
        "lines": [{"LINECREATIONSEQUENCENUMBER": n, "PRODUCTNUMBER": "PC-1", "REQUESTEDSALESQUANTITY": "3",
                   "SALESPRICE": "500.00", "LINEDISCOUNTAMOUNT": "3.33", "TOTALCHARGESAMOUNT": "-0.01",
                   "SHIPPINGSITEID": "1", "SHIPPINGWAREHOUSEID": "11", "LINEAMOUNT": "1490.00",
                   "SALESQUOTATIONSTATUS": "sent"} for n in range(1, INITIAL_SYNC_LINES + 1)],
    }


async def _bench_initial_sync(config: StackConfig, quotations: int = INITIAL_SYNC_QUOTATIONS) -> None:
    """`make admin ARGS=initial-sync` over a generated data set: quotations put straight into
    the adapter's copy of SCM (as if SCM had published them), then the admin command run as a
    process; timed from the command to the adapter's outbox empty, i.e. every write it decided
    acknowledged by Kafka (the relay deletes a row once the broker has it). The generated
    documents and mirrors are removed afterwards (their writes stay on the topics)."""
    [adapter] = [s for s in config.services if s.name == "dual-write-adapter"]
    conn = await asyncpg.connect(postgres.admin_dsn(config, adapter.database))
    prefix = f"GEN-{uuid4().hex[:6]}-"
    try:
        await conn.executemany(
            "INSERT INTO scm_document (topic, number, version, document) VALUES ('scm.quote.events', $1, 1, $2)",
            [(f"{prefix}{n:05d}", json.dumps(_generated_quotation(f"{prefix}{n:05d}"))) for n in range(quotations)])
        documents = await conn.fetchval("SELECT count(*) FROM scm_document WHERE NOT deleted")
        command, env = services.admin_command(config, ["initial-sync"])
        cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        process = await asyncio.create_subprocess_exec(*command, env=env, stdout=asyncio.subprocess.PIPE)
        output, _ = await process.communicate()
        decided = time.perf_counter() - started
        cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = cpu_after.ru_utime + cpu_after.ru_stime - cpu_before.ru_utime - cpu_before.ru_stime
        while await conn.fetchval("SELECT count(*) FROM outbox WHERE parked_at IS NULL"):  # noqa: ASYNC110
            await asyncio.sleep(0.02)  # polling the fact: the relay deletes what Kafka acknowledged
        elapsed = time.perf_counter() - started
        summary = output.decode().rsplit("\r", 1)[-1].strip()
        rows = sum(int(part.split()[-1]) for part in summary.split(": ", 1)[-1].split(", ") if part)
        print(f"\ninitial sync: {documents:,} SCM documents ({quotations:,} generated quotations with "
              f"{INITIAL_SYNC_LINES} lines), {rows:,} rows written to Sales (exit status {process.returncode})")
        print(f"  {rows / elapsed:,.0f} rows/s from the command to the last write acknowledged by Kafka "
              f"({elapsed:.2f} s; the command itself {decided:.2f} s, of which {cpu:.2f} s of CPU: "
              f"{rows / cpu:,.0f} rows per CPU second, which a loaded machine does not dilute)")
    finally:
        await conn.execute("DELETE FROM map_applied WHERE number LIKE $1", prefix + "%")
        await conn.execute("DELETE FROM scm_document WHERE number LIKE $1", prefix + "%")
        await conn.execute("DELETE FROM sales_row WHERE alt_key LIKE $1", prefix + "%")
        await conn.close()


# --- long memory run (issue 8) -------------------------------------------------------------------

LONG_LIFECYCLES = 20_000
LONG_CONCURRENCY = 8


def _stack_pids(config: StackConfig) -> list[tuple[str, int]]:
    """(name, pid) of every running process with a pid file: Kafka node(s), service replicas."""
    running = [(f.stem, processes.running_pid(config.run_dir, f.stem)) for f in sorted(config.run_dir.glob("*.pid"))]
    return [(name, pid) for name, pid in running if pid]


def _rss_by_process(config: StackConfig) -> dict[str, float]:
    found = {name: _rss_mib(pid) for name, pid in _stack_pids(config)}
    pg_pid = _postmaster_pid(config)
    if pg_pid:
        found["postgres (postmaster)"] = _rss_mib(pg_pid)
    return found


async def _bench_long(config: StackConfig, lifecycles: int) -> None:
    """LIFECYCLES (default 20,000) Sales quote lifecycles at C=8, and each process's resident
    memory at start (after a warm-up of 200, so start-up allocation is not counted as growth)
    and at the end."""
    print(f"\nlong run: {lifecycles:,} Sales quote lifecycles at C={LONG_CONCURRENCY}, resident memory per process")
    async with _SalesClient(config.kafka_bootstrap, credentials(config, "sales-connector"), timeout=120) as sales:
        latencies: dict[str, list[float]] = {step: [] for step in LIFECYCLE_STEPS}
        await _run_lifecycles(sales, min(200, lifecycles // 10), latencies)
        before = _rss_by_process(config)
        started = time.perf_counter()
        done, failed = await _run_lifecycles(sales, lifecycles, latencies, progress=True)
        elapsed = time.perf_counter() - started
    after = _rss_by_process(config)
    print(f"\r  {done:,} done, {failed} failed in {elapsed:.0f} s ({done / elapsed:.1f} lifecycles/s)")
    print(f"  {'process':<28} {'start MiB':>10} {'end MiB':>10} {'growth':>8}")
    for name in sorted(before.keys() & after.keys()):
        growth = after[name] / before[name] - 1 if before[name] else 0.0
        flag = "  > 10 %" if growth > 0.10 else ""
        print(f"  {name:<28} {before[name]:10.1f} {after[name]:10.1f} {growth:8.1%}{flag}")


async def _run_lifecycles(sales: _SalesClient, count: int, latencies: dict[str, list[float]],
                          progress: bool = False) -> tuple[int, int]:
    """`count` lifecycles, LONG_CONCURRENCY at a time."""
    remaining = count
    done = failed = 0

    async def user() -> None:
        nonlocal remaining, done, failed
        while remaining > 0:
            remaining -= 1
            try:
                await sales.lifecycle(latencies)
                done += 1
            except (TimeoutError, RuntimeError):
                failed += 1
            if progress and (done + failed) % 500 == 0:
                print(f"\r  {done + failed:,}/{count:,}", end="", flush=True)

    await asyncio.gather(*(user() for _ in range(LONG_CONCURRENCY)))
    return done, failed


# --- scale: replicas (issue 13) ------------------------------------------------------------------

SCALE_CONCURRENCY = 32
SCALE_SECONDS = 20.0
SCALE_REPLICAS = (1, 2)
_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int, children: bool = False) -> float:
    """utime + stime of a process (all its threads), and with `children` what its reaped
    children used (the postmaster's exited backends): /proc/<pid>/stat fields 14-17."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    used = int(fields[11]) + int(fields[12]) + (int(fields[13]) + int(fields[14]) if children else 0)
    return used / _TICKS


def _children(parent: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == parent:
                found.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return found


def _cpu_by_process(config: StackConfig) -> dict[str, float]:
    """CPU seconds used so far by each process of the stack: the broker, each service replica
    (pid files), PostgreSQL (the postmaster, its live backends and those it has reaped)."""
    used = {name: _cpu_seconds(pid) for name, pid in _stack_pids(config)}
    postmaster = _postmaster_pid(config)
    if postmaster:
        used["postgres"] = _cpu_seconds(postmaster, children=True) + sum(
            _cpu_seconds(child) for child in _children(postmaster))
    self_use = resource.getrusage(resource.RUSAGE_SELF)
    used["bench (load, this process)"] = self_use.ru_utime + self_use.ru_stime
    return used


def _cpu_per_lifecycle(before: dict[str, float], after: dict[str, float], lifecycles: int) -> str:
    """The CPU each process of the stack used over a run, per lifecycle done. Steadier than
    lifecycles/s on a shared machine: other work slows the loop but adds nothing here. The
    stack's idle use (about a third of a core here: docs/performance.md) is counted in, so it
    weighs most at low concurrency."""
    used = {name.split(" ")[0].removeprefix("service-"): (after[name] - before.get(name, 0.0)) * 1000 / lifecycles
            for name in after}
    total = sum(v for name, v in used.items() if name != "bench")
    return ("CPU per lifecycle: " + ", ".join(f"{name} {ms:.1f}" for name, ms in
                                              sorted(used.items(), key=lambda kv: -kv[1]) if ms >= 0.05)
            + f" ms; the stack {total:.1f} ms")


def print_partition_ceilings(config: StackConfig, workers: int | None = None) -> None:
    """Partitions per topic (the catalog) as the ceiling of busy consumers per group: a
    partition has one consumer of a group at a time, and each service process runs
    min(Q2C_CONSUMER_WORKERS, most partitions of its topics) consumers, so replicas × workers
    beyond a topic's partitions leave consumers idle on it."""
    default = RuntimeSettings.model_fields["consumer_workers"].default
    workers = workers or int(os.environ.get("Q2C_CONSUMER_WORKERS") or default)
    catalog = load_catalog(config.topic_catalog)
    print("\npartitions per topic (deploy/kafka/topics.yaml) and the groups that read it:")
    for spec in sorted(catalog, key=lambda t: t.name):
        if spec.consumers and not spec.dead_letter:
            print(f"  {spec.name:<48} {spec.partitions:>2}  {', '.join(sorted(spec.consumers))}")
    print(f"ceiling of useful replicas per service (Q2C_CONSUMER_WORKERS={workers} consumers per process):")
    for service in config.services:
        counts = sorted({t.partitions for t in catalog if service.name in t.consumers and not t.dead_letter})
        if not counts:
            continue
        most, per_process = counts[-1], min(workers, counts[-1])
        useful = math.ceil(most / per_process)
        fewest = counts[0]
        print(f"  {service.name:<20} topics of {'/'.join(map(str, counts))} partitions: at most {most} busy "
              f"consumers = {useful} replica(s) × {per_process}; beyond that consumers idle"
              + (f" (on its {fewest}-partition topics beyond {math.ceil(fewest / per_process)})"
                 if fewest < most else ""))


async def _bench_scale(config: StackConfig) -> None:
    print(f"\nscale: Sales quote lifecycles at C={SCALE_CONCURRENCY}, {SCALE_SECONDS:.0f} s per run, with "
          f"{' and '.join(map(str, SCALE_REPLICAS))} replica(s) of every service on this machine "
          f"({os.cpu_count()} cores, shared with whatever else runs on it); CPU seconds per process in each run")
    operator = credentials(config, "operator")
    rates = {}
    try:
        for replicas in SCALE_REPLICAS:
            scaled = dataclasses.replace(config, replicas=replicas)
            await asyncio.to_thread(stack.scale, scaled, lambda _: None)
            await groups_settled(scaled, operator)
            async with _SalesClient(config.kafka_bootstrap, credentials(config, "sales-connector")) as sales:
                warm: dict[str, list[float]] = {step: [] for step in LIFECYCLE_STEPS}
                await asyncio.gather(*(sales.lifecycle(warm) for _ in range(SCALE_CONCURRENCY)))  # warm-up
                latencies: dict[str, list[float]] = {step: [] for step in LIFECYCLE_STEPS}
                load = os.getloadavg()[0]  # other work on the machine: the figures are only as good as it lets them
                before = _cpu_by_process(scaled)
                started = time.perf_counter()
                done, failed = await _closed_loop(sales, SCALE_CONCURRENCY, latencies, started + SCALE_SECONDS)
                elapsed = time.perf_counter() - started
                after = _cpu_by_process(scaled)
            rates[replicas] = done / elapsed
            steps = _step_figures(latencies)
            print(f"  replicas={replicas}: {rates[replicas]:6.1f} lifecycles/s ({done} done, {failed} failed; "
                  f"machine load average {load:.1f} at the start); p50/p99 ms per step: {steps}")
            used = {name: after[name] - before.get(name, 0.0) for name in after}
            total = sum(used.values())
            print(f"    CPU in {elapsed:.1f} s: {total:.1f} s in all = {total / elapsed:.2f} cores of "
                  f"{os.cpu_count()}; per process (s, share of one core):")
            for name, seconds in sorted(used.items(), key=lambda kv: -kv[1]):
                print(f"      {name:<34} {seconds:6.1f} s {seconds / elapsed:6.0%}")
    finally:
        await asyncio.to_thread(stack.scale, config, lambda _: None)  # back to Q2C_REPLICAS
    if len(rates) == len(SCALE_REPLICAS):
        print(f"  2 replicas / 1 replica: {rates[2] / rates[1]:.2f}× "
              f"(one machine: the replicas share its cores with the broker and PostgreSQL)")
    print_partition_ceilings(config)
