"""The stack on a three-node Kafka cluster (`Q2C_KAFKA_BROKERS=3`, issue 13): every topic on
three nodes with two in sync required; a broker SIGKILLed in the middle of a Sales quote
lifecycle does not stop it, and it ends with exactly one journal of each kind; a soak on the
cluster, brokers killed among the services, loses and doubles nothing. Its own stack (it
kills brokers, which the session's stack must not suffer); figures are printed, not timed."""

import asyncio
import shutil
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.partitioner import DefaultPartitioner

from q2c_localstack import kafka, kafka_security, stack
from q2c_localstack.config import REPO_ROOT, StackConfig
from q2c_localstack.soak import soak
from q2c_messaging.security import security_kwargs

from ..conftest import PORT_OFFSET, harness_login
from .quote_clients import QUOTE_TOPICS, QuoteClients
from .sales_clients import DATAVERSE_TOPICS, SalesSystem

SOAK_SECONDS = 45.0


@pytest.fixture(scope="module")
def running_stack() -> Iterator[StackConfig]:
    """Overrides the session's stack for this module, so the e2e probes watch the cluster.
    Ports apart from the session's and the soak test's (19092…, 19192…), below 32768."""
    config = StackConfig.from_env(home=REPO_ROOT / ".q2c" / "cluster-test", kafka_brokers=3,
                                  kafka_port=19292 + PORT_OFFSET, controller_port=19293 + PORT_OFFSET,
                                  pg_port=25633 + PORT_OFFSET, http_base_port=14300 + PORT_OFFSET)
    stack.down(config, say=lambda _: None)  # leftovers of an interrupted run
    shutil.rmtree(config.home, ignore_errors=True)
    try:
        stack.up(config)
        with harness_login(config):
            yield config
    finally:  # a start that failed halfway leaves processes too
        stack.down(config)


def _admin(config: StackConfig) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(bootstrap_servers=config.kafka_bootstrap,
                               **security_kwargs(kafka_security.admin_credentials(config), from_env=False))


async def _leader(config: StackConfig, topic: str, key: str) -> int:
    """The node that leads the partition of `key` (the producers' default partitioner)."""
    admin = _admin(config)
    await admin.start()
    try:
        [described] = await admin.describe_topics([topic])
        partitions = sorted(described["partitions"], key=lambda p: p["partition"])
        chosen = DefaultPartitioner()(key.encode(), [p["partition"] for p in partitions], [])
        return int(partitions[chosen]["leader"])
    finally:
        await admin.close()


async def test_every_topic_lives_on_three_nodes_and_needs_two_in_sync(running_stack: StackConfig) -> None:
    admin = _admin(running_stack)
    await admin.start()
    try:
        described = await admin.describe_topics(["scm.quote.events", "dataverse.quote.changes", "__consumer_offsets"])
        configs = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, "scm.quote.events")])
    finally:
        await admin.close()
    for topic in described:
        assert {len(p["replicas"]) for p in topic["partitions"]} == {3}, topic["topic"]
        # the preferred leaders (first replicas) are spread over the nodes, not all on one. Not
        # the current leaders: on a starved machine a node can miss its 1 s broker session
        # (kafka.FAILOVER_SETTINGS) and its peers lead until the imbalance check (30 s) hands
        # its partitions back, which is failover working, not a layout fault.
        assert len({p["replicas"][0] for p in topic["partitions"]}) == 3, topic["topic"]
        assert all(p["leader"] in p["replicas"] for p in topic["partitions"]), topic["topic"]
    settings = {entry[0]: entry[1] for entry in configs[0].resources[0][4]}
    assert settings["min.insync.replicas"] == "2"


async def test_a_broker_killed_mid_lifecycle_stops_nothing_and_doubles_no_journal(
        running_stack: StackConfig, probe_factory: Any) -> None:
    probe = await probe_factory(*DATAVERSE_TOPICS, *QUOTE_TOPICS)
    sales, scm = SalesSystem(probe), QuoteClients(probe)
    number = await sales.create_quote()
    await sales.add_line_and_wait(number)
    await sales.row_state(number, "created")

    # When the node that leads the quotation's partition of scm.quote.events dies
    leader = await _leader(running_stack, "scm.quote.events", number)
    [victim] = [n for n in kafka.nodes(running_stack) if n.node_id == leader]
    await asyncio.to_thread(stack.kill, running_stack, victim.name)
    try:
        # the lifecycle goes on without it: activated and won while it is down
        await sales.activate(number)
        await sales.row_state(number, "sent", timeout=60)
        await sales.win(number)
        await sales.row_state(number, "confirmed", timeout=60)
        assert victim not in kafka.running_nodes(running_stack)  # all of that on two nodes
    finally:
        await asyncio.to_thread(stack.restart, running_stack, victim.name)

    # Then SCM has it confirmed with exactly one journal of each kind, ever
    confirmed = await scm.last_state(number, version=4)
    assert confirmed["quotation"]["SALESQUOTATIONSTATUS"] == "confirmed"
    await probe.quiescent()
    journal_numbers: dict[str, set[str]] = defaultdict(set)
    event_ids: dict[int, set[str]] = defaultdict(set)
    for event in scm.events(number):
        event_ids[event.value["version"]].add(event.value["event_id"])
        for journal in event.value["quotation"].get("journals") or []:
            journal_numbers[journal["type"]].add(journal["journal_number"])
    assert {kind: len(numbers) for kind, numbers in journal_numbers.items()} == {"quotation": 1, "confirmation": 1}
    assert all(len(ids) == 1 for ids in event_ids.values()), event_ids  # one event per version


async def test_a_soak_on_the_cluster_kills_brokers_and_loses_nothing(running_stack: StackConfig) -> None:
    verdict = await soak(running_stack, SOAK_SECONDS, min_kills=4, seed=13)
    print("\n".join(verdict.lines))
    brokers = sum(count for name, count in verdict.kills.items() if name.startswith("kafka-"))
    assert brokers >= 1
    assert verdict.failures == [], "\n".join(verdict.lines)
