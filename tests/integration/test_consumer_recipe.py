"""The consumer recipe (inbox, dead letters, retries, commit after the database) on a real
broker and database, through a throwaway service built on the same ServiceRuntime as the
real services."""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from uuid import uuid4

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from pydantic import BaseModel

from q2c_contracts.topics import dead_letter_topic
from q2c_localstack.config import StackConfig
from q2c_localstack.probe import TopicProbe, Watched
from q2c_messaging.catalog import parse_catalog
from q2c_messaging.consumer import Handling, Route
from q2c_messaging.runtime import ServiceRuntime
from q2c_messaging.security import security_kwargs
from q2c_messaging.settings import RuntimeSettings

from ..conftest import create_topic


class Ping(BaseModel):
    message_id: str
    n: int
    explode: bool = False


@dataclass
class ServiceUnderTest:
    name: str
    inbound: str
    outbound: str
    runtime: ServiceRuntime
    watch: Watched  # for `probe.quiescent`: its group and its /metrics (outbox lag)

    @property
    def pool(self) -> asyncpg.Pool:
        return self.runtime.pool  # a restart opens a new pool

    async def effects(self, message_id: str) -> int:
        return await self.pool.fetchval("SELECT count(*) FROM effect WHERE message_id = $1", message_id)


async def _handle(handling: Handling[Ping]) -> None:
    ping = handling.message
    await handling.conn.execute("INSERT INTO effect (message_id, n) VALUES ($1, $2)", ping.message_id, ping.n)
    if ping.explode:
        raise RuntimeError(f"ping {ping.n} cannot be handled")
    await handling.outbox.append(TOPICS["out"], handling.source.key.decode(), f'{{"pong": {ping.n}}}'.encode(),
                                 message_id=str(uuid4()), type="it.ponged")


TOPICS: dict[str, str] = {}


def _build(name: str, inbound: str, outbound: str, db: str, bootstrap: str, migrations: Path,
           http_port: int) -> ServiceRuntime:
    catalog = parse_catalog({
        "services": [name],
        "topics": {
            inbound: {"partitions": 1, "writers": ["tests"], "consumers": [name]},
            outbound: {"partitions": 1, "writers": [name]},
        },
    })
    runtime = ServiceRuntime(
        name, migrations, catalog=catalog,
        settings=RuntimeSettings(db_url=db, kafka_bootstrap=bootstrap, relay_poll_interval=0.2,
                                 http_port=http_port),
    )
    runtime.route(Route(topic=inbound, parse=Ping.model_validate, message_id=lambda p: p.message_id,
                        handle=_handle, wanted=lambda p: p.n >= 0))  # a negative ping is not for it
    return runtime


@pytest.fixture
async def service(scratch_db: str, running_stack: StackConfig, tmp_path: Path) -> AsyncIterator[ServiceUnderTest]:
    bootstrap = running_stack.kafka_bootstrap
    name = f"it-svc-{uuid4().hex[:8]}"
    inbound = await create_topic(bootstrap, partitions=1)
    await create_topic(bootstrap, partitions=1, name=dead_letter_topic(inbound))
    outbound = await create_topic(bootstrap, partitions=1)
    TOPICS["out"] = outbound
    (tmp_path / "0001_effect.sql").write_text(
        "CREATE TABLE effect (id bigserial PRIMARY KEY, message_id text NOT NULL, n integer NOT NULL)")
    # a port beside the stack's services (base + 1…6), below the ephemeral range as theirs
    http_port = running_stack.http_base_port + 90
    runtime = _build(name, inbound, outbound, scratch_db, bootstrap, tmp_path, http_port)
    watch = Watched(groups={name: (inbound,)}, metrics={name: f"http://127.0.0.1:{http_port}/metrics"})
    async with runtime.app:
        yield ServiceUnderTest(name, inbound, outbound, runtime, watch)


