"""`make soak` (`python -m q2c_localstack soak [SECONDS]`): the chaos soak of issue 8.

For SECONDS (default 600) Sales users run quote lifecycles through the contract topics (the
bench's client: create, 3 lines, activate, win, each step waiting for its Sales write), and a
share of the won quotations become Sales orders that an SCM user confirms, delivers and
invoices (docs/contract.md §1.1, §4.1). Meanwhile one process of the stack is SIGKILLed at random at
least every KILL_EVERY seconds (every service, each of its replicas with Q2C_REPLICAS > 1, now
and then the broker or PostgreSQL) and
restarted as `make up` would. Afterwards, once the stack is quiet, the checks (figures, each
with the offenders): every lifecycle completed or was refused with its notification; one
quotation journal and one confirmation journal per won quotation; the last Sales write of
every document equals SCM's state; no dead letter; no duplicate effect (one event per
document version, one result per command, one invoice per post, one notification per refused
change). Then the replay check: every service stopped, every consumer group reset to offset 0,
the services started again; once they have read everything again no topic has a new record
and every database hashes the same. Exit status 1 on any failure.

See docs/performance.md (chaos soak)."""

import asyncio
import os
import random
import time
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from uuid import uuid4

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from q2c_contracts.topics import DLQ_SUFFIX
from q2c_messaging.failover import client_kwargs
from q2c_messaging.security import KafkaCredentials, security_kwargs
from q2c_observability import configure_logging

from . import kafka, kafka_security, postgres, services, stack
from .bench import LIFECYCLE_STEPS, _now, _percentile, _SalesClient
from .config import StackConfig
from .failover import stall
from .probe import Record

SECONDS = 600.0
KILL_EVERY = 12.0  # at most this long between two kills
USERS = 4  # concurrent Sales users: about half of the peak lifecycle rate on 2 cores (docs/performance.md)
ORDER_SHARE = 4  # every 4th won quotation becomes a Sales order, invoiced in SCM
STEP_TIMEOUT = 600.0  # a step may wait out broker restarts (up to 150 s on a loaded 2-core machine) and the catch-up
QUIET_TIMEOUT = 300.0
INVOICED = 192350005  # msdyn_processingstatus (CONTRACT §2.1)
QUOTE_STATUS = {"created": 192350000, "sent": 192350001, "confirmed": 192350002, "lost": 192350003,
                "cancelled": 192350004, "revised": 192350009}  # quotation-status value map
ORDER_STEPS = ["order create", "order.confirm", "order.deliver", "invoice.post", "Sales invoiced"]
CHECK_TOPICS = ["scm.quote.events", "scm.order.events", "scm.invoice.events", "scm.command.results",
                "dataverse.quote.writes", "dataverse.quotedetail.writes", "dataverse.salesorder.writes",
                "dataverse.notifications"]


# --- the load ------------------------------------------------------------------------------------

@dataclass
class Tally:
    """What the clients started and how it ended, as they saw it."""

    started: int = 0
    completed: int = 0
    refused: list[str] = field(default_factory=list)  # quote numbers refused with a notification
    lost: list[tuple[str, str]] = field(default_factory=list)  # (what, why)
    won: list[str] = field(default_factory=list)
    orders_started: int = 0
    orders: dict[str, str] = field(default_factory=dict)  # invoiced order number -> its quotation
    commands: list[str] = field(default_factory=list)  # SCM command ids sent
    latencies: dict[str, list[float]] = field(
        default_factory=lambda: {step: [] for step in [*LIFECYCLE_STEPS, *ORDER_STEPS]})


