"""Operating a service (docs/observability.md), on a real broker and database, through a
throwaway service built on the same ServiceRuntime as the real ones: the consumer group's lag
in /metrics, liveness and readiness, and the trace context carried from a record through the
outbox to what the handling publishes."""

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from uuid import uuid4

import pytest
from pydantic import BaseModel

from q2c_messaging.catalog import parse_catalog
from q2c_messaging.consumer import Handling, Route
from q2c_messaging.runtime import ServiceRuntime
from q2c_messaging.settings import RuntimeSettings

from ..conftest import PORT_OFFSET, create_topic
from ..http_clients import http_get as get

# Beside the test stack's service ports (28101…), below the ephemeral range with any offset used.
HTTP_PORT = 28190 + PORT_OFFSET
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


class Ping(BaseModel):
    message_id: str


@dataclass
class Service:
    name: str
    inbound: str
    outbound: str
    runtime: ServiceRuntime
    gate: asyncio.Event  # the handler waits on it: a consumer that does not get on


async def http_get(path: str) -> tuple[int, str]:
    return await get(HTTP_PORT, path)


@pytest.fixture
async def service(scratch_db: str, bootstrap: str, tmp_path: Path) -> AsyncIterator[Service]:
    name = f"it-ops-{uuid4().hex[:8]}"
    inbound = await create_topic(bootstrap, partitions=1)
    await create_topic(bootstrap, partitions=1, name=f"{inbound}.dlq")
    outbound = await create_topic(bootstrap, partitions=1)
    gate = asyncio.Event()
    gate.set()

    async def handle(handling: Handling[Ping]) -> None:
        await gate.wait()
        assert handling.source.key is not None
        await handling.outbox.append(outbound, handling.source.key.decode(), b'{"pong": true}',
                                     message_id=str(uuid4()), type="it.ponged")

    catalog = parse_catalog({"services": [name], "topics": {
        inbound: {"partitions": 1, "writers": ["tests"], "consumers": [name]},
        outbound: {"partitions": 1, "writers": [name]},
    }})
    runtime = ServiceRuntime(name, tmp_path, catalog=catalog, settings=RuntimeSettings(
        db_url=scratch_db, kafka_bootstrap=bootstrap, relay_poll_interval=0.2, http_port=HTTP_PORT,
        lag_interval=0.2))
    runtime.route(Route(topic=inbound, parse=Ping.model_validate, message_id=lambda p: p.message_id, handle=handle))
    async with runtime.app:
        try:
            yield Service(name, inbound, outbound, runtime, gate)
        finally:
            gate.set()  # never leave a handler waiting on a failed test


async def metric(name: str, **labels: str) -> float | None:
    _, body = await http_get("/metrics")
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in body.splitlines():
        match = re.fullmatch(rf"{name}\{{(.*)\}} (\S+)", line)
        if match and ",".join(sorted(match[1].split(","))) == wanted:
            return float(match[2])
    return None


async def metric_becomes(value: float, name: str, timeout: float = 30.0, **labels: str) -> None:
    """Poll /metrics until the gauge shows `value` (the gauges are refreshed every 0.2 s here)."""
    deadline = time.monotonic() + timeout
    while (seen := await metric(name, **labels)) != value:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{name}{labels} is {seen}, not {value}, after {timeout}s")
        await asyncio.sleep(0.1)


async def test_consumer_group_lag_grows_while_the_consumer_is_held_and_returns_to_zero(
        service: Service, probe_factory) -> None:
    probe = await probe_factory(service.outbound)
    labels = {"service": service.name, "topic": service.inbound, "partition": "0"}
    await metric_becomes(0, "q2c_consumer_group_lag", **labels)  # an empty topic
    # Given a consumer held inside its first message
    service.gate.clear()
    for n in range(5):
        await probe.publish(service.inbound, "doc-1", {"message_id": f"lag-{n}"})
    # Then its group's lag is the five records it has not committed
    await metric_becomes(5, "q2c_consumer_group_lag", **labels)
    assert await metric("q2c_consumer_group_end_offset", **labels) == 5
    assert await metric("q2c_consumer_group_committed_offset", **labels) == -1  # nothing yet
    # When it gets on, the lag returns to zero
    service.gate.set()
    await probe.wait_for(service.outbound, count=5)
    await metric_becomes(0, "q2c_consumer_group_lag", **labels)
    assert await metric("q2c_consumer_group_committed_offset", **labels) == 5


