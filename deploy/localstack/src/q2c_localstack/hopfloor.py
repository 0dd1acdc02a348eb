"""The floor under the lifecycle figures: the messaging core alone, with handlers that do
nothing but write their one outgoing message (`make bench` reports it after the lifecycles;
docs/performance.md "The floor of the messaging core").

A chain of `hops` throwaway services, each its own process with its own database, as q2c's
services are: service i consumes `<chain>.i` and writes `<chain>.i+1`. A hop is what every q2c
service does per message: the consumer's poll, a transaction (inbox claim, the outbox row,
commit with a synchronous WAL flush), the relay woken by NOTIFY, its read, the publish with
acks=all, the offset commit. Nothing else runs in them: what the chain costs, q2c's services
pay before any business rule.

Three ways through it:
- one message at a time: the latency floor of a lifecycle step of as many service hops;
- a burst of messages at once: the throughput floor (hops/s, beside the same-run bound);
- an open loop at a hop rate: the latency floor at that load, arrivals at random."""

import asyncio
import contextlib
import json
import multiprocessing
import tempfile
import time
from dataclasses import dataclass
from multiprocessing.synchronize import Event
from pathlib import Path
from uuid import uuid4

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from pydantic import BaseModel

from q2c_contracts.topics import dead_letter_topic
from q2c_messaging.producer import make_producer
from q2c_messaging.security import KafkaCredentials, security_kwargs

from . import postgres
from .arrivals import poisson_arrivals
from .config import StackConfig
from .kafka_security import BROKER, credentials

# Service hops of each lifecycle step (the Sales client's own publish and fetch not counted):
# a create or a line goes adapter → quote → adapter; activate and win add the ownership round
# trip: adapter → quote → ownership → quote → adapter.
STEP_HOPS = {"create, line": 3, "activate, win": 5}
CHAIN_HOPS = max(STEP_HOPS.values())
CHAIN_PARTITIONS = 6  # as q2c's busy topics
ONE_AT_A_TIME = 1_000
WARM_UP = 50
# After the services have started: their consumer groups settle (a join, an assignment, the
# first fetches), which would otherwise be the first messages' p99.
SETTLE_SECONDS = 3.0
BURST = 20_000
KEYS = 64


class _Ping(BaseModel):
    message_id: str
    n: int


@dataclass(frozen=True)
class _Link:
    """What one service of the chain needs: picklable, for a process of its own."""

    index: int
    inbound: str
    outbound: str
    dsn: str
    bootstrap: str
    username: str
    password: str


def _serve(link: _Link, ready: Event, stop: Event) -> None:
    """A chain service's process: the messaging library as every q2c service runs it."""
    import uvloop  # noqa: PLC0415 - in the child process only

    from q2c_messaging.catalog import parse_catalog  # noqa: PLC0415
    from q2c_messaging.consumer import Handling, Route  # noqa: PLC0415
    from q2c_messaging.runtime import ServiceRuntime  # noqa: PLC0415
    from q2c_messaging.settings import RuntimeSettings  # noqa: PLC0415

    async def main() -> None:
        migrations = Path(tempfile.mkdtemp(prefix="q2c-chain-"))
        (migrations / "0001_nothing.sql").write_text("SELECT 1")
        service = f"bench-chain-{link.index}"
        runtime = ServiceRuntime(service, migrations, catalog=parse_catalog({
            "services": [service],
            "topics": {link.inbound: {"partitions": CHAIN_PARTITIONS, "writers": ["bench"], "consumers": [service]},
                       link.outbound: {"partitions": CHAIN_PARTITIONS, "writers": [service]}},
        }), settings=RuntimeSettings(
            db_url=link.dsn, kafka_bootstrap=link.bootstrap, http_port=0, log_level="ERROR",
            kafka_username=link.username, kafka_password=link.password,  # type: ignore[arg-type]  # pydantic takes the str
        ))

        async def answer(handling: Handling[_Ping]) -> None:
            ping = handling.message
            message_id = str(uuid4())
            await handling.outbox.append(link.outbound, f"k-{ping.n % KEYS}",
                                         _Ping(message_id=message_id, n=ping.n).model_dump_json().encode(),
                                         message_id=message_id, type="bench.ping")

        runtime.route(Route(topic=link.inbound, parse=_Ping.model_validate, message_id=lambda p: p.message_id,
                            handle=answer))
        async with runtime.app:
            ready.set()
            # `stop` is another process's (a multiprocessing Event): waited for in a thread
            await asyncio.to_thread(stop.wait)

    uvloop.run(main())


