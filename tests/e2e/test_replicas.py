"""Two replicas of every service (Q2C_REPLICAS=2, docs/messaging.md "Replicas") on the test
stack: the second replica of each service is started for this module and stopped after it.
Quote lifecycles complete with every journal exactly once; the message processor runs in both
quote replicas and each message is processed once, in order; and a quote replica SIGKILLed
mid-load (the one publishing its outbox) loses nothing and doubles nothing: the other takes
its partitions and the relay's lock over."""

import asyncio
import dataclasses
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from q2c_localstack import kafka_security, postgres, services, stack
from q2c_localstack.bench import LIFECYCLE_STEPS, _SalesClient
from q2c_localstack.config import ServiceSpec, StackConfig
from q2c_localstack.probe import Watched, groups_settled, stack_watch

from ..http_clients import http_get
from .quote_clients import QUOTE_TOPICS, QuoteClients, assert_one_accepted_result_each, assert_sent_exactly_once

LIFECYCLES = 12
# the outbox relay's session lock (q2c_messaging.outbox._RELAY_LOCK_KEY): which replica publishes
RELAY_LOCK_KEY = 7_204_118


def _spec(config: StackConfig, name: str) -> ServiceSpec:
    return next(s for s in config.services if s.name == name)


@pytest.fixture(scope="module")
def replicated(running_stack: StackConfig) -> Iterator[StackConfig]:
    config = dataclasses.replace(running_stack, replicas=2)
    try:
        stack.scale(config, lambda _: None)
        # the work is shared from a test's first record on: replica 2's consumers are in every group
        asyncio.run(groups_settled(config, kafka_security.credentials(config, "operator")))
        yield config
    finally:
        stack.scale(running_stack, lambda _: None)  # back to one replica (replica 1 restarted if it died)
        # the next module's first record is not held up by the groups' rebalance
        asyncio.run(groups_settled(running_stack, kafka_security.credentials(running_stack, "operator")))


def _watch(config: StackConfig) -> Watched:
    return stack_watch(config)


async def _handled(config: StackConfig, service: ServiceSpec, replica: int) -> float:
    """Messages this replica has handled since it started (q2c_messages_total, every topic)."""
    status, body = await http_get(config.http_port(service, replica), "/metrics")
    assert status == 200
    return sum(s.value for f in text_string_to_metric_families(body) for s in f.samples
               if s.name == "q2c_messages_total" and s.labels.get("outcome") == "handled")


async def test_sales_lifecycles_with_two_replicas_complete_with_each_journal_once(
        replicated: StackConfig, probe_factory: Any) -> None:
    probe = await probe_factory("scm.quote.events")
    sharing = [_spec(replicated, n) for n in ("dual-write-adapter", "quote", "ownership")]
    before = {(s.name, r): await _handled(replicated, s, r) for s in sharing for r in (1, 2)}
    async with _SalesClient(replicated.kafka_bootstrap, kafka_security.credentials(replicated, "sales-connector"),
                            timeout=60) as sales:
        latencies: dict[str, list[float]] = {step: [] for step in LIFECYCLE_STEPS}
        numbers = await asyncio.gather(*(sales.lifecycle(latencies) for _ in range(LIFECYCLES)))
    await probe.quiescent(_watch(replicated), timeout=120)

    # both replicas of each service on the lifecycle's path did part of the work
    after = {key: await _handled(replicated, _spec(replicated, key[0]), key[1]) for key in before}
    assert all(after[key] > before[key] for key in before), {k: after[k] - before[k] for k in before}
    for number in numbers:
        events = probe.matching("scm.quote.events", lambda r, n=number: r.key == n)
        versions: dict[int, set[str]] = defaultdict(set)
        posted: dict[str, set[str]] = defaultdict(set)
        for event in events:
            versions[event.value["version"]].add(event.value["event_id"])
            for journal in event.value["quotation"].get("journals") or []:
                posted[journal["type"]].add(journal["journal_number"])
        assert all(len(ids) == 1 for ids in versions.values()), (number, versions)  # one event per version
        assert sorted(versions) == list(range(1, len(versions) + 1)), number
        last = max(events, key=lambda r: r.value["version"]).value["quotation"]
        assert last["SALESQUOTATIONSTATUS"] == "confirmed"
        assert Counter(j["type"] for j in last["journals"]) == Counter({"quotation": 1, "confirmation": 1})
        assert {kind: len(ids) for kind, ids in posted.items()} == {"quotation": 1, "confirmation": 1}, number


