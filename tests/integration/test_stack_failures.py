"""`make up` fails with a clear message, not a hang, when a piece cannot start."""

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from q2c_localstack import postgres, stack
from q2c_localstack.config import StackConfig, StackError


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


def _config(tmp_path: Path, **ports: int) -> StackConfig:
    return StackConfig.from_env(home=tmp_path / "stack", external_kafka=None, external_pg_admin=None, **ports)


def test_a_taken_kafka_port_stops_make_up_with_a_clear_message(tmp_path: Path, taken_port: int) -> None:
    config = _config(tmp_path, kafka_port=taken_port, controller_port=taken_port + 1)
    started = time.monotonic()
    with pytest.raises(StackError, match=f"port {taken_port} is taken by another process.*Q2C_KAFKA_BOOTSTRAP"):
        stack.up(config, say=lambda _: None)
    assert time.monotonic() - started < 10


def test_a_taken_postgres_port_stops_with_a_clear_message(tmp_path: Path, taken_port: int) -> None:
    config = _config(tmp_path, pg_port=taken_port)
    with pytest.raises(StackError, match=f"port {taken_port} is taken by another process.*Q2C_DATABASE_URL"):
        postgres.start(config)
