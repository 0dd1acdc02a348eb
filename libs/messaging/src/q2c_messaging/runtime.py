"""The composition root every service shares: settings, logging, the database pool and its
migrations, the service's consumers (`batching.ServiceConsumer`, every route's topic), the outbox
relay and the dead-letter producer, started and stopped in the right order.

A service module builds a `ServiceRuntime`, adds its routes and start-up work, and exposes
`runtime.app` (a FastStream application: `faststream run pkg.app:app` or `python -m pkg`)."""

import asyncio
import gc
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

import asyncpg
import uvloop
from aiokafka import AIOKafkaProducer, TopicPartition
from faststream import FastStream
from faststream.kafka import KafkaBroker

from q2c_observability import configure_logging, get_logger, metrics, tracing
from q2c_observability.http import HealthServer
from q2c_persistence import Connection, MigrationSet, apply_migrations, create_pool, load_migrations

from .batching import ServiceConsumer
from .catalog import TopicCatalog, load_catalog
from .consumer import MessageProcessor, Route
from .dead_letters import DeadLetters
from .inbox_pruning import prune
from .lag import GroupLag
from .outbox import Outbox, OutboxRelay, outbox_counts
from .producer import make_producer
from .security import security_kwargs
from .settings import RuntimeSettings

log = get_logger(__name__)

MESSAGING_MIGRATIONS = Path(__file__).parent / "migrations"
PRUNE_FIRST_DELAY = 60.0  # seconds from start-up to the first inbox pruning pass
StartupHook = Callable[[asyncpg.Pool], Awaitable[None]]


def freeze_startup_heap() -> None:
    """Move every object alive after start-up (modules, pydantic models, clients, the catalog:
    most of the heap, and none of it garbage) out of the garbage collector's sight: `gc.freeze`.
    Why: CPython's oldest-generation collection walks all of them, and it measured 50-150 ms
    per collection in a service process (docs/performance.md "Ninth session"), a pause that
    every record in flight waits out. Frozen objects are never collected, so this runs once,
    after a collection, when start-up is done; what is allocated afterwards is collected as
    before."""
    gc.collect()
    gc.freeze()


