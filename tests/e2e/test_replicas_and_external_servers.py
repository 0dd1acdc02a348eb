"""A second stack home pointed at the running broker and database server
(Q2C_KAFKA_BOOTSTRAP / Q2C_DATABASE_URL): it starts no Kafka and no PostgreSQL, provisions
the same databases and roles, and runs a second process of every service — replicas in the
same consumer groups (ARCHITECTURE.md "Beyond one machine"). Work is shared and nothing is
done twice; its `down` stops its own processes and leaves the servers alone."""

import asyncio
import dataclasses
from collections import defaultdict
from pathlib import Path

from q2c_localstack import kafka, postgres, stack
from q2c_localstack.config import StackConfig

from .quote_clients import QUOTE_TOPICS, QuoteClients


async def test_replicas_against_external_servers_share_the_work_once(running_stack: StackConfig, probe_factory,
                                                                     tmp_path: Path) -> None:
    replicas = dataclasses.replace(
        running_stack, home=tmp_path / "replicas", external_kafka=running_stack.kafka_bootstrap,
        external_pg_admin=postgres.admin_dsn(running_stack),
        # beside the stack's own ports (base + 1…6): base + 1000 would be another run's
        # stack when test runs are kept apart by Q2C_TEST_PORT_OFFSET steps of 1000
        http_base_port=running_stack.http_base_port + 50)
    said: list[str] = []
    await asyncio.to_thread(stack.up, replicas, said.append)
    try:
        assert said[0] == f"external Kafka at {running_stack.kafka_bootstrap}"
        assert said[1] == "external PostgreSQL (Q2C_DATABASE_URL)"
        clients = QuoteClients(await probe_factory(*QUOTE_TOPICS))
        numbers = [await clients.create_scm_quote() for _ in range(8)]
        sends = [clients.scm_command("quote.send", n) for n in numbers]
        for command in sends:
            await clients.publish_scm(command)
        ids = {c["command_id"] for c in sends}
        await clients.probe.wait_for("scm.command.results", lambda r: r.key in ids, count=len(ids), timeout=60)
        await clients.probe.quiescent()
        per_command: dict[str, set[str]] = defaultdict(set)
        for record in clients.probe.matching("scm.command.results", lambda r: r.key in ids):
            per_command[record.key].add(record.headers["message_id"])
            assert record.value["outcome"] == "accepted"
        assert all(len(v) == 1 for v in per_command.values()) and len(per_command) == len(ids)
        for number in numbers:
            assert sorted({e.value["version"] for e in clients.events(number)}) == [1, 2, 3]
            assert len({e.value["event_id"] for e in clients.events(number)}) == 3
    finally:
        await asyncio.to_thread(stack.down, replicas, said.append)
    # the servers it did not start are still there, and so are the first stack's services, whose
    # roles kept their passwords (both homes derive them from the same admin credentials)
    for service in running_stack.services:
        assert postgres.service_dsn(replicas, service) == postgres.service_dsn(running_stack, service)
    await kafka._describe(running_stack.kafka_bootstrap)  # noqa: SLF001
    await postgres._ping(postgres.admin_dsn(running_stack))  # noqa: SLF001
    from q2c_localstack import services

    assert all(services.is_running(running_stack, s) for s in running_stack.services)
    assert "Kafka stopped" not in said and "PostgreSQL stopped" not in said