class _SoakClient(_SalesClient):
    """The bench's Sales client, plus an SCM user and the order topics."""

    def __init__(self, bootstrap: str, login: KafkaCredentials | None) -> None:
        super().__init__(bootstrap, login, timeout=STEP_TIMEOUT,
                         topics=["scm.command.results", "dataverse.salesorder.writes",
                                 "dataverse.salesorderdetail.writes"])

    async def timed(self, tally: Tally, name: str, call: Any) -> Any:
        started = time.perf_counter()
        result = await call
        tally.latencies[name].append((time.perf_counter() - started) * 1000)
        return result

    async def scm(self, tally: Tally, topic: str, type_: str, target: str, data: dict[str, Any]) -> None:
        command = {"command_id": str(uuid4()), "type": type_, "issued_at": _now(), "target": target,
                   "user": {"name": "soak", "privileges": []}, "data": data}
        tally.commands.append(command["command_id"])
        result = await self.timed(tally, type_, self.request(topic, target, command, command["command_id"],
                                                             lambda r: True))
        if result["outcome"] != "accepted":
            raise RuntimeError(f"refused: {type_} {target}: {result}")

    async def order(self, tally: Tally, quotation: str) -> None:
        """A Sales order for a won quotation, then confirmed, delivered and invoiced in SCM,
        until Sales has it Invoiced."""
        number, order_id, line_id = f"SO-{uuid4().hex[:10]}", str(uuid4()), str(uuid4())
        tally.orders_started += 1

        def change(table: str, record: dict[str, Any]) -> dict[str, Any]:
            return {"message_id": str(uuid4()), "table": table, "operation": "create", "occurred_at": _now(),
                    "user": "soak", "record": record}

        await self.publish("dataverse.salesorder.changes", order_id, change("salesorder", {
            "salesorderid": order_id, "msdyn_salesordernumber": number, "msdyn_quotationnumber": quotation,
            "customerid": "US-001", "transactioncurrencyid": "USD", "ownerid": "soak", "statecode": 0,
            "statuscode": 1}))
        await self.timed(tally, "order create", self.request(
            "dataverse.salesorderdetail.changes", line_id, change("salesorderdetail", {
                "salesorderdetailid": line_id, "salesorderid": order_id, "msdyn_salesordernumber": number,
                "sequencenumber": 1, "productid": "PC-1", "quantity": "3", "priceperunit": "500.00",
                "manualdiscountamount": "10.00"}),
            f"{number}/1", lambda w: True))
        all_of_it = [{"sequence_number": 1, "quantity": "3"}]
        await self.scm(tally, "scm.order.commands", "order.confirm", number, {})
        await self.scm(tally, "scm.order.commands", "order.deliver", number, {"lines": all_of_it})
        invoiced = self.wait_for_key(number, lambda w: w["record"].get("msdyn_processingstatus") == INVOICED)
        started = time.perf_counter()
        await self.scm(tally, "scm.invoice.commands", "invoice.post", number,
                       {"sales_order_number": number, "lines": all_of_it})
        await asyncio.wait_for(invoiced, self.timeout)
        tally.latencies["Sales invoiced"].append((time.perf_counter() - started) * 1000)
        tally.orders[number] = quotation

    def wait_for_key(self, key: str, predicate: Any) -> "asyncio.Future[Any]":
        """Registered now, awaited later: a write that answers an earlier step is not missed."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(key, []).append((predicate, future))
        return future


async def _users(client: _SoakClient, users: int, until: float, tally: Tally) -> None:
    async def user(n: int) -> None:
        while time.monotonic() < until:
            tally.started += 1
            number = "?"
            try:
                number = await client.lifecycle(tally.latencies)
                tally.completed += 1
                tally.won.append(number)
            except RuntimeError as exc:  # a notification answered a step
                tally.refused.append(str(exc))
                continue
            except (TimeoutError, OSError) as exc:
                tally.lost.append((f"lifecycle {number}", repr(exc)))
                continue
            if len(tally.won) % ORDER_SHARE == 0:
                try:
                    await client.order(tally, number)
                except (RuntimeError, TimeoutError, OSError) as exc:
                    tally.lost.append((f"order of {number}", repr(exc)))

    await asyncio.gather(*(user(n) for n in range(users)))


# --- the chaos -----------------------------------------------------------------------------------

@dataclass
class Chaos:
    config: StackConfig
    rng: random.Random
    kills: list[tuple[float, str]] = field(default_factory=list)  # (seconds into the soak, process)
    killed_at: list[float] = field(default_factory=list)  # monotonic, beside `kills`: stalls are matched to them
    restarts: list[float] = field(default_factory=list)  # seconds from a kill to ready again
    restart_failures: list[str] = field(default_factory=list)
    _restarting: dict[str, "asyncio.Task[None]"] = field(default_factory=dict)
    # Restarts wait on their own threads: one per process at most, so a pile of restarts
    # waiting for the broker never holds back a kill (asyncio's default pool has only a few).
    _threads: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(max_workers=32))

    async def victim(self) -> str | None:
        """Services mostly; a broker on the 2nd kill (on a cluster: the active controller) and
        PostgreSQL on the 4th (so even a short soak has both), then servers about one kill in
        four. Never one still restarting. On a cluster a broker dies only while its peers are
        all up and every partition fully replicated: one node at a time is what three nodes
        survive without a stop (two down = fewer than min.insync.replicas)."""
        up = [n for n in stack.process_names(self.config) if n not in self._restarting]
        nodes = {node.name for node in kafka.nodes(self.config)}
        if len(nodes) > 1 and (len(nodes & set(up)) < len(nodes) or await _under_replicated(self.config)):
            up = [n for n in up if n not in nodes]
        servers = [n for n in up if not n.startswith("service-")]
        controller = kafka.active_controller(self.config)
        wanted = {1: controller.name if controller else kafka.NAME, 3: postgres.NAME}.get(len(self.kills))
        if wanted in up:
            return wanted
        if servers and self.rng.random() < 0.25:
            return self.rng.choice(servers)
        apps = [n for n in up if n.startswith("service-")]
        return self.rng.choice(apps) if apps else None

    async def _restart(self, name: str) -> None:
        killed = time.monotonic()
        try:
            await asyncio.get_running_loop().run_in_executor(self._threads, stack.restart, self.config, name)
            self.restarts.append(time.monotonic() - killed)
        except Exception as exc:  # noqa: BLE001 - reported with the figures
            self.restart_failures.append(f"{name}: {exc}")
        finally:
            self._restarting.pop(name, None)

    async def run(self, until: float, min_kills: int, say: Callable[[str], None]) -> None:
        """Kill, and restart in the background (the next kill does not wait for a slow broker
        restart), until `until` and at least `min_kills` kills; then wait for every restart."""
        started = time.monotonic()
        while time.monotonic() < until or len(self.kills) < min_kills:
            # at most KILL_EVERY apart, and soon enough that `min_kills` fit before `until`
            left = max(1, min_kills - len(self.kills))
            gap = min(KILL_EVERY, max(1.5, (until - time.monotonic()) / left))
            await asyncio.sleep(self.rng.uniform(gap / 2, gap))
            name = await self.victim()
            if name is None:
                continue
            at = time.monotonic() - started
            self.killed_at.append(time.monotonic())
            await asyncio.get_running_loop().run_in_executor(self._threads, stack.kill, self.config, name)
            self.kills.append((at, name))
            say(f"  {at:6.1f}s SIGKILL {name}")
            self._restarting[name] = asyncio.create_task(self._restart(name))
        await asyncio.gather(*self._restarting.values())
        self._threads.shutdown()


async def _under_replicated(config: StackConfig) -> bool:
    try:
        return await kafka.under_replicated(config) > 0
    except (KafkaError, OSError):
        return True  # cannot tell: spare the brokers this time


def stalls_by_kind(chaos: Chaos, spans: list[tuple[float, float, str]]) -> list[str]:
    """The longest step held around a kill, by kind of process killed (a broker, PostgreSQL, a
    service): the steps waiting at the kill or begun within FAILOVER_WINDOW after it. Kills
    close together share their stalls, so a figure is an upper bound for its kind."""
    worst: dict[str, tuple[float, str, float]] = {}
    for (at, name), killed in zip(chaos.kills, chaos.killed_at, strict=True):
        kind = "broker" if name.startswith(kafka.NAME) else "PostgreSQL" if name == postgres.NAME else "service"
        held, _ = stall(spans, killed)
        if held > worst.get(kind, (0.0, "", 0.0))[0]:
            worst[kind] = (held, name, at)
    return [f"{kind} {held:.1f}s ({name} at {at:.0f}s)" for kind, (held, name, at) in sorted(worst.items())]


# --- the checks ----------------------------------------------------------------------------------

async def _partitions(consumer: AIOKafkaConsumer, topics: Iterable[str] | None = None,
                      timeout: float = 60.0) -> list[TopicPartition]:
    """Every partition of `topics` (None: every topic but the broker's own). Soon after a
    broker restart its metadata can lack a topic; reading on without it would check nothing,
    so ask again until every topic has its partitions."""
    deadline = time.monotonic() + timeout
    while True:
        await consumer._client.force_metadata_update()  # noqa: SLF001 - as TopicProbe does
        names = list(topics) if topics is not None else [t for t in await consumer.topics()
                                                          if not t.startswith("__")]
        missing = [t for t in names if not consumer.partitions_for_topic(t)]
        if names and not missing:
            return [TopicPartition(t, p) for t in names for p in sorted(consumer.partitions_for_topic(t) or ())]
        if time.monotonic() > deadline:
            raise TimeoutError(f"no partitions known for {missing or 'any topic'} after {timeout:.0f}s")
        await asyncio.sleep(0.5)


def _operator(config: StackConfig) -> dict[str, Any]:
    """The soak reads and checks as the operator (every topic, every group's offsets) and drives
    Sales and SCM as it too: it may write the external input topics (docs/security.md)."""
    return security_kwargs(kafka_security.credentials(config, "operator"), from_env=False)


async def _read_whole(config: StackConfig, topics: list[str], tries: int = 3) -> list[Record]:
    """`_read_all`, read again while a partition came back short of its log (fewer records
    than its end offset minus its start offset; these topics are neither compacted nor
    transactional, so their offsets have no gaps). Right after the chaos, on a cluster most
    of all, a read now and then stopped early on some partitions (cause not found; a second
    read of the same stack has the records), which would fail every check on them."""
    for _ in range(tries):
        records, expected = await _read_all(config, topics)
        got = Counter(TopicPartition(r.topic, r.partition) for r in records)
        short = sorted(f"{tp.topic}[{tp.partition}] {got[tp]}/{n}" for tp, n in expected.items() if got[tp] < n)
        if not short:
            return records
        print(f"  (read again: {len(short)} partitions came back short: {', '.join(short[:5])})", flush=True)
    return records


async def _read_all(config: StackConfig, topics: Iterable[str]) -> tuple[list[Record], dict[TopicPartition, int]]:
    """Every record of `topics`, from the beginning up to their end offsets now; and how many
    records each partition holds up to there. A reset (an offset out of range) goes back to the
    beginning, never to the end, which would end the read of that partition unseen."""
    consumer = AIOKafkaConsumer(bootstrap_servers=config.kafka_bootstrap, enable_auto_commit=False,
                                max_poll_records=5000, auto_offset_reset="earliest", **client_kwargs(),
                                **_operator(config))
    await consumer.start()
    try:
        partitions = await _partitions(consumer, list(topics))
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        starts = await consumer.beginning_offsets(partitions)
        await consumer.seek_to_beginning(*partitions)
        records: list[Record] = []
        pending = {tp for tp in partitions if ends[tp] > 0}
        while pending:
            batches = await consumer.getmany(*pending, timeout_ms=500)
            for tp, messages in batches.items():
                records += [Record(m.topic, m.partition, m.offset, m.key.decode() if m.key else None, m.value,
                                   {k: v.decode(errors="replace") for k, v in m.headers or ()}, m.timestamp)
                            for m in messages if m.offset < ends[tp]]
            pending = {tp for tp in pending if await consumer.position(tp) < ends[tp]}
        expected = {tp: ends[tp] - starts[tp] for tp in partitions}
        # a reset to the beginning reads some records twice: each counts once
        unique = {(r.topic, r.partition, r.offset): r for r in records}
        return [unique[k] for k in sorted(unique)], expected
    finally:
        await consumer.stop()


async def _topics(config: StackConfig) -> dict[TopicPartition, int]:
    """The end offset of every partition of every topic but the broker's own."""
    consumer = AIOKafkaConsumer(bootstrap_servers=config.kafka_bootstrap, enable_auto_commit=False,
                                **_operator(config))
    await consumer.start()
    try:
        return dict(await consumer.end_offsets(await _partitions(consumer)))
    finally:
        await consumer.stop()


async def _lags(config: StackConfig) -> dict[str, int]:
    """Each service's consumer group: how many records it has not committed yet."""
    return {service: sum(behind.values()) for service, behind in (await _partition_lags(config)).items()}


async def _partition_lags(config: StackConfig) -> dict[str, dict[str, int]]:
    """Each service's consumer group: the partitions ("topic-n") it has not committed to their
    end, and by how many records."""
    ends = await _topics(config)
    admin = AIOKafkaAdminClient(bootstrap_servers=config.kafka_bootstrap, **_operator(config))
    await admin.start()
    try:
        lags = {}
        for service in config.services:
            offsets = await admin.list_consumer_group_offsets(service.name)
            lags[service.name] = {f"{tp.topic}-{tp.partition}": ends.get(tp, 0) - meta.offset
                                  for tp, meta in offsets.items() if ends.get(tp, 0) > meta.offset}
        return lags
    finally:
        await admin.close()


async def _outbox_rows(config: StackConfig) -> int:
    total = 0
    for service in config.services:
        conn = await asyncpg.connect(postgres.admin_dsn(config, service.database))
        try:
            total += await conn.fetchval("SELECT count(*) FROM outbox WHERE parked_at IS NULL")
        finally:
            await conn.close()
    return total


def _dump_tasks(config: StackConfig) -> str:
    """Save what every service process's asyncio tasks await (`GET /debug/tasks`) beside its
    log, for the post-mortem of a stack that stopped making progress; returns where."""
    for service in config.services:
        for replica in range(1, config.replicas + 1):
            target = config.logs / f"{service.name}-{replica}.tasks.txt"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{config.http_port(service, replica)}/debug/tasks",
                                            timeout=10) as answer:
                    target.write_bytes(answer.read())
            except OSError as exc:
                target.write_text(f"no answer: {exc!r}\n")
    return f"{config.logs}/*.tasks.txt"


async def quiet(config: StackConfig, timeout: float = QUIET_TIMEOUT) -> None:
    """Wait until the stack has done all it will: every outbox empty, every group caught up,
    and the topics' end offsets the same on two reads in a row (a fact polled, not a sleep)."""
    deadline = time.monotonic() + timeout
    previous: dict[TopicPartition, int] | None = None
    while True:
        ends = await _topics(config)
        if ends == previous and not any((await _lags(config)).values()) and not await _outbox_rows(config):
            return
        if time.monotonic() > deadline:
            dumps = await asyncio.to_thread(_dump_tasks, config)
            lagging = {service: behind for service, behind in (await _partition_lags(config)).items() if behind}
            raise TimeoutError(f"the stack is not quiet after {timeout:.0f}s: lags {lagging}, "
                               f"outbox rows {await _outbox_rows(config)}; what each task awaited: {dumps}")
        previous = ends
        await asyncio.sleep(0.5)


@dataclass
class Verdict:
    lines: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    kills: Counter[str] = field(default_factory=Counter)  # per process name

    def figure(self, text: str, bad: list[Any] | int = 0) -> None:
        count = bad if isinstance(bad, int) else len(bad)
        self.lines.append(f"  {text}" + (f"  FAILED ({count}: {bad[:5] if isinstance(bad, list) else ''})"
                                         if count else ""))
        if count:
            self.failures.append(text)


def _last(records: list[Record], topic: str) -> dict[str, Record]:
    last: dict[str, Record] = {}
    for record in records:
        if record.topic == topic and record.key is not None:
            last[record.key] = record  # records of a key share a partition: offset order
    return last


def check(tally: Tally, records: list[Record], dead_letters: int, verdict: Verdict) -> None:
    """The soak's checks over every record of CHECK_TOPICS (read once the stack is quiet)."""
    refused_notified = [r for r in tally.refused if "refused" in r]
    verdict.figure(f"lifecycles: {tally.started} started, {tally.completed} completed, "
                   f"{len(refused_notified)} refused with a notification, {len(tally.lost)} lost", tally.lost)
    verdict.figure(f"orders: {tally.orders_started} started from won quotations, {len(tally.orders)} invoiced "
                   f"in Sales")

    events: dict[tuple[str, str], dict[int, set[str]]] = defaultdict(lambda: defaultdict(set))
    for r in records:
        if r.topic.startswith("scm.") and r.topic.endswith(".events") and r.key is not None:
            value = r.value
            if value.get("version") is not None:  # a record the relay sent twice is one event id
                events[(r.topic, r.key)][value["version"]].add(value["event_id"])
    ours = set(tally.won) | set(tally.orders)
    duplicates = [(t, k, v) for (t, k), versions in events.items() if k in ours
                  for v, ids in versions.items() if len(ids) > 1]
    gaps = [(t, k) for (t, k), versions in events.items() if k in ours and sorted(versions) != list(
        range(min(versions), min(versions) + len(versions)))]
    verdict.figure(f"SCM events of this run's documents: {sum(len(v) for (t, k), v in events.items() if k in ours)}"
                   f" versions, {len(duplicates)} with two events, {len(gaps)} documents with a gap",
                   duplicates + gaps)

    last_quote = _last([r for r in records if r.topic == "scm.quote.events"], "scm.quote.events")
    journal_numbers: dict[tuple[str, str], set[str]] = defaultdict(set)
    for r in records:
        if r.topic == "scm.quote.events" and r.key in ours:
            for journal in r.value["quotation"].get("journals") or []:
                journal_numbers[(r.key, journal["type"])].add(journal["journal_number"])
    journals = []
    for number in tally.won:
        quotation = last_quote[number].value["quotation"] if number in last_quote else {}
        kinds = Counter(j["type"] for j in quotation.get("journals") or [])
        posted = {kind: len(journal_numbers[(number, kind)]) for kind in ("quotation", "confirmation")}
        if kinds != Counter({"quotation": 1, "confirmation": 1}) or posted != {"quotation": 1, "confirmation": 1}:
            journals.append((number, dict(kinds), posted))
    verdict.figure(f"journals: {len(tally.won)} won quotations, {len(tally.won) - len(journals)} with exactly one "
                   f"quotation journal and one confirmation journal ever posted", journals)

    sales_quotes = _last(records, "dataverse.quote.writes")
    sales_lines = _last(records, "dataverse.quotedetail.writes")
    sales_orders = _last(records, "dataverse.salesorder.writes")
    last_order = _last(records, "scm.order.events")
    differ = []
    for number in tally.won:
        scm = last_quote[number].value["quotation"] if number in last_quote else None
        sales = sales_quotes.get(number)
        if scm is None or sales is None or sales.value["record"].get(
                "msdyn_salesquotationstatus") != QUOTE_STATUS.get(scm["SALESQUOTATIONSTATUS"]):
            differ.append((number, "status"))
            continue
        for line in scm.get("lines") or []:
            sequence = line["LINECREATIONSEQUENCENUMBER"]
            written = sales_lines.get(f"{number}/{sequence}")
            if written is None or written.value["operation"] == "delete" or Decimal(
                    str(written.value["record"].get("quantity"))) != Decimal(str(line["REQUESTEDSALESQUANTITY"])):
                differ.append((number, "line", sequence))
    for number in tally.orders:
        scm_order = last_order[number].value["order"] if number in last_order else {}
        sales = sales_orders.get(number)
        invoiced = sales is not None and sales.value["record"].get("msdyn_processingstatus") == INVOICED
        if invoiced != (scm_order.get("SALESORDERSTATUS") == "invoiced"):
            differ.append((number, "order status"))
    documents = len(tally.won) + len(tally.orders)
    verdict.figure(f"last Sales write equals SCM: {documents - len(differ)} of {documents} documents "
                   f"({len(tally.won)} quotations: status, lines; {len(tally.orders)} orders: invoiced)", differ)

    verdict.figure(f"dead letters during the soak: {dead_letters}", dead_letters)

    results: dict[str, set[str]] = defaultdict(set)
    for r in records:
        if r.topic == "scm.command.results" and r.key is not None:
            results[r.key].add(r.headers.get("message_id", r.value.get("message_id", "")))
    wanted = set(tally.commands)
    double_results = [c for c in wanted if len(results.get(c, ())) > 1]
    invoices: dict[str, set[str]] = defaultdict(set)
    for r in records:
        if r.topic == "scm.invoice.events" and r.value.get("type") == "invoice.posted":
            invoices[str(r.value["invoice"].get("SALESORDERNUMBER"))].add(r.key or "")
    double_invoices = [(n, sorted(i)) for n, i in invoices.items() if n in tally.orders and len(i) > 1]
    notifications: Counter[str] = Counter()
    seen_notification: set[str] = set()
    for r in records:
        if r.topic == "dataverse.notifications" and r.value["message_id"] not in seen_notification:
            seen_notification.add(r.value["message_id"])
            notifications[r.value["refused_message_id"]] += 1
    double_notes = [m for m, n in notifications.items() if n > 1]
    verdict.figure(f"duplicate effects: {len(double_results)} SCM commands of {len(wanted)} with two results, "
                   f"{len(double_invoices)} orders of {len(tally.orders)} invoiced twice, {len(double_notes)} "
                   f"refused changes notified twice", double_results + double_invoices + double_notes)


async def _dead_letters(config: StackConfig) -> int:
    return sum(end for tp, end in (await _topics(config)).items() if tp.topic.endswith(DLQ_SUFFIX))


# --- replay from offset 0 ------------------------------------------------------------------------

_NUMBER_SEQUENCES = """
    SELECT s.sequencename, s.last_value FROM pg_sequences s
     WHERE s.schemaname = 'public'
       AND NOT EXISTS (SELECT 1 FROM pg_depend d
                        WHERE d.classid = 'pg_class'::regclass
                          AND d.objid = format('%I.%I', s.schemaname, s.sequencename)::regclass
                          AND d.deptype IN ('a', 'i'))
     ORDER BY 1"""


async def state_hash(config: StackConfig) -> dict[str, str]:
    """A digest of every table of every service database (rows in a stable order), and the
    last value of every number sequence."""
    digests = {}
    for service in config.services:
        conn = await asyncpg.connect(postgres.admin_dsn(config, service.database))
        try:
            tables = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
            for row in tables:
                table = row["tablename"]
                count, digest = await conn.fetchrow(
                    f'SELECT count(*), md5(coalesce(string_agg(md5(t::text), \'\' ORDER BY md5(t::text)), \'\')) '
                    f'FROM "{table}" t')
                digests[f"{service.database}.{table}"] = f"{count}:{digest}"
            # The number sequences are not tables: a replay must not take a number either. A
            # column's own sequence (serial, identity) is left out: an insert that does nothing
            # (ON CONFLICT) still advances it.
            for row in await conn.fetch(_NUMBER_SEQUENCES):
                digests[f"{service.database}.{row['sequencename']}"] = str(row["last_value"])
        finally:
            await conn.close()
    return digests


async def _rewind_groups(config: StackConfig) -> int:
    """Every service's group back to offset 0 on every partition it has read; the records
    that will be read again."""
    # resetting a service's group is the cluster admin's work, not the operator's (docs/security.md)
    admin_login = security_kwargs(kafka_security.admin_credentials(config), from_env=False)
    admin = AIOKafkaAdminClient(bootstrap_servers=config.kafka_bootstrap, **admin_login)
    await admin.start()
    again = 0
    try:
        for service in config.services:
            offsets = await admin.list_consumer_group_offsets(service.name)
            if not offsets:
                continue
            again += sum(meta.offset for meta in offsets.values())
            # the group is empty (its service stopped), so a plain commit resets it
            rewinder = AIOKafkaConsumer(bootstrap_servers=config.kafka_bootstrap, group_id=service.name,
                                        enable_auto_commit=False, **admin_login)
            await rewinder.start()
            try:
                rewinder.assign(list(offsets))
                await rewinder.commit(dict.fromkeys(offsets, 0))
            finally:
                await rewinder.stop()
    finally:
        await admin.close()
    return again


async def replay(config: StackConfig, verdict: Verdict) -> None:
    """Stop every service, rewind every group to 0, start them again: nothing may change."""
    await quiet(config)
    for service in config.services:
        for replica in services.started_replicas(config, service):
            await asyncio.to_thread(services.stop, config, service, replica)
    ends_before = await _topics(config)
    hashes_before = await state_hash(config)
    again = await _rewind_groups(config)
    started = time.monotonic()
    await asyncio.to_thread(stack.up, config, lambda _: None)
    await quiet(config)
    elapsed = time.monotonic() - started
    ends_after = await _topics(config)
    hashes_after = await state_hash(config)
    added = {f"{tp.topic}[{tp.partition}]": end - ends_before.get(tp, 0) for tp, end in ends_after.items()
             if end != ends_before.get(tp, 0)}
    changed = sorted(t for t in hashes_before.keys() | hashes_after.keys()
                     if hashes_before.get(t) != hashes_after.get(t))
    verdict.figure(f"replay from offset 0: {again:,} records read again in {elapsed:.1f}s; "
                   f"{sum(added.values())} new records on any topic", sorted(added.items()))
    verdict.figure(f"replay from offset 0: {len(hashes_after)} tables and number sequences hashed, "
                   f"{len(changed)} changed", changed)


# --- the run -------------------------------------------------------------------------------------

async def soak(config: StackConfig, seconds: float = SECONDS, *, users: int = USERS, min_kills: int = 0,
               seed: int | None = None, say: Callable[[str], None] = print) -> Verdict:
    seed = seed if seed is not None else random.randrange(1 << 30)
    chaos = Chaos(config, random.Random(seed))
    tally = Tally()
    say(f"q2c soak: {seconds:.0f}s, {users} Sales users, a SIGKILL at least every {KILL_EVERY:.0f}s "
        f"(seed {seed}, Q2C_SOAK_SEED to repeat the victims)")
    await quiet(config)
    dead_before = await _dead_letters(config)
    started = time.monotonic()
    until = started + seconds
    async with _SoakClient(config.kafka_bootstrap, kafka_security.credentials(config, "operator")) as client:
        load = asyncio.create_task(_users(client, users, until, tally))
        await chaos.run(until, min_kills, say)
        await load
    load_time = time.monotonic() - started
    await asyncio.to_thread(stack.up, config, lambda _: None)  # anything that died on its own
    await quiet(config)
    records = await _read_whole(config, CHECK_TOPICS)
    verdict = Verdict()
    kinds = Counter(name for _, name in chaos.kills)
    per_process = ", ".join(f"{n} {c}" for n, c in sorted(kinds.items()))
    longest_restart = max(chaos.restarts, default=0.0)
    times = [0.0, *(at for at, _ in chaos.kills)]
    longest_gap = max((b - a for a, b in zip(times, times[1:], strict=False)), default=0.0)
    verdict.figure(f"kills: {len(chaos.kills)} in {seconds:.0f}s ({per_process}); longest restart "
                   f"{longest_restart:.1f}s; longest time between two kills {longest_gap:.1f}s",
                   chaos.restart_failures)
    verdict.lines.append(f"  load: {tally.completed / load_time:.2f} lifecycles/s completed under chaos "
                         f"({load_time:.0f}s until the last one started had ended)")
    check(tally, records, await _dead_letters(config) - dead_before, verdict)
    stalls = {name: max(v) for name, v in tally.latencies.items() if v}
    longest = max(stalls.items(), key=lambda kv: kv[1], default=("-", 0.0))
    verdict.lines.append("  longest step held after a kill, by what was killed: "
                         + "; ".join(stalls_by_kind(chaos, client.spans)))
    verdict.lines.append(f"  longest stall of a step: {longest[1] / 1000:.1f}s ({longest[0]}); p50/p99 ms per step: "
                         + "  ".join(f"{n} {_percentile(v, 0.5):.0f}/{_percentile(v, 0.99):.0f}"
                                     for n, v in tally.latencies.items() if v))
    await replay(config, verdict)
    verdict.kills = kinds
    return verdict


def run_soak(config: StackConfig, argv: list[str]) -> int:
    configure_logging("soak", "WARNING")
    seconds = float(argv[0]) if argv else SECONDS
    seed = int(os.environ["Q2C_SOAK_SEED"]) if os.environ.get("Q2C_SOAK_SEED") else None
    stack.up(config)
    verdict = asyncio.run(soak(config, seconds, seed=seed, users=int(os.environ.get("SOAK_USERS", USERS)),
                               say=lambda line: print(line, flush=True)))
    print("\n".join(verdict.lines))
    passed = "passed: nothing lost, nothing doubled, replay changed nothing"
    print(f"soak {'FAILED: ' + '; '.join(verdict.failures) if verdict.failures else passed}")
    return 1 if verdict.failures else 0
