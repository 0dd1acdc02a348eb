"""aiokafka on uvloop: a write on a connection the broker has closed raises KafkaConnectionError,
as it does on asyncio's own loop (docs/messaging.md "A write on a closed connection").

aiokafka writes a request with `StreamWriter.write` and catches only `OSError` there
(`AIOKafkaConnection.send`, `_send_sasl_token`). asyncio's transport takes a write on a closed
connection quietly and the read side then reports the loss; uvloop's raises
`RuntimeError("unable to perform operation on <TCPTransport closed=True ...>; the handler is
closed")` (aio-libs/aiokafka#1038, open). Between a broker's death and the moment aiokafka's
reader notices it, any background task of the client that writes can die of that
RuntimeError, which no one awaits, and what waits on it waits forever: the soaks met the
group coordination, heartbeat and metadata tasks dead, each a stalled consumer (the table in
docs/messaging.md "A write on a closed connection").

The fix is aiokafka's own handling of a broken write, applied to uvloop's error: the
connection is closed and the caller gets the `KafkaConnectionError` it already retries on.
Installed when q2c_messaging is imported (`install()`, idempotent); `tests/unit/test_uvloop_writes.py`
checks it against aiokafka's code so that an upgrade that changes `send` is noticed."""

import functools
from collections.abc import Callable
from typing import Any

from aiokafka import conn
from aiokafka.errors import KafkaConnectionError

_INSTALLED = "_q2c_closed_write_is_a_connection_error"


def _closed_write_is_a_connection_error(send: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(send)
    def guarded(self: conn.AIOKafkaConnection, *args: Any, **kwargs: Any) -> Any:
        try:
            return send(self, *args, **kwargs)
        except RuntimeError as err:
            writer = self._writer
            if writer is not None and not writer.transport.is_closing():
                raise  # not a write on a closed transport: not ours to translate
            self.close(reason=conn.CloseReason.CONNECTION_BROKEN)
            raise KafkaConnectionError(f"Connection at {self._host}:{self._port} broken: {err}") from err

    setattr(guarded, _INSTALLED, True)
    return guarded


def install() -> None:
    for name in ("send", "_send_sasl_token"):
        send = getattr(conn.AIOKafkaConnection, name)
        if not getattr(send, _INSTALLED, False):
            setattr(conn.AIOKafkaConnection, name, _closed_write_is_a_connection_error(send))
