"""Q2C_REPLICAS (docs/infrastructure.md, "Replicas"): the names, logs and HTTP ports of each
replica of each service. Replica 1 keeps the names of a stack without replicas; the ports of
every replica of every service are distinct and none is another service's."""

import json
from pathlib import Path

import pytest

from q2c_localstack import services, stack
from q2c_localstack.config import REPLICA_PORT_STRIDE, ServiceSpec, StackConfig, StackError
from q2c_messaging.settings import RuntimeSettings


def config(tmp_path: Path, replicas: int = 1, base: int = 28100) -> StackConfig:
    return StackConfig(home=tmp_path, cache=tmp_path, http_base_port=base, replicas=replicas)


def spec(stack_config: StackConfig, name: str) -> ServiceSpec:
    [found] = [s for s in stack_config.services if s.name == name]
    return found


@pytest.mark.parametrize(("service", "replica", "process", "log", "port"), [
    ("feature-state", 1, "service-feature-state", "feature-state.log", 28101),
    ("invoice", 1, "service-invoice", "invoice.log", 28106),
    ("feature-state", 2, "service-feature-state-2", "feature-state-2.log", 28121),
    ("dual-write-adapter", 2, "service-dual-write-adapter-2", "dual-write-adapter-2.log", 28125),
    ("quote", 3, "service-quote-3", "quote-3.log", 28143),
])
def test_each_replica_has_its_name_log_and_port(tmp_path: Path, service: str, replica: int, process: str,
                                                log: str, port: int) -> None:
    stack_config = config(tmp_path, replicas=3)
    s = spec(stack_config, service)
    assert services.process_name(s, replica) == process
    assert services.log_path(stack_config, s, replica) == tmp_path / "logs" / log
    assert stack_config.http_port(s, replica) == port


@pytest.mark.parametrize("replicas", [1, 2, 3, 5])
def test_no_two_replicas_share_a_port(tmp_path: Path, replicas: int) -> None:
    stack_config = config(tmp_path, replicas=replicas)
    ports = [stack_config.http_port(s, r) for s, r in services.replicas(stack_config)]
    assert len(ports) == len(set(ports)) == replicas * len(stack_config.services)
    # replica 1 keeps the ports of a stack without replicas: base + 1 … base + n
    assert sorted(stack_config.http_port(s) for s in stack_config.services) == list(
        range(28101, 28101 + len(stack_config.services)))


def test_the_port_scheme_refuses_what_it_cannot_hold(tmp_path: Path) -> None:
    stack_config = config(tmp_path)
    crowded = StackConfig(home=tmp_path, cache=tmp_path, services=[
        ServiceSpec(f"s{n}", "m", "d") for n in range(REPLICA_PORT_STRIDE)])
    with pytest.raises(StackError, match="at most 19 services"):
        crowded.http_port(crowded.services[0])
    with pytest.raises(StackError, match="replicas count from 1"):
        stack_config.http_port(stack_config.services[0], 0)


def test_process_names_name_every_replica(tmp_path: Path) -> None:
    one, two = stack.process_names(config(tmp_path)), stack.process_names(config(tmp_path, replicas=2))
    assert one[:2] == ["kafka", "postgres"] and "service-quote" in one and "service-quote-2" not in one
    assert set(two) - set(one) == {f"service-{s.name}-2" for s in config(tmp_path).services}


def test_replicas_come_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("Q2C_REPLICAS", "2")
    assert StackConfig.from_env(home=tmp_path).replicas == 2
    monkeypatch.setenv("Q2C_REPLICAS", "")
    assert StackConfig.from_env(home=tmp_path).replicas == 1


def test_replicas_differ_only_in_port_and_replica_number(tmp_path: Path) -> None:
    stack_config = config(tmp_path, replicas=2)
    quote = spec(stack_config, "quote")
    first, second = services.service_env(stack_config, quote), services.service_env(stack_config, quote, 2)
    assert {k for k in first.keys() | second.keys() if first.get(k) != second.get(k)} == {
        "Q2C_HTTP_PORT", "Q2C_REPLICA"}
    assert (first["Q2C_HTTP_PORT"], second["Q2C_HTTP_PORT"], second["Q2C_REPLICA"]) == ("28103", "28123", "2")
    assert "Q2C_REPLICA" not in first  # replica 1 is configured as before replicas existed


def test_down_finds_every_started_replica_whatever_q2c_replicas_says_now(tmp_path: Path) -> None:
    """A stack started with Q2C_REPLICAS=3 and stopped without it is stopped whole."""
    stack_config = config(tmp_path)
    quote = spec(stack_config, "quote")
    stack_config.run_dir.mkdir(parents=True)
    for name in ("service-quote-3", "service-quote-2", "service-quote-x", "service-quote-order-2"):
        (stack_config.run_dir / f"{name}.pid").write_text(json.dumps({"pid": 1, "start_time": "0"}))
    assert services.started_replicas(stack_config, quote) == [1, 2, 3]
    assert services.started_replicas(stack_config, spec(stack_config, "order")) == [1]


@pytest.mark.parametrize(("replica", "instance"), [(1, ""), (2, "-2")])
def test_a_replica_names_its_clients(replica: int, instance: str) -> None:
    settings = RuntimeSettings(db_url="postgresql://x", replica=replica)
    assert settings.instance == instance
