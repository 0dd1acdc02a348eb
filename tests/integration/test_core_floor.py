"""The bench's floor of the messaging core (`q2c_localstack.hopfloor.Chain`), on the test
stack's real broker and PostgreSQL: every ping published into a chain of services, each its
own process and database, comes out of its end once, in each of the three ways the bench
sends them, and the chain leaves no topic, database or process behind. The figures themselves
are `make bench`'s (docs/performance.md), not asserted here."""

import asyncpg
from aiokafka.admin import AIOKafkaAdminClient

from q2c_localstack import postgres
from q2c_localstack.config import StackConfig
from q2c_localstack.hopfloor import Chain
from q2c_messaging.security import security_kwargs


async def _leftovers(config: StackConfig, tag: str) -> tuple[list[str], list[str]]:
    admin = AIOKafkaAdminClient(bootstrap_servers=config.kafka_bootstrap, **security_kwargs())
    await admin.start()
    try:
        topics = [t for t in await admin.list_topics() if tag in t]
    finally:
        await admin.close()
    conn = await asyncpg.connect(postgres.admin_dsn(config))
    try:
        databases = [r["datname"] for r in await conn.fetch("SELECT datname FROM pg_database")
                     if tag in r["datname"]]
    finally:
        await conn.close()
    return topics, databases


async def test_every_ping_goes_through_the_chain_once_and_the_chain_cleans_up(running_stack: StackConfig) -> None:
    chain = Chain(running_stack, hops=2)
    async with chain:
        assert len(chain.pids) == 2
        one_by_one = await chain.one_at_a_time(samples=5)
        assert len(one_by_one) == 5 and all(ms > 0 for ms in one_by_one)
        hops_per_second = await chain.burst(200, timeout=60)  # raises when a ping does not come out in time
        assert hops_per_second > 0
        arrivals = await chain.open_loop(hops_per_second=40, seconds=1.0)
        assert 5 <= len(arrivals) <= 60  # about 20 pings at 20 per second (Poisson), each timed
        assert not chain.waiting  # every ping sent came out of the chain's end
        assert chain.duplicates == 0  # and once
    assert not any(process.is_alive() for process in chain.processes)
    assert await _leftovers(running_stack, chain.tag) == ([], [])
