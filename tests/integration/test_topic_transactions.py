"""One transaction per topic and poll (q2c_messaging.batching, docs/messaging.md): the records
a consumer polls from several partitions of one topic share a chunk's transaction, each
partition's records in offset order, on a real broker and database. A throwaway service
with one consumer reads a topic of three partitions whose records were all published
before it started, so that its first polls carry records of every partition."""

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from uuid import uuid4

import pytest
from pydantic import BaseModel

from q2c_contracts.topics import dead_letter_topic
from q2c_localstack.config import StackConfig
from q2c_localstack.probe import TopicProbe, Watched
from q2c_messaging.catalog import parse_catalog
from q2c_messaging.consumer import Handling, Route
from q2c_messaging.runtime import ServiceRuntime
from q2c_messaging.settings import RuntimeSettings

from ..conftest import create_topic

PARTITIONS = 3
KEYS = [f"doc-{n}" for n in range(9)]  # enough keys to land on every partition
PER_KEY = 6


class Ping(BaseModel):
    message_id: str
    n: int
    explode: bool = False


@dataclass
class Topics:
    inbound: str
    outbound: str
    dlq: str


@dataclass
class Service:
    topics: Topics
    start: Callable[[], Awaitable[ServiceRuntime]]
    watch: Watched


def _handler(outbound: str) -> Callable[[Handling[Ping]], Awaitable[None]]:
    async def handle(handling: Handling[Ping]) -> None:
        ping, source = handling.message, handling.source
        await handling.conn.execute(
            "INSERT INTO effect (message_id, n, key, partition, tx) VALUES ($1, $2, $3, $4, txid_current())",
            ping.message_id, ping.n, source.key.decode() if source.key else "", source.partition)
        if ping.explode:
            raise RuntimeError(f"ping {ping.message_id} cannot be handled")
        await handling.outbox.append(outbound, source.key.decode() if source.key else "",
                                     f'{{"pong": "{ping.message_id}"}}'.encode(),
                                     message_id=str(uuid4()), type="it.ponged")
    return handle


@pytest.fixture
async def service(scratch_db: str, running_stack: StackConfig, tmp_path: Path) -> AsyncIterator[Service]:
    bootstrap = running_stack.kafka_bootstrap
    name = f"it-tx-{uuid4().hex[:8]}"
    inbound = await create_topic(bootstrap, partitions=PARTITIONS)
    topics = Topics(inbound, await create_topic(bootstrap, partitions=1),
                    await create_topic(bootstrap, partitions=1, name=dead_letter_topic(inbound)))
    (tmp_path / "0001_effect.sql").write_text(
        "CREATE TABLE effect (id bigserial PRIMARY KEY, message_id text NOT NULL, n integer NOT NULL,"
        " key text NOT NULL, partition integer NOT NULL, tx bigint NOT NULL)")
    http_port = running_stack.http_base_port + 91
    runtime = ServiceRuntime(
        name, tmp_path, catalog=parse_catalog({
            "services": [name],
            "topics": {topics.inbound: {"partitions": PARTITIONS, "writers": ["tests"], "consumers": [name]},
                       topics.outbound: {"partitions": 1, "writers": [name]}},
        }),
        settings=RuntimeSettings(db_url=scratch_db, kafka_bootstrap=bootstrap, relay_poll_interval=0.2,
                                 http_port=http_port, consumer_workers=1),
    )
    runtime.route(Route(topic=topics.inbound, parse=Ping.model_validate, message_id=lambda p: p.message_id,
                        handle=_handler(topics.outbound)))
    started = False

    async def start() -> ServiceRuntime:
        nonlocal started
        await runtime.app.start()
        started = True
        return runtime

    yield Service(topics, start, Watched(groups={name: (topics.inbound,)},
                                         metrics={name: f"http://127.0.0.1:{http_port}/metrics"}))
    if started:
        await runtime.app.stop()


async def _publish_all(probe: TopicProbe, inbound: str, explode: frozenset[str] = frozenset()) -> list[str]:
    ids = [f"{key}/{n}" for n in range(PER_KEY) for key in KEYS]
    await probe.publish_many([(inbound, message_id.split("/")[0],
                               {"message_id": message_id, "n": int(message_id.split("/")[1]),
                                "explode": message_id in explode}) for message_id in ids])
    return ids


async def test_the_partitions_of_a_poll_share_a_transaction_each_in_offset_order(
        service: Service, probe_factory: Callable[..., Awaitable[TopicProbe]]) -> None:
    probe = await probe_factory(service.topics.outbound)
    # Given records of every partition of a topic, published before the service starts
    ids = await _publish_all(probe, service.topics.inbound)
    # When it starts and reads them
    runtime = await service.start()
    await probe.wait_for(service.topics.outbound, count=len(ids), timeout=60)
    await probe.quiescent(service.watch)
    rows = await runtime.pool.fetch("SELECT message_id, n, key, partition, tx FROM effect ORDER BY id")
    # Then each was handled once
    assert sorted(r["message_id"] for r in rows) == sorted(ids)
    assert len({r["partition"] for r in rows}) == PARTITIONS
    # and records of different partitions shared a transaction
    partitions_per_tx: dict[int, set[int]] = {}
    for r in rows:
        partitions_per_tx.setdefault(r["tx"], set()).add(r["partition"])
    assert max(len(p) for p in partitions_per_tx.values()) > 1
    # and each key's records (one partition's) were handled in the order they were published
    for key in KEYS:
        assert [r["n"] for r in rows if r["key"] == key] == list(range(PER_KEY))
    # and every key's answers went out in that order too
    for key in KEYS:
        pongs = [r.value["pong"] for r in probe.matching(service.topics.outbound) if r.key == key]
        assert pongs == [f"{key}/{n}" for n in range(PER_KEY)]


async def test_a_failing_record_is_dead_lettered_alone_and_the_other_partitions_commit(
        service: Service, probe_factory: Callable[..., Awaitable[TopicProbe]]) -> None:
    probe = await probe_factory(service.topics.outbound, service.topics.dlq)
    # Given a record whose handler raises, in a poll with records of other partitions
    bad = f"{KEYS[0]}/2"
    ids = await _publish_all(probe, service.topics.inbound, explode=frozenset({bad}))
    runtime = await service.start()
    # Then it alone goes to the dead-letter topic; every other record is handled once
    [letter] = await probe.wait_for(service.topics.dlq, timeout=60)
    assert letter.headers["error.code"] == "handler.failed"
    await probe.wait_for(service.topics.outbound, count=len(ids) - 1, timeout=60)
    await probe.quiescent(service.watch)
    handled = await runtime.pool.fetch("SELECT message_id FROM effect ORDER BY id")
    assert sorted(r["message_id"] for r in handled) == sorted(set(ids) - {bad})
    for key in KEYS:  # the failing one's key keeps its order around the gap
        expected = [f"{key}/{n}" for n in range(PER_KEY) if f"{key}/{n}" != bad]
        assert [r.value["pong"] for r in probe.matching(service.topics.outbound) if r.key == key] == expected