async def test_redelivered_message_changes_nothing(service: ServiceUnderTest, probe_factory) -> None:
    probe = await probe_factory(service.outbound)
    # Given one message delivered three times (same message id)
    for _ in range(3):
        await probe.publish(service.inbound, "doc-1", {"message_id": "m-1", "n": 1})
    await probe.publish(service.inbound, "doc-1", {"message_id": "m-2", "n": 2})
    # Then it is handled once: one effect, one outgoing message
    await probe.wait_for(service.outbound, count=2)
    await probe.quiescent(service.watch)
    assert await service.effects("m-1") == 1
    assert await service.effects("m-2") == 1
    assert len(probe.matching(service.outbound, lambda r: r.headers["causation_id"] == "m-1")) == 1


async def test_reconsuming_the_whole_partition_changes_nothing(service: ServiceUnderTest, probe_factory,
                                                               bootstrap: str) -> None:
    probe = await probe_factory(service.outbound)
    for n in range(5):
        await probe.publish(service.inbound, "doc-1", {"message_id": f"r-{n}", "n": n})
    await probe.wait_for(service.outbound, count=5)
    # When the service stops and its group's offset is rewound to the start (a redelivery
    # of everything, as after a crash between the database commit and the offset commit)
    await _rewind(service, bootstrap)
    await probe.quiescent(service.watch)
    # Then nothing is handled twice
    for n in range(5):
        assert await service.effects(f"r-{n}") == 1
    assert len(probe.matching(service.outbound)) == 5


async def test_poison_messages_go_to_the_dlq_and_the_partition_keeps_flowing(service: ServiceUnderTest,
                                                                            probe_factory) -> None:
    dlq = dead_letter_topic(service.inbound)
    probe = await probe_factory(service.outbound, dlq)
    poison = [b"not json at all", b'{"n": 1}', b"[1, 2]", b'{"message_id": "p", "n": "many"}']
    await probe.publish(service.inbound, "doc-9", {"message_id": "before", "n": 0})
    for raw in poison:
        await probe.publish(service.inbound, "doc-9", raw)
    await probe.publish(service.inbound, "doc-9", {"message_id": "after", "n": 1})

    letters = await probe.wait_for(dlq, count=len(poison))
    await probe.wait_for(service.outbound, count=2)
    assert await service.effects("before") == 1
    assert await service.effects("after") == 1
    assert [letter.raw for letter in letters] == poison
    for offset, letter in enumerate(letters, start=1):
        assert letter.key == "doc-9"
        assert set(letter.headers) == {"error.code", "error.text", "source.topic", "source.partition",
                                       "source.offset"}
        assert letter.headers["source.topic"] == service.inbound
        assert letter.headers["source.partition"] == "0"
        assert letter.headers["source.offset"] == str(offset)
        assert letter.headers["error.text"]
    assert [letter.headers["error.code"] for letter in letters] == [
        "message.not-json", "message.invalid", "message.not-json", "message.invalid"]
    assert "n: Input should be a valid integer" in letters[3].headers["error.text"]
    assert "message_id: Field required" in letters[1].headers["error.text"]


async def test_a_handler_that_keeps_failing_is_retried_then_dead_lettered(service: ServiceUnderTest,
                                                                          probe_factory) -> None:
    dlq = dead_letter_topic(service.inbound)
    probe = await probe_factory(service.outbound, dlq)
    await probe.publish(service.inbound, "doc-5", {"message_id": "x", "n": 7, "explode": True})
    await probe.publish(service.inbound, "doc-5", {"message_id": "y", "n": 8})
    [letter] = await probe.wait_for(dlq)
    await probe.wait_for(service.outbound)
    assert letter.headers["error.code"] == "handler.failed"
    assert "ping 7 cannot be handled" in letter.headers["error.text"]
    # Each attempt was rolled back whole; the inbox keeps the message id: dead-lettered
    # counts as handled, so a replay does not dead-letter it again.
    assert await service.effects("x") == 0
    assert await service.pool.fetchval(
        "SELECT count(*) FROM inbox WHERE consumer = $1 AND message_id = 'x'", service.name) == 1
    assert await service.effects("y") == 1


async def _rewind(service: ServiceUnderTest, bootstrap: str) -> None:
    """Stop the service, reset its group's offset to 0 (a replay of everything), start it."""
    await service.runtime.app.stop()
    rewinder = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=service.name, enable_auto_commit=False,
                                **security_kwargs())
    await rewinder.start()
    tp = TopicPartition(service.inbound, 0)
    rewinder.assign([tp])
    await rewinder.commit({tp: 0})
    await rewinder.stop()
    await service.runtime.app.start()


