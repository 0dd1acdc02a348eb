"""The aiokafka fix of q2c_messaging.uvloop_writes is installed once, wraps the two methods that
write requests, and still fits the aiokafka in the lock file: the day aiokafka catches uvloop's
RuntimeError itself (aio-libs/aiokafka#1038), the premise check below fails and the fix can go.
The behaviour on a real broker and uvloop: tests/integration/test_uvloop_writes.py."""

import inspect

from aiokafka import conn

import q2c_messaging  # noqa: F401 - importing it installs the fix
from q2c_messaging import uvloop_writes

WRITERS = ("send", "_send_sasl_token")


def test_installed_on_import_on_both_writers() -> None:
    for name in WRITERS:
        assert getattr(getattr(conn.AIOKafkaConnection, name), uvloop_writes._INSTALLED, False)


def test_installing_again_wraps_nothing_twice() -> None:
    before = {name: getattr(conn.AIOKafkaConnection, name) for name in WRITERS}
    uvloop_writes.install()
    assert {name: getattr(conn.AIOKafkaConnection, name) for name in WRITERS} == before


def test_aiokafka_still_catches_only_os_errors_around_its_writes() -> None:
    for name in WRITERS:
        original = inspect.getsource(getattr(conn.AIOKafkaConnection, name).__wrapped__)
        assert "self._writer.write(" in original
        assert "except OSError" in original and "RuntimeError" not in original
