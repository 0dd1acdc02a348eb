"""The floor under a lifecycle step's latency: ONE hop through the messaging core with a
handler that does nothing but write its one outgoing message, measured one message at a time
(`make bench` reports it after the lifecycles; docs/performance.md "The floor of one hop").

A hop is what every q2c service does per message: the consumer's poll, a transaction (inbox
claim, the outbox row, commit with a synchronous WAL flush), the relay woken by NOTIFY, its
read, the publish with acks=all, and the client's fetch. The client publishes and waits for the
answer; the throwaway service runs in this process on the messaging library as the services
do (`ServiceRuntime`), against the stack's broker and PostgreSQL."""

import tempfile
import time
from pathlib import Path
from uuid import uuid4

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from pydantic import BaseModel

from q2c_contracts.topics import dead_letter_topic
from q2c_messaging.catalog import parse_catalog
from q2c_messaging.consumer import Handling, Route
from q2c_messaging.producer import make_producer
from q2c_messaging.runtime import ServiceRuntime
from q2c_messaging.security import security_kwargs
from q2c_messaging.settings import RuntimeSettings

from . import postgres
from .config import StackConfig
from .kafka_security import BROKER, credentials

HOP_SAMPLES = 300
WARM_UP = 20
# Service hops of each lifecycle step (the Sales client's own publish and fetch not counted):
# a create or a line goes adapter → quote → adapter; activate and win add the ownership round
# trip: adapter → quote → ownership → quote → adapter.
STEP_HOPS = {"create, line": 3, "activate, win": 5}


class _Ping(BaseModel):
    message_id: str
    n: int


async def hop_latencies(config: StackConfig, samples: int = HOP_SAMPLES) -> list[float]:
    """`samples` hops one after the other (after a warm-up): each one's time in ms."""
    login = credentials(config, BROKER)
    inbound, outbound = f"bench.hop.in.{uuid4().hex[:8]}", f"bench.hop.out.{uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=config.kafka_bootstrap, **security_kwargs(login, from_env=False))
    await admin.start()
    await admin.create_topics([NewTopic(t, 1, config.replication_factor)
                               for t in (inbound, outbound, dead_letter_topic(inbound))])
    database = f"q2c_hop_{uuid4().hex[:8]}"
    db_admin = await asyncpg.connect(postgres.admin_dsn(config))
    await db_admin.execute(f'CREATE DATABASE "{database}"')
    migrations = Path(tempfile.mkdtemp(prefix="q2c-hop-"))
    (migrations / "0001_nothing.sql").write_text("SELECT 1")
    service = f"bench-hop-{uuid4().hex[:6]}"
    runtime = ServiceRuntime(service, migrations, catalog=parse_catalog({
        "services": [service],
        "topics": {inbound: {"partitions": 1, "writers": ["bench"], "consumers": [service]},
                   outbound: {"partitions": 1, "writers": [service]}},
    }), settings=RuntimeSettings(
        db_url=postgres.admin_dsn(config, database), kafka_bootstrap=config.kafka_bootstrap, http_port=0,
        log_level="WARNING", kafka_username=login.username if login else "",
        kafka_password=login.password if login else "",  # type: ignore[arg-type]  # pydantic takes the str
    ))

    async def answer(handling: Handling[_Ping]) -> None:
        await handling.outbox.append(outbound, "hop", b'{"pong": true}', message_id=str(uuid4()), type="bench.pong")

    runtime.route(Route(topic=inbound, parse=_Ping.model_validate, message_id=lambda p: p.message_id,
                        handle=answer))
    producer = make_producer(config.kafka_bootstrap, "bench-hop", login)
    answers = AIOKafkaConsumer(bootstrap_servers=config.kafka_bootstrap, enable_auto_commit=False,
                               **security_kwargs(login, from_env=False))
    latencies: list[float] = []
    try:
        await producer.start()
        await answers.start()
        answers.assign([TopicPartition(outbound, 0)])
        await answers.seek_to_end(TopicPartition(outbound, 0))
        async with runtime.app:
            for n in range(WARM_UP + samples):
                started = time.perf_counter()
                await producer.send_and_wait(inbound, f'{{"message_id": "{uuid4()}", "n": {n}}}'.encode(), key=b"hop")
                while not await answers.getmany(timeout_ms=5_000, max_records=1):
                    pass
                if n >= WARM_UP:
                    latencies.append((time.perf_counter() - started) * 1000)
    finally:
        await producer.stop()
        await answers.stop()
        await db_admin.execute(f'DROP DATABASE "{database}" WITH (FORCE)')
        await db_admin.close()
        await admin.delete_topics([inbound, outbound, dead_letter_topic(inbound)])
        await admin.close()
    return latencies
