"""The outbox relay's own connection counts as lost when asyncpg already gave it back to the
pool (the server ended the session), not only when it is closed (q2c_messaging.outbox._lost).
Before, the relay's next pass raised "cannot call Connection.is_closed(): connection has been
released back to the pool", logged `outbox.publish_failed` and waited its back-off after every
PostgreSQL restart."""

import asyncpg
import pytest

from q2c_messaging.outbox import _lost


class Proxy:
    def __init__(self, closed: bool | None) -> None:
        self.closed = closed  # None: released back to the pool (asyncpg detached the proxy)

    def is_closed(self) -> bool:
        if self.closed is None:
            raise asyncpg.InterfaceError("cannot call Connection.is_closed(): connection has been "
                                         "released back to the pool")
        return self.closed


@pytest.mark.parametrize(("closed", "lost"), [(False, False), (True, True), (None, True)],
                         ids=["open", "closed", "released by asyncpg"])
def test_lost(closed: bool | None, lost: bool) -> None:
    assert _lost(Proxy(closed)) is lost  # type: ignore[arg-type]