async def test_the_processor_in_two_replicas_processes_each_message_once_in_order(
        replicated: StackConfig, probe_factory: Any, stopped_processor: None) -> None:
    """A backlog queued while the processor is stopped, then both quote replicas' processor
    loops started on it (which replica takes each turn is up to timing; often the one woken
    by the parameter change works the whole backlog off): each message Processed once, each
    quotation's journals in order."""
    clients = QuoteClients(await probe_factory(*QUOTE_TOPICS))
    numbers = [await clients.create_sales_quote() for _ in range(6)]
    for n, number in enumerate(numbers):
        assert (await clients.sales("quote.send", number))["outcome"] == "accepted"
        confirmed = await clients.sales("quote.confirm", number, {"sales_order_number": f"R-SO-{n}"})
        assert confirmed["outcome"] == "accepted"
    mine = set(numbers)
    await clients.probe.wait_for("scm.processor.events", lambda r: r.value["document"] in mine
                                 and r.value["state"] == "Queued", count=3 * len(numbers))

    await clients.set_parameter("MessageProcessorRunning", True)
    await clients.probe.wait_for("scm.processor.events", lambda r: r.value["document"] in mine
                                 and r.value["state"] == "Processed", count=3 * len(numbers), timeout=60)
    await clients.probe.quiescent(_watch(replicated), timeout=120)
    processed = Counter(r.value["message_id"] for r in clients.probe.matching(
        "scm.processor.events", lambda r: r.value["document"] in mine and r.value["state"] == "Processed"))
    distinct = {r.headers["message_id"]: r.value["message_id"] for r in clients.probe.matching(
        "scm.processor.events", lambda r: r.value["document"] in mine and r.value["state"] == "Processed")}
    # a record the relay sent twice carries one message id: one processing per message
    assert len(distinct) == len(processed) == 3 * len(numbers), processed
    for n, number in enumerate(numbers):
        final = await clients.last_state(number, version=7)
        assert [e.value["type"] for e in clients.events(number)][-3:] == [
            "quote.journal-created", "quote.confirmation-journal-created", "quote.linked-to-sales-order"], number
        assert [j["type"] for j in final["quotation"]["journals"]] == ["quotation", "confirmation"], number
        assert final["quotation"]["GENERATEDSALESORDERNUMBER"] == f"R-SO-{n}"


async def _relay_holder(config: StackConfig, service: ServiceSpec, timeout: float = 60.0) -> str:
    """The application_name (`quote`, `quote-2`) of the session that holds the service's
    outbox relay lock, once one does."""
    conn = await asyncpg.connect(postgres.admin_dsn(config, service.database))
    try:
        deadline = time.monotonic() + timeout
        while True:
            holder = await conn.fetchval(
                "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND l.granted AND l.objid = $1 AND a.datname = $2",
                RELAY_LOCK_KEY, service.database)
            if holder:
                return str(holder)
            if time.monotonic() > deadline:
                raise TimeoutError(f"no relay of {service.name} holds the lock after {timeout}s")
            await asyncio.sleep(0.1)  # polling the fact
    finally:
        await conn.close()


async def test_a_killed_quote_replica_loses_and_doubles_nothing(replicated: StackConfig, probe_factory: Any) -> None:
    quote = _spec(replicated, "quote")
    clients = QuoteClients(await probe_factory(*QUOTE_TOPICS))
    numbers = [await clients.create_scm_quote() for _ in range(20)]
    sends = [clients.scm_command("quote.send", number) for number in numbers]
    ids = {command["command_id"] for command in sends}
    holder = await _relay_holder(replicated, quote)
    victim = 1 if holder == "quote" else int(holder.rsplit("-", 1)[1])

    # When the sends are in flight and the quote replica that publishes the outbox is SIGKILLed
    for command in sends:
        await clients.publish_scm(command)
    await clients.probe.wait_for("scm.command.results", lambda r: r.key in ids, count=2, timeout=30)
    services.kill(replicated, quote, victim)

    # Then, with it still down, the other replica answers every command: it took the killed
    # consumers' partitions and the relay's lock over (PostgreSQL ended the dead session)
    await clients.probe.wait_for("scm.command.results", lambda r: r.key in ids, count=len(ids), timeout=120)
    assert await _relay_holder(replicated, quote) == ("quote-2" if victim == 1 else "quote")
    _, offset = services.start(replicated, quote, victim)
    services.wait_ready(replicated, quote, offset, victim)
    await clients.probe.quiescent(_watch(replicated), timeout=120)

    # and each command has one result, each quotation one event per version and one journal
    assert_one_accepted_result_each(clients.probe, ids)
    await assert_sent_exactly_once(clients, numbers)