async def test_a_replay_from_offset_zero_adds_nothing_to_any_topic(service: ServiceUnderTest, probe_factory,
                                                                   bootstrap: str) -> None:
    dlq = dead_letter_topic(service.inbound)
    probe = await probe_factory(service.outbound, dlq)
    # Given handled messages, poison messages (no message id) and one that crashes the handler
    await probe.publish(service.inbound, "doc-7", {"message_id": "a", "n": 1})
    await probe.publish(service.inbound, "doc-7", b"not json")
    await probe.publish(service.inbound, "doc-7", {"message_id": "b", "n": "many"})
    await probe.publish(service.inbound, "doc-7", {"message_id": "c", "n": 3, "explode": True})
    await probe.publish(service.inbound, "doc-7", {"message_id": "d", "n": 4})
    await probe.wait_for(dlq, count=3)
    await probe.wait_for(service.outbound, count=2)
    inbox_before = await service.pool.fetch("SELECT message_id FROM inbox ORDER BY message_id")
    # When the group is reset to offset 0 and everything is read again
    await _rewind(service, bootstrap)
    await probe.quiescent(service.watch)
    # Then no topic gets a record, dead-letter queue included, and the database is unchanged
    assert len(probe.matching(dlq)) == 3
    assert len(probe.matching(service.outbound)) == 2
    assert await service.pool.fetch("SELECT message_id FROM inbox ORDER BY message_id") == inbox_before
    assert [await service.effects(m) for m in "abcd"] == [1, 0, 0, 1]


async def test_a_batch_of_many_records_keeps_order_and_skips_only_the_bad_one(service: ServiceUnderTest,
                                                                              probe_factory) -> None:
    dlq = dead_letter_topic(service.inbound)
    probe = await probe_factory(service.outbound, dlq)
    # Given many records on one partition at once (they arrive in batches), one of which fails
    messages = [{"message_id": f"k-{n}", "n": n, "explode": n == 77} for n in range(300)]
    await probe.publish_many([(service.inbound, "doc-k", m) for m in messages])
    await probe.wait_for(service.outbound, count=299, timeout=60)
    [letter] = await probe.wait_for(dlq)
    assert letter.headers["error.code"] == "handler.failed"
    # Then every other record was handled once, in offset order
    rows = await service.pool.fetch("SELECT n FROM effect ORDER BY id")
    assert [r["n"] for r in rows] == [n for n in range(300) if n != 77]
    # and the chunk's outbox rows, written together before each commit, went out in that order
    assert [r.value["pong"] for r in probe.matching(service.outbound)] == [n for n in range(300) if n != 77]


async def test_an_unwanted_message_is_passed_over_without_a_trace(service: ServiceUnderTest, probe_factory) -> None:
    probe = await probe_factory(service.outbound)
    await probe.publish(service.inbound, "doc-u", {"message_id": "u-1", "n": -1})  # not wanted
    await probe.publish(service.inbound, "doc-u", {"message_id": "u-2", "n": 2})
    [pong] = await probe.wait_for(service.outbound)
    await probe.quiescent(service.watch)  # its offset is committed too
    assert pong.value == {"pong": 2}
    assert [await service.effects(m) for m in ("u-1", "u-2")] == [0, 1]
    inbox = await service.pool.fetch("SELECT message_id FROM inbox WHERE consumer = $1", service.name)
    assert [r["message_id"] for r in inbox] == ["u-2"]


async def test_quiescent_waits_for_a_stopped_service_and_names_its_group(service: ServiceUnderTest,
                                                                       probe_factory) -> None:
    """The probe's absence check itself: quiet only once the group has handled everything."""
    probe = await probe_factory(service.outbound)
    await probe.publish(service.inbound, "doc-q", {"message_id": "q-1", "n": 1})
    await probe.quiescent(service.watch)
    assert len(probe.matching(service.outbound)) == 1  # quiet means every effect is on its topic
    # A record the stopped service cannot handle: the stack is not quiet, and the error says where
    await service.runtime.app.stop()
    await probe.publish(service.inbound, "doc-q", {"message_id": "q-2", "n": 2})
    with pytest.raises(TimeoutError, match=rf"group {service.name} at 1 of 2 on {service.inbound}\[0\]"):
        await probe.quiescent(service.watch, timeout=1.0)  # it cannot become quiet while stopped
    await service.runtime.app.start()
    await probe.quiescent(service.watch)
    assert await service.effects("q-2") == 1
    assert len(probe.matching(service.outbound)) == 2


