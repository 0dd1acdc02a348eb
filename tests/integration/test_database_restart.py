"""The services outlive a PostgreSQL restart: a command that arrives while the database is
down is retried (the offset is not committed) and answered once it is back; nothing is lost."""

import asyncio

import pytest

from q2c_localstack import postgres
from q2c_localstack.config import StackConfig
from q2c_localstack.probe import TopicProbe, metric, stack_watch, wait_for_metric

from ..e2e.test_feature_state import COMMANDS, RESULTS, command


async def test_a_command_sent_while_the_database_is_down_is_answered_after(running_stack: StackConfig) -> None:
    if running_stack.external_pg_admin:
        pytest.skip("the database server is external (Q2C_DATABASE_URL): not ours to restart")
    metrics = stack_watch(running_stack).metrics["feature-state"]
    retried = {"service": "feature-state", "topic": COMMANDS, "outcome": "retried"}
    async with TopicProbe(running_stack.kafka_bootstrap, [RESULTS]) as probe:
        before = await metric(metrics, "q2c_messages_total", retried)
        await asyncio.to_thread(postgres.stop, running_stack)
        assert not postgres.is_running(running_stack)
        cmd = command("feature.set", "CopyQuotationDataToSalesOrders",
                      {"feature": "CopyQuotationDataToSalesOrders", "enabled": True})
        await probe.publish(COMMANDS, cmd["target"], cmd)
        # the fact: the service has read the command and could not handle it (to be read again)
        await wait_for_metric(metrics, "q2c_messages_total", retried, lambda n: n > before)
        assert probe.matching(RESULTS, lambda r: r.key == cmd["command_id"]) == []  # nothing while it is down
        await asyncio.to_thread(postgres.start, running_stack)
        await asyncio.to_thread(postgres.wait_ready, running_stack)
        [result] = await probe.wait_for(RESULTS, lambda r: r.key == cmd["command_id"], timeout=90)
        assert result.value["outcome"] == "accepted"
        # Sentinel: the same setting again (same key, read after the first), answered on the
        # partition of the first one's results, so after any second result of it.
        sentinel = {**cmd, "command_id": probe.key_like(RESULTS, cmd["command_id"])}
        await probe.publish(COMMANDS, cmd["target"], sentinel)
        await probe.wait_for(RESULTS, lambda r: r.key == sentinel["command_id"], timeout=60)
        assert len(probe.matching(RESULTS, lambda r: r.key == cmd["command_id"])) == 1
