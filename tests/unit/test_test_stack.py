"""The test stack's backend (Q2C_TEST_STACK, docs/operations.md): which one is chosen, and the
containers backend's skip when no Docker engine answers. There is no engine here, so starting
containers is not tested; only that the choice and the reason are right."""

from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from q2c_localstack import containers
from q2c_localstack.config import StackConfig


@pytest.mark.parametrize(("env", "chosen"), [
    ({}, "processes"), ({"Q2C_TEST_STACK": ""}, "processes"), ({"Q2C_TEST_STACK": "processes"}, "processes"),
    ({"Q2C_TEST_STACK": "containers"}, "containers"), ({"Q2C_TEST_STACK": " containers "}, "containers"),
])
def test_the_backend_is_chosen_by_the_environment(env: dict[str, str], chosen: str) -> None:
    assert containers.backend(env) == chosen


def test_an_unknown_backend_is_an_error_not_a_fallback() -> None:
    with pytest.raises(ValueError, match="Q2C_TEST_STACK='docker': expected one of processes, containers"):
        containers.backend({"Q2C_TEST_STACK": "docker"})


def config(tmp_path: Path) -> StackConfig:
    return StackConfig(home=tmp_path, cache=tmp_path, kafka_port=19092, pg_port=25433)


def test_processes_use_the_config_as_it_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(containers, "docker_problem", lambda: pytest.fail("processes need no Docker"))
    given = config(tmp_path)
    with containers.stack_servers(given, {}) as used:
        assert used is given


def test_containers_without_an_engine_are_unavailable_with_the_reason(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # an engine that cannot answer, whatever this machine has
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    problem = containers.docker_problem()
    assert problem is not None and problem.startswith("no Docker engine answers")
    started: list[Any] = []
    monkeypatch.setattr(containers, "container_servers", lambda c: started.append(c))
    with pytest.raises(containers.Unavailable, match="^Q2C_TEST_STACK=containers: no Docker engine answers"):
        with containers.stack_servers(config(tmp_path), {"Q2C_TEST_STACK": "containers"}):
            pass
    assert started == []


def test_containers_point_the_stack_at_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(containers, "docker_problem", lambda: None)

    @contextmanager
    def fake(given: StackConfig):  # type: ignore[no-untyped-def]
        yield StackConfig(home=given.home, cache=given.cache, external_kafka="127.0.0.1:19092",
                          external_pg_admin="postgresql://postgres:pw@127.0.0.1:25433/postgres")

    monkeypatch.setattr(containers, "container_servers", fake)
    with containers.stack_servers(config(tmp_path), {"Q2C_TEST_STACK": "containers"}) as used:
        assert used.kafka_bootstrap == "127.0.0.1:19092" and used.external_pg_admin


def test_the_containers_are_those_of_docker_compose_on_the_test_ports() -> None:
    environment = containers.kafka_environment(19092)
    assert environment["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert environment["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert "HOST://127.0.0.1:19092" in environment["KAFKA_ADVERTISED_LISTENERS"]
    kafka, postgres = containers._compose_service("kafka"), containers._compose_service("postgres")
    assert kafka["image"].startswith("apache/kafka:4.") and postgres["image"] == "postgres:18"
