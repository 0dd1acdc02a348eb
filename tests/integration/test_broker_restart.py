"""The services outlive a Kafka restart: consumers and the outbox relay reconnect by
themselves, and commands sent after the restart are answered (nothing is lost meanwhile:
what waits in an outbox or a partition is published or read once the broker is back)."""

import asyncio

import pytest

from q2c_localstack import kafka
from q2c_localstack.config import StackConfig
from q2c_localstack.probe import TopicProbe

from ..e2e.test_feature_state import COMMANDS, RESULTS, command


async def _round_trip(bootstrap: str, enabled: bool, timeout: float) -> dict:
    async with TopicProbe(bootstrap, [RESULTS]) as probe:
        cmd = command("feature.set", "CopyQuotationDataToSalesOrders",
                      {"feature": "CopyQuotationDataToSalesOrders", "enabled": enabled})
        await probe.publish(COMMANDS, cmd["target"], cmd)
        [result] = await probe.wait_for(RESULTS, lambda r: r.key == cmd["command_id"], timeout=timeout)
        return result.value


async def test_services_work_again_after_the_broker_restarts(running_stack: StackConfig) -> None:
    if running_stack.external_kafka:
        pytest.skip("the broker is external (Q2C_KAFKA_BOOTSTRAP): not ours to restart")
    assert (await _round_trip(running_stack.kafka_bootstrap, False, 30))["outcome"] == "accepted"
    await asyncio.to_thread(kafka.stop, running_stack)
    assert not kafka.is_running(running_stack)
    await asyncio.sleep(2)  # down for a while (not a synchronisation: there is nothing to wait for)
    await asyncio.to_thread(kafka.start, running_stack)
    await asyncio.to_thread(kafka.wait_ready, running_stack)
    assert (await _round_trip(running_stack.kafka_bootstrap, True, 120))["outcome"] == "accepted"