async def test_liveness_readiness_and_the_old_health(service: Service) -> None:
    status, body = await http_get("/health/live")
    assert (status, json.loads(body)) == (200, {"status": "ok"})
    status, body = await http_get("/health/ready")
    assert (status, json.loads(body)) == (200, {"status": "ok", "checks": {
        "database": True, "kafka": True, "migrations": True, "consumers": True, "relay": True}})
    status, body = await http_get("/health")  # as before the split, for existing callers
    assert (status, json.loads(body)) == (200, {"status": "ok", "checks": {"database": True, "kafka": True}})
    # When the relay stops, the service is alive and can reach its servers, but not ready
    relay = service.runtime._relay  # noqa: SLF001 - the test reaches in to break one part
    assert relay is not None
    await relay.stop()
    status, body = await http_get("/health/ready")
    assert status == 503
    assert json.loads(body)["checks"]["relay"] is False and json.loads(body)["status"] == "failing"
    assert (await http_get("/health/live"))[0] == 200
    assert (await http_get("/health"))[0] == 200


async def test_debug_tasks_shows_where_a_held_consumer_waits(service: Service, probe_factory) -> None:
    """What an operator asks a service that stopped making progress (docs/observability.md)."""
    probe = await probe_factory(service.outbound)
    service.gate.clear()
    await probe.publish(service.inbound, "held", {"message_id": "held-1"})
    deadline = time.monotonic() + 30
    while True:
        status, body = await http_get("/debug/tasks")
        assert status == 200
        tasks = dict(re.findall(r"^task (\S+) \(pending\)\n((?:    .*\n)*)", body, re.MULTILINE))
        # the consume loop's task waits on the tasks of its poll's topics (a gather) ...
        loop = tasks.get("consume-0", "")
        fanned = re.findall(r"task (\S+)", loop.splitlines()[-1]) if "awaiting gather of" in loop else []
        # ... one of which is down its await chain in the handler, parked on the gate
        if any("ServiceConsumer._topic" in tasks.get(name, "") and ".handle\n" in tasks.get(name, "")
               and "Event.wait" in tasks.get(name, "") for name in fanned):
            break
        assert time.monotonic() < deadline, body
        await asyncio.sleep(0.2)
    assert "ServiceConsumer._run" in loop and "ServiceConsumer._handle" in loop
    service.gate.set()
    await probe.wait_for(service.outbound, count=1)


async def test_the_trace_context_goes_from_a_record_through_the_outbox_to_what_its_handling_publishes(
        service: Service, probe_factory, scratch_db: str) -> None:
    probe = await probe_factory(service.outbound)
    # No exporter configured (the default): the incoming context is passed on as it came
    await probe.publish(service.inbound, "traced", {"message_id": "t-1"},
                        headers={"traceparent": TRACEPARENT, "tracestate": "congo=t61rcWkgMzE"})
    await probe.publish(service.inbound, "untraced", {"message_id": "t-2"})
    [traced] = await probe.wait_for(service.outbound, lambda r: r.key == "traced")
    [untraced] = await probe.wait_for(service.outbound, lambda r: r.key == "untraced")
    assert traced.headers["traceparent"] == TRACEPARENT
    assert traced.headers["tracestate"] == "congo=t61rcWkgMzE"
    assert traced.headers["causation_id"] == "t-1"  # the ids q2c mirrors are there as before
    assert "traceparent" not in untraced.headers and "tracestate" not in untraced.headers
