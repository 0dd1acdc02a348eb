"""A chunk lost to a lock conflict is run again at once (q2c_messaging.batching); other failures,
and a conflict that keeps coming back, go the usual way (seek back, pause). Fakes only: the
processor stands in for the database transaction."""

from typing import Any

import asyncpg
import pytest
from aiokafka.structs import ConsumerRecord

from q2c_messaging import batching
from q2c_messaging.batching import LOCK_CONFLICT_ATTEMPTS, ServiceConsumer


class FlakyProcessor:
    def __init__(self, failures: list[BaseException]) -> None:
        self.failures = failures
        self.calls = 0

    async def process_batch(self, sources: list[Any]) -> list[str]:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return ["handled"] * len(sources)


def chunk() -> list[ConsumerRecord[bytes, bytes]]:
    return [ConsumerRecord("t", 0, n, 0, 0, b"k", b"{}", None, 1, 2, []) for n in range(3)]


@pytest.fixture(autouse=True)
def no_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    async def instant(_: float) -> None:
        return None

    monkeypatch.setattr(batching.asyncio, "sleep", instant)


@pytest.mark.parametrize("conflict", [asyncpg.DeadlockDetectedError("deadlock detected"),
                                      asyncpg.SerializationError("could not serialize access")])
async def test_a_chunk_lost_to_a_lock_conflict_is_run_again_at_once(conflict: BaseException) -> None:
    processor = FlakyProcessor([conflict, conflict])
    await ServiceConsumer._chunk(processor, chunk())  # type: ignore[arg-type]  # a fake processor
    assert processor.calls == 3


async def test_a_conflict_that_keeps_coming_back_goes_the_usual_way() -> None:
    processor = FlakyProcessor([asyncpg.DeadlockDetectedError("deadlock detected")] * LOCK_CONFLICT_ATTEMPTS)
    with pytest.raises(asyncpg.DeadlockDetectedError):
        await ServiceConsumer._chunk(processor, chunk())  # type: ignore[arg-type]
    assert processor.calls == LOCK_CONFLICT_ATTEMPTS


async def test_other_failures_are_not_retried_here() -> None:
    processor = FlakyProcessor([OSError("connection refused")])
    with pytest.raises(OSError):
        await ServiceConsumer._chunk(processor, chunk())  # type: ignore[arg-type]
    assert processor.calls == 1