class ServiceRuntime:
    def __init__(
        self,
        service: str,
        migrations_dir: Path,
        *,
        settings: RuntimeSettings | None = None,
        catalog: TopicCatalog | None = None,
    ) -> None:
        self.service = service
        self.settings = settings or RuntimeSettings()
        self.catalog = catalog or load_catalog()
        self.migrations: list[MigrationSet] = [
            load_migrations("messaging", MESSAGING_MIGRATIONS),
            load_migrations(service, migrations_dir),
        ]
        configure_logging(service, self.settings.log_level)
        self.broker = KafkaBroker(
            self.settings.kafka_bootstrap,
            client_id=service + self.settings.instance,
            allow_auto_create_topics=False,  # topics come from the catalog only
            security=creds.faststream_security() if (creds := self.settings.kafka_credentials) else None,
            consumer_only=True,  # everything we publish goes through the outbox relay
            graceful_timeout=15.0,
            logger=None,
        )
        self.app = FastStream(self.broker, logger=None, on_startup=[self._start], after_startup=[self._ready],
                              after_shutdown=[self._stop])
        self._routes: list[Route[Any]] = []
        self._processors: dict[str, MessageProcessor[Any]] = {}
        self._consumer: ServiceConsumer | None = None
        self._startup_hooks: list[StartupHook] = []
        self._background: list[Callable[[], Coroutine[Any, Any, None]]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._http: HealthServer | None = None
        self._pool: asyncpg.Pool | None = None
        # aiokafka objects need a running loop: they are made in _start.
        self._producer: AIOKafkaProducer | None = None
        self._relay: OutboxRelay | None = None
        self._migrated = False

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("the pool exists only while the service runs")
        return self._pool

    def route(self, route: Route[Any]) -> None:
        """Consume `route.topic` with the consumer recipe, in the service's group (the service's
        consumers, `batching.ServiceConsumer`, read all its routed topics)."""
        spec = self.catalog[route.topic]
        if self.service not in spec.consumers:
            raise ValueError(f"{self.service} is not a declared consumer of {route.topic}")
        self._routes.append(route)

    @property
    def routes(self) -> dict[str, Route[Any]]:
        """The routes by topic (tests run a route's processor on a database of their own)."""
        return {route.topic: route for route in self._routes}

    def background(self, task: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run `task` for the life of the service (after start-up, cancelled at stop)."""
        self._background.append(task)

    def outbox(self, conn: Connection, *, causation_id: str | None = None,
               correlation_id: str | None = None) -> Outbox:
        """An outbox for work that is not the handling of a message (start-up, timers)."""
        return Outbox(conn, self.service, self.catalog, correlation_id=correlation_id, causation_id=causation_id)

    def on_startup(self, hook: StartupHook) -> StartupHook:
        """Run after migrations, before consuming (seed data, publish initial state)."""
        self._startup_hooks.append(hook)
        return hook

    async def _start(self) -> None:
        tracing.configure_tracing(self.service)
        instance = self.service + self.settings.instance  # `quote`, `quote-2`: which replica
        self._pool = await create_pool(self.settings.db_url, max_size=self.settings.pool_max_size,
                                       application_name=instance)
        await apply_migrations(self._pool, *self.migrations)
        self._migrated = True
        # Dead letters and the health check; the relay has its own (it renews it after a refusal).
        self._producer = make_producer(self.settings.kafka_bootstrap, f"{instance}-producer",
                                       self.settings.kafka_credentials)
        await self._producer.start()
        dead_letters = DeadLetters(self._producer, self.service)
        self._processors = {
            route.topic: MessageProcessor(
                route, service=self.service, pool=self._pool, catalog=self.catalog,
                dead_letters=dead_letters, attempts=self.settings.handler_attempts,
            )
            for route in self._routes
        }
        self._relay = OutboxRelay(
            self._pool, lambda: make_producer(self.settings.kafka_bootstrap, f"{instance}-relay",
                                              self.settings.kafka_credentials),
            service=self.service, batch_size=self.settings.relay_batch_size,
            poll_interval=self.settings.relay_poll_interval, max_attempts=self.settings.relay_max_attempts,
        )
        await self._relay.start()
        for hook in self._startup_hooks:
            await hook(self._pool)
        self._tasks = [asyncio.create_task(task()) for task in [*self._background, self._watch_outbox]]
        if self.settings.inbox_prune_interval > 0:
            self._tasks.append(asyncio.create_task(self._prune_inbox(self.settings.inbox_prune_interval)))
        if self.settings.lag_interval > 0:
            self._tasks.append(asyncio.create_task(self.group_lag().run(self.settings.lag_interval)))
        # Consuming starts once start-up work is done.
        most_partitions = max((self.catalog[topic].partitions for topic in self._processors), default=1)
        self._consumer = ServiceConsumer(
            self._processors, bootstrap=self.settings.kafka_bootstrap, group_id=self.service,
            client_id=instance, workers=min(self.settings.consumer_workers, most_partitions),
            max_records=self.settings.consumer_batch_size,
            transaction_records=self.settings.consumer_transaction_records,
            security=security_kwargs(self.settings.kafka_credentials, from_env=False),
            fetch_max_wait_ms=self.settings.consumer_fetch_max_wait_ms,
            commit_interval=self.settings.consumer_commit_interval_ms / 1000,
        )
        await self._consumer.start()
        freeze_startup_heap()
        if self.settings.http_port:
            self._http = HealthServer(self.settings.http_port, self._health, host=self.settings.http_host,
                                      refresh=self._count_outbox, ready=self._readiness)
            await self._http.start()

    async def _ready(self) -> None:
        log.info("service.ready", topics=[r.topic for r in self._routes])

    async def _health(self) -> dict[str, bool]:
        """Database and Kafka reachable."""
        checks = {"database": False, "kafka": False}
        try:
            checks["database"] = await self.pool.fetchval("SELECT 1") == 1
        except Exception:  # noqa: BLE001 - any failure is an unhealthy database
            pass
        try:
            # a metadata round trip on the relay's producer connection
            if self._producer is not None:
                await asyncio.wait_for(self._producer.client.fetch_all_metadata(), 3.0)
                checks["kafka"] = True
        except Exception:  # noqa: BLE001
            pass
        return checks

    async def _count_outbox(self) -> None:
        """The outbox gauges: rows written and not yet published, rows parked, and deleted rows
        not yet vacuumed. Also run at every /metrics scrape, so `q2c_outbox_lag` 0 there means
        the outbox is empty now."""
        try:
            counts = await outbox_counts(self.pool)
        except BaseException:
            # unknown, not the last count: a reader must not take a stale 0 for an empty outbox
            metrics.OUTBOX_LAG.labels(self.service).set(float("nan"))
            raise
        metrics.OUTBOX_LAG.labels(self.service).set(counts.waiting)
        metrics.OUTBOX_PARKED_ROWS.labels(self.service).set(counts.parked)
        metrics.OUTBOX_DEAD_ROWS.labels(self.service).set(counts.dead)

    async def _readiness(self) -> dict[str, bool]:
        """Able to do its work: database and Kafka reachable, migrations applied, every
        consumer polling, the outbox relay running."""
        checks = await self._health()
        checks["migrations"] = self._migrated
        checks["consumers"] = self._consumer is not None and self._consumer.running
        checks["relay"] = self._relay is not None and self._relay.running
        return checks

    def group_lag(self) -> GroupLag:
        """The lag of this service's consumer group on every partition it consumes."""
        partitions = [TopicPartition(route.topic, p) for route in self._routes
                      for p in range(self.catalog[route.topic].partitions)]
        return GroupLag(self.settings.kafka_bootstrap, self.service, partitions)

    async def _prune_inbox(self, interval: float) -> None:
        """Inbox rows whose record has left its topic's log, every `interval` seconds. Every
        replica runs it: the deletes skip rows another one has locked."""
        topics = [self.catalog[route.topic] for route in self._routes]
        await asyncio.sleep(min(interval, PRUNE_FIRST_DELAY))  # not in the rush of start-up
        while True:
            try:
                async with self.pool.acquire() as conn:  # each delete its own short transaction
                    await prune(conn, self.service, topics, self.settings.inbox_retention,
                                self.settings.inbox_prune_batch)
            except Exception as exc:  # noqa: BLE001 - the next pass tries again; the service goes on
                log.warning("inbox.prune_failed", error=repr(exc))
            await asyncio.sleep(interval)

    async def _watch_outbox(self) -> None:
        while True:
            try:
                await self._count_outbox()
            except Exception as exc:  # noqa: BLE001 - a gauge must not stop the service
                log.debug("outbox.lag_unknown", error=repr(exc))
            await asyncio.sleep(5)

    async def _stop(self) -> None:
        if self._http:
            await self._http.stop()
        if self._consumer:
            await self._consumer.stop()
            self._consumer = None
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._relay:
            await self._relay.stop()
        if self._producer:
            await self._producer.stop()
        if self._pool:
            await self._pool.close()
        self._migrated = False
        tracing.shutdown_tracing()  # the spans still buffered go out
        log.info("service.stopped")

    def run(self) -> None:
        # uvloop: the event loop of libuv. A service spends most of its CPU in the loop's
        # socket reads and writes (PostgreSQL and Kafka round trips); uvloop does them in C.
        uvloop.run(self.app.run())