async def a_handled_record(service: ServiceUnderTest, probe_factory, tag: str) -> TopicProbe:
    """A probe on the service's output, after one record went through: the consumers run."""
    probe = await probe_factory(service.outbound)
    await probe.publish(service.inbound, "doc-1", {"message_id": f"before-{tag}", "n": 1})
    await probe.wait_for(service.outbound, count=1)
    return probe


async def three_more_are_each_handled_once(service: ServiceUnderTest, probe: TopicProbe, tag: str) -> None:
    for n in range(2, 5):
        await probe.publish(service.inbound, "doc-1", {"message_id": f"after-{tag}-{n}", "n": n})
    await probe.wait_for(service.outbound, count=4)
    await probe.quiescent(service.watch)
    for n in range(2, 5):
        assert await service.effects(f"after-{tag}-{n}") == 1


async def test_a_consumer_whose_group_membership_died_is_replaced_and_its_partitions_read(
        service: ServiceUnderTest, probe_factory) -> None:
    probe = await a_handled_record(service, probe_factory, "membership")
    # Given every consumer of the service in the state CI once met after a broker SIGKILL: the
    # aiokafka task that runs its group membership died of an unforeseen error, so each poll
    # raises it, while its heartbeats go on and keep its partitions assigned to it.
    consumer_loop = service.runtime._consumer
    assert consumer_loop is not None
    broken = list(consumer_loop._consumers)
    for consumer in broken:
        coordinator = consumer._coordinator
        coordinator._coordination_task.cancel()
        coordinator._coordination_task = asyncio.get_running_loop().create_future()
        coordinator._coordination_task.set_exception(KafkaError(
            "Unexpected error during coordination RuntimeError('unable to perform operation on "
            "<TCPTransport closed=True>; the handler is closed')"))
    # When messages arrive, then new consumers take the partitions and handle them, each once
    await three_more_are_each_handled_once(service, probe, "membership")
    assert not set(map(id, broken)) & set(map(id, consumer_loop._consumers))


async def test_a_consumer_whose_heartbeat_task_died_polls_on_and_reads_its_partitions(
        service: ServiceUnderTest, probe_factory) -> None:
    probe = await a_handled_record(service, probe_factory, "heartbeat")
    # Given the state a soak reproduced after a broker SIGKILL (docs/messaging.md "A consume
    # loop never ends"): a heartbeat written on a connection the broker had just closed raises
    # uvloop's RuntimeError, which aiokafka does not catch; its heartbeat task dies, and its
    # coordinator hands the error to the next poll, once, then waits until a poll has seen it.
    # The old loop caught only KafkaError there: its task ended, the partitions stayed
    # assigned and unread.
    consumer_loop = service.runtime._consumer
    assert consumer_loop is not None
    raised: list[object] = []
    all_raised = asyncio.Event()
    for consumer in consumer_loop._consumers:
        coordinator = consumer._coordinator
        heartbeat = coordinator._do_heartbeat

        async def closed_transport(heartbeat=heartbeat, coordinator=coordinator) -> bool:
            if coordinator not in raised:
                raised.append(coordinator)
                if len(raised) == len(consumer_loop._consumers):
                    all_raised.set()
                raise RuntimeError("unable to perform operation on <TCPTransport closed=True>; "
                                   "the handler is closed")
            return bool(await heartbeat())

        coordinator._do_heartbeat = closed_transport
    await asyncio.wait_for(all_raised.wait(), 10)  # each within a heartbeat interval
    # When messages arrive, then they are handled, each once, and every consume loop still runs
    await three_more_are_each_handled_once(service, probe, "heartbeat")
    assert consumer_loop.running