class Chain:
    """`hops` chain services between `hops + 1` topics, started and cleaned up around a block.
    `pids` are the services' processes (for their CPU); `duplicates` counts pings that came out
    of the chain's end more than once (none should: the inbox)."""

    def __init__(self, config: StackConfig, hops: int = CHAIN_HOPS) -> None:
        self._config = config
        self._login: KafkaCredentials | None = credentials(config, BROKER)
        self.tag = uuid4().hex[:8]  # in the name of each of its topics and databases
        self.hops = hops
        self._topics = [f"bench.chain.{self.tag}.{i}" for i in range(hops + 1)]
        self._databases = [f"q2c_chain_{self.tag}_{i}" for i in range(hops)]
        self._stop = multiprocessing.get_context("spawn").Event()
        self._processes: list[multiprocessing.process.BaseProcess] = []
        self._admin = AIOKafkaAdminClient(bootstrap_servers=config.kafka_bootstrap,
                                          **security_kwargs(self._login, from_env=False))
        self._producer = make_producer(config.kafka_bootstrap, "bench-chain", self._login)
        self._answers = AIOKafkaConsumer(bootstrap_servers=config.kafka_bootstrap, enable_auto_commit=False,
                                         **security_kwargs(self._login, from_env=False))
        self._waiting: dict[int, asyncio.Future[float]] = {}
        self._answered: set[int] = set()
        self.duplicates = 0
        self._reader: asyncio.Task[None] | None = None
        self._sent = 0

    @property
    def processes(self) -> list[multiprocessing.process.BaseProcess]:
        return list(self._processes)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self._processes if p.pid is not None]

    @property
    def waiting(self) -> int:
        """Pings published and not yet out of the chain's end."""
        return len(self._waiting)

    async def __aenter__(self) -> "Chain":
        try:
            await self._start()
        except BaseException:
            await self.__aexit__()  # a chain that did not start leaves nothing behind either
            raise
        return self

    async def _start(self) -> None:
        await self._admin.start()
        await self._admin.create_topics(
            [NewTopic(t, CHAIN_PARTITIONS, self._config.replication_factor) for t in self._topics]
            + [NewTopic(dead_letter_topic(t), 1, self._config.replication_factor) for t in self._topics[:-1]])
        await self._on_each_database('CREATE DATABASE "{}"')
        await self._start_services()
        await self._producer.start()
        await self._answers.start()
        last = [TopicPartition(self._topics[-1], p) for p in range(CHAIN_PARTITIONS)]
        self._answers.assign(last)
        await self._answers.seek_to_end(*last)
        for tp in last:
            await self._answers.position(tp)
        self._reader = asyncio.create_task(self._read_answers())
        await asyncio.sleep(SETTLE_SECONDS)  # a measured pause, not a wait for something

    async def _start_services(self) -> None:
        """One process per service of the chain; back when each has started its runtime."""
        spawn = multiprocessing.get_context("spawn")
        readies = []
        for index in range(self.hops):
            link = _Link(index, self._topics[index], self._topics[index + 1],
                         postgres.admin_dsn(self._config, self._databases[index]), self._config.kafka_bootstrap,
                         self._login.username if self._login else "", self._login.password if self._login else "")
            ready = spawn.Event()
            process = spawn.Process(target=_serve, args=(link, ready, self._stop), name=f"bench-chain-{index}")
            process.start()
            self._processes.append(process)
            readies.append(ready)
        deadline = time.monotonic() + 120
        while not all(r.is_set() for r in readies):
            if time.monotonic() > deadline or any(not p.is_alive() for p in self._processes):
                raise RuntimeError("the chain's services did not start")
            await asyncio.sleep(0.1)

    async def __aexit__(self, *exc: object) -> None:
        if self._reader:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
        self._stop.set()
        for process in self._processes:
            await asyncio.to_thread(process.join, 15)
            if process.is_alive():
                process.kill()
        with contextlib.suppress(Exception):
            await self._producer.stop()
        with contextlib.suppress(Exception):
            await self._answers.stop()
        with contextlib.suppress(OSError, asyncpg.PostgresError):  # the server away: nothing to drop
            await self._on_each_database('DROP DATABASE IF EXISTS "{}" WITH (FORCE)')
        with contextlib.suppress(Exception):
            await self._admin.delete_topics(self._topics + [dead_letter_topic(t) for t in self._topics[:-1]])
        with contextlib.suppress(Exception):
            await self._admin.close()

    async def _on_each_database(self, statement: str) -> None:
        """`statement`, with `{}` for a database's name, for each of the chain's databases."""
        db_admin = await asyncpg.connect(postgres.admin_dsn(self._config))
        try:
            for database in self._databases:
                await db_admin.execute(statement.format(database))
        finally:
            await db_admin.close()

    async def _read_answers(self) -> None:
        while True:
            batches = await self._answers.getmany(timeout_ms=200)
            now = time.perf_counter()
            for records in batches.values():
                for record in records:
                    n = json.loads(record.value)["n"]
                    if n in self._answered:
                        self.duplicates += 1
                        continue
                    self._answered.add(n)
                    waiter = self._waiting.pop(n, None)
                    if waiter is not None and not waiter.done():
                        waiter.set_result(now)

    async def _send(self, *, key: str | None = None) -> "asyncio.Future[float]":
        """Publish one ping into the chain; the future resolves (time of arrival) when it is out."""
        n, self._sent = self._sent, self._sent + 1
        arrived: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._waiting[n] = arrived
        message_id = str(uuid4())
        await self._producer.send(self._topics[0], _Ping(message_id=message_id, n=n).model_dump_json().encode(),
                                  key=(key or f"k-{n % KEYS}").encode())
        return arrived

    async def one_at_a_time(self, samples: int = ONE_AT_A_TIME) -> list[float]:
        """Each ping waits for the one before it: ms from publish to arrival, after a warm-up."""
        latencies = []
        for i in range(WARM_UP + samples):
            started = time.perf_counter()
            arrived = await self._send(key="one")
            await self._producer.flush()
            finished = await asyncio.wait_for(arrived, 30)
            if i >= WARM_UP:
                latencies.append((finished - started) * 1000)
        return latencies

    async def burst(self, messages: int = BURST, timeout: float = 300.0) -> float:
        """`messages` pings published at once, over the topics' partitions: hops/s until the last is out."""
        started = time.perf_counter()
        arrivals = [await self._send() for _ in range(messages)]
        await self._producer.flush()
        await asyncio.wait_for(asyncio.gather(*arrivals), timeout)
        return messages * self.hops / (time.perf_counter() - started)

    async def open_loop(self, hops_per_second: float, seconds: float) -> list[float]:
        """Pings started at random (Poisson) arrivals so that the chain carries `hops_per_second`,
        whatever the earlier ones are doing: ms from publish to arrival of each."""
        latencies: list[float] = []
        pending: list[asyncio.Task[None]] = []

        async def timed(started: float, arrived: "asyncio.Future[float]") -> None:
            latencies.append((await asyncio.wait_for(arrived, 60) - started) * 1000)

        async for _ in poisson_arrivals(hops_per_second / self.hops, seconds):
            started = time.perf_counter()
            pending.append(asyncio.create_task(timed(started, await self._send())))
        await asyncio.gather(*pending)
        return latencies


def cpu_per_hop(before: dict[str, float], after: dict[str, float], hops: int) -> str:
    """The CPU seconds each part used over a run (`before` and `after` by part), per hop."""
    used = {part: after[part] - before.get(part, 0.0) for part in after}
    return (f"CPU per hop {sum(used.values()) * 1000 / hops:.2f} ms ("
            + ", ".join(f"{part} {seconds * 1000 / hops:.2f}" for part, seconds in used.items()) + ")")
