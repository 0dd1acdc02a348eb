"""aiokafka on uvloop, on the real broker: a request written on a connection whose transport has
closed (the broker died, aiokafka's reader has not noticed yet) fails as a KafkaConnectionError,
which aiokafka's background tasks retry on, not as uvloop's RuntimeError, which killed them
(q2c_messaging.uvloop_writes, aio-libs/aiokafka#1038; docs/messaging.md "A write on a closed
connection"). Run on uvloop, as the services run."""

import asyncio

import pytest
import uvloop
from aiokafka.client import AIOKafkaClient
from aiokafka.errors import KafkaConnectionError
from aiokafka.protocol.metadata import MetadataRequest

from q2c_messaging import uvloop_writes
from q2c_messaging.security import security_kwargs


async def write_on_a_closed_transport(bootstrap: str) -> tuple[BaseException, bool]:
    """What the write raised, and whether the connection was closed for it."""
    client = AIOKafkaClient(bootstrap_servers=bootstrap, **security_kwargs())
    await client.bootstrap()
    try:
        node = next(iter(client.cluster.brokers())).nodeId
        conn = await client._get_conn(node)
        assert conn is not None
        # The broker's end is gone and uvloop has closed the handle (one turn of the loop),
        # and aiokafka's reader has not noticed yet (its task held back: the race the soaks lost).
        conn._read_task.cancel()
        conn._writer.transport.abort()
        await asyncio.sleep(0)
        assert conn._writer is not None and conn._writer.transport.is_closing()
        try:
            conn.send(MetadataRequest([]))
        except BaseException as exc:  # noqa: BLE001 - what it raised is the finding
            error: BaseException = exc
        else:
            raise AssertionError("a write on a closed transport raised nothing")
        closed = conn._writer is None  # as aiokafka closes a connection it found broken
        # and the client goes on: the next request opens a new connection
        assert (await client.fetch_all_metadata()).brokers()
        return error, closed
    finally:
        await client.close()


def test_a_write_on_a_closed_connection_is_a_connection_error_on_uvloop(bootstrap: str) -> None:
    error, closed = uvloop.run(write_on_a_closed_transport(bootstrap))
    assert isinstance(error, KafkaConnectionError), repr(error)
    assert closed
    assert "the handler is closed" in str(error)  # uvloop's error, carried in the message


def test_without_the_fix_uvloop_raises_runtime_error(bootstrap: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The premise: what aiokafka alone does on uvloop (the fix is taken out for this test)."""
    from aiokafka import conn

    for name in ("send", "_send_sasl_token"):
        monkeypatch.setattr(conn.AIOKafkaConnection, name, getattr(conn.AIOKafkaConnection, name).__wrapped__)
    assert not getattr(conn.AIOKafkaConnection.send, uvloop_writes._INSTALLED, False)
    error, closed = uvloop.run(write_on_a_closed_transport(bootstrap))
    assert not closed
    assert type(error) is RuntimeError and "the handler is closed" in str(error)
