"""`python -m q2c_localstack provision` (the compose stack's init container) runs the very
steps `make up` runs between starting the servers and starting the services."""

import sys
from pathlib import Path

import pytest

from q2c_localstack import __main__ as cli
from q2c_localstack import kafka, postgres, services, stack
from q2c_localstack.config import StackConfig, StackError

EXTERNAL = {"external_kafka": "kafka:9092", "external_pg_admin": "postgresql://postgres:pw@postgres:5432/postgres"}


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Kafka and PostgreSQL replaced by recorders: the order of the steps is what is tested."""
    made: list[str] = []
    monkeypatch.setattr(kafka, "wait_ready", lambda config: made.append("kafka.wait_ready"))
    monkeypatch.setattr(kafka, "create_topics", lambda config: made.append("kafka.create_topics") or ["t"])
    monkeypatch.setattr(postgres, "wait_ready", lambda config: made.append("postgres.wait_ready"))
    monkeypatch.setattr(postgres, "provision", lambda config: made.append("postgres.provision") or {})
    return made


PROVISION_STEPS = ["kafka.wait_ready", "kafka.create_topics", "postgres.wait_ready", "postgres.provision"]


def test_provision_against_external_servers_creates_topics_then_databases(
        tmp_path: Path, calls: list[str]) -> None:
    said: list[str] = []
    stack.provision_external(StackConfig(home=tmp_path, cache=tmp_path, **EXTERNAL), said.append)
    assert calls == PROVISION_STEPS
    assert said[0] == "topics: 1 created from deploy/kafka/topics.yaml"
    assert said[-1] == "provisioned"


@pytest.mark.parametrize(("given", "missing"), [
    ({}, "Q2C_KAFKA_BOOTSTRAP and Q2C_DATABASE_URL"),
    ({"external_kafka": "kafka:9092"}, "Q2C_DATABASE_URL"),
    ({"external_pg_admin": EXTERNAL["external_pg_admin"]}, "Q2C_KAFKA_BOOTSTRAP"),
])
def test_provision_starts_nothing_and_needs_both_servers(
        tmp_path: Path, calls: list[str], given: dict[str, str], missing: str) -> None:
    with pytest.raises(StackError, match=f"provision needs {missing} "):
        stack.provision_external(StackConfig(home=tmp_path, cache=tmp_path, **given), lambda _: None)
    assert calls == []


def test_up_provisions_with_the_same_steps(
        tmp_path: Path, calls: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kafka, "start", lambda config: calls.append("kafka.start") or "")
    monkeypatch.setattr(postgres, "start", lambda config: calls.append("postgres.start") or "")
    monkeypatch.setattr(services, "start", lambda config, s, r=1: calls.append(f"start {s.name}") or ("", -1))
    monkeypatch.setattr(services, "wait_ready", lambda config, s, offset, r=1: None)
    config = StackConfig(home=tmp_path, cache=tmp_path, **EXTERNAL)
    stack.up(config, lambda _: None)
    assert calls == ["kafka.start", "postgres.start", *PROVISION_STEPS,
                     *(f"start {s.name}" for s in config.services)]


def test_the_provision_command(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[StackConfig] = []
    monkeypatch.setattr(stack, "provision_external", seen.append)
    monkeypatch.setattr(sys, "argv", ["q2c_localstack", "provision"])
    monkeypatch.setenv("Q2C_KAFKA_BOOTSTRAP", "kafka:9092")
    monkeypatch.setenv("Q2C_DATABASE_URL", EXTERNAL["external_pg_admin"])
    assert cli.main() == 0
    assert (seen[0].external_kafka, seen[0].external_pg_admin) == ("kafka:9092", EXTERNAL["external_pg_admin"])


def test_the_provision_command_says_what_is_missing(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "argv", ["q2c_localstack", "provision"])
    monkeypatch.delenv("Q2C_KAFKA_BOOTSTRAP", raising=False)
    monkeypatch.delenv("Q2C_DATABASE_URL", raising=False)
    assert cli.main() == 1
    assert "provision needs Q2C_KAFKA_BOOTSTRAP and Q2C_DATABASE_URL" in capsys.readouterr().err

