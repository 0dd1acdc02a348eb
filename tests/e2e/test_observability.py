"""Each service's HTTP endpoint (ARCHITECTURE.md "Observability"): /health says whether its
database and Kafka are reachable, /metrics counts messages, latency, outbox and dead letters."""

import json

from q2c_localstack.config import StackConfig

from ..http_clients import http_get as get
from .feature_clients import COMMANDS, RESULTS, command


async def test_every_service_reports_health(running_stack: StackConfig) -> None:
    for service in running_stack.services:
        status, body = await get(running_stack.http_port(service), "/health")
        assert status == 200, (service.name, body)
        assert json.loads(body) == {"status": "ok", "checks": {"database": True, "kafka": True}}


async def test_metrics_count_what_a_service_handled(running_stack: StackConfig, probe_factory) -> None:
    probe = await probe_factory(RESULTS)
    cmd = command("feature.set", "PriceMaster", {"feature": "PriceMaster", "enabled": False})
    await probe.publish(COMMANDS, "PriceMaster", cmd)
    await probe.wait_for(RESULTS, lambda r: r.key == cmd["command_id"])
    [feature_state] = [s for s in running_stack.services if s.name == "feature-state"]
    status, body = await get(running_stack.http_port(feature_state), "/metrics")
    assert status == 200
    handled = [line for line in body.splitlines() if line.startswith("q2c_messages_total{")
               and 'topic="scm.feature.commands"' in line and 'outcome="handled"' in line]
    assert handled and float(handled[0].rsplit(" ", 1)[1]) >= 1
    assert "q2c_handler_seconds_bucket" in body
    # the command shared a transaction with at most the records polled with it
    [transactions] = [line for line in body.splitlines() if line.startswith("q2c_transaction_records_count{")
                      and 'topic="scm.feature.commands"' in line]
    assert float(transactions.rsplit(" ", 1)[1]) >= 1
    assert 'q2c_outbox_published_total{service="feature-state"}' in body
    # the outbox's gauges, counted at the scrape (the dead rows: PostgreSQL's statistics)
    gauges = {line.split("{")[0]: float(line.rsplit(" ", 1)[1]) for line in body.splitlines()
              if line.startswith(('q2c_outbox_lag{service="feature-state"}',
                                  'q2c_outbox_dead_rows{service="feature-state"}'))}
    assert set(gauges) == {"q2c_outbox_lag", "q2c_outbox_dead_rows"}
    assert all(value >= 0 for value in gauges.values())
    assert (await get(running_stack.http_port(feature_state), "/nothing"))[0] == 404
