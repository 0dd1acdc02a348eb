"""Consumer-group lag for the Prometheus metrics: for every partition of the topics a service
consumes, its group's committed offset against the partition's end offset. A background task
asks the broker every `Q2C_LAG_INTERVAL` seconds (two or three requests for all partitions),
so the handling of messages never waits for it."""

import asyncio
import contextlib
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from q2c_observability import get_logger, metrics

from .failover import client_kwargs
from .security import security_kwargs

log = get_logger(__name__)


@dataclass(frozen=True)
class PartitionLag:
    committed: int  # -1: the group has committed nothing on this partition yet
    end: int
    lag: int


class GroupLag:
    def __init__(self, bootstrap: str, group: str, partitions: list[TopicPartition]) -> None:
        self._bootstrap = bootstrap
        self.group = group
        self.partitions = partitions
        self._admin: AIOKafkaAdminClient | None = None
        self._offsets: AIOKafkaConsumer | None = None  # no group: only asks for end offsets

    async def _clients(self) -> tuple[AIOKafkaAdminClient, AIOKafkaConsumer]:
        if self._admin is None:
            admin = AIOKafkaAdminClient(bootstrap_servers=self._bootstrap, client_id=f"{self.group}-lag",
                                        **security_kwargs())
            await admin.start()
            self._admin = admin
        if self._offsets is None:
            consumer = AIOKafkaConsumer(bootstrap_servers=self._bootstrap, client_id=f"{self.group}-lag",
                                        enable_auto_commit=False, **client_kwargs(), **security_kwargs())
            await consumer.start()
            self._offsets = consumer
        return self._admin, self._offsets

    async def refresh(self) -> dict[TopicPartition, PartitionLag]:
        """Ask the broker, set the gauges, return what was measured."""
        if not self.partitions:
            return {}
        admin, offsets = await self._clients()
        committed = await admin.list_consumer_group_offsets(self.group, partitions=self.partitions)
        ends = await offsets.end_offsets(self.partitions)
        # Nothing committed: the group would start at the log's beginning (auto_offset_reset
        # earliest), so everything still in the log counts.
        uncommitted = [tp for tp in self.partitions if tp not in committed or committed[tp].offset < 0]
        starts = await offsets.beginning_offsets(uncommitted) if uncommitted else {}
        measured: dict[TopicPartition, PartitionLag] = {}
        for tp in self.partitions:
            position = committed[tp].offset if tp not in starts else -1
            end = ends[tp]
            lag = max(end - (starts[tp] if tp in starts else position), 0)
            measured[tp] = PartitionLag(position, end, lag)
            labels = (self.group, tp.topic, str(tp.partition))
            metrics.CONSUMER_LAG.labels(*labels).set(lag)
            metrics.CONSUMER_COMMITTED.labels(*labels).set(position)
            metrics.CONSUMER_END.labels(*labels).set(end)
        return measured

    async def run(self, interval: float) -> None:
        """Refresh every `interval` seconds until cancelled; a failed refresh (broker away)
        keeps the last values and tries again next time."""
        try:
            while True:
                try:
                    await self.refresh()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 - a gauge must not stop the service
                    log.debug("consumer.lag_unknown", error=repr(exc))
                await asyncio.sleep(interval)
        finally:
            await self.close()

    async def close(self) -> None:
        admin, self._admin = self._admin, None
        offsets, self._offsets = self._offsets, None
        with contextlib.suppress(Exception):
            if admin is not None:
                await admin.close()
        with contextlib.suppress(Exception):
            if offsets is not None:
                await offsets.stop()
