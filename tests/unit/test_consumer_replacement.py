"""A consumer whose polls keep failing is replaced by a new one in the group
(q2c_messaging.batching.ServiceConsumer._replace). Seen in CI: after a broker SIGKILL, aiokafka's
coordination task of one consumer died ("Unexpected error during coordination ... the handler is
closed"), every later poll raised that error, and the partitions it held were never read again.
Fakes only: the consumers stand in for aiokafka's."""

import asyncio
from typing import Any

import pytest
from aiokafka.errors import KafkaError

from q2c_messaging import batching
from q2c_messaging.batching import POLL_FAILURES_BEFORE_REPLACING, ServiceConsumer


class FakeConsumer:
    def __init__(self, failures: int | None, polled: asyncio.Event) -> None:
        self.failures = failures  # polls that raise before it works; None: every poll raises
        self.polls = 0
        self.started = self.stopped = False
        self._polled = polled

    async def start(self) -> None:
        self.started = True

    async def stop(self) -> None:
        self.stopped = True

    async def getmany(self, **_: Any) -> dict[Any, Any]:
        self.polls += 1
        if self.failures is None or self.polls <= self.failures:
            raise KafkaError("Unexpected error during coordination RuntimeError('the handler is closed')")
        self._polled.set()
        await asyncio.sleep(0)
        return {}

    async def commit(self, offsets: Any) -> None:
        return None


class Consumers(ServiceConsumer):
    """The service's consumer loop with fake consumers, made in the order `plan` gives."""

    def __init__(self, plan: list[int | None]) -> None:
        super().__init__({"t": object()}, bootstrap="-", group_id="g", client_id="c", workers=1,  # type: ignore[dict-item]
                         retry_pause=0.0)
        self.plan = plan
        self.made: list[FakeConsumer] = []
        self.polled = asyncio.Event()

    def _new_consumer(self) -> Any:
        consumer = FakeConsumer(self.plan[len(self.made)], self.polled)
        self.made.append(consumer)
        return consumer


@pytest.fixture(autouse=True)
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    real_sleep = asyncio.sleep

    async def no_pause(seconds: float) -> None:
        await real_sleep(0)

    monkeypatch.setattr(batching.asyncio, "sleep", no_pause)


async def run_until_a_poll_works(consumers: Consumers) -> None:
    await consumers.start()
    try:
        await asyncio.wait_for(consumers.polled.wait(), 5)
    finally:
        await consumers.stop()


async def test_a_consumer_whose_polls_keep_failing_is_replaced_and_the_new_one_reads() -> None:
    consumers = Consumers([None, 0])
    await run_until_a_poll_works(consumers)
    broken, new = consumers.made
    assert broken.polls == POLL_FAILURES_BEFORE_REPLACING
    assert broken.stopped
    assert new.started and new.polls >= 1 and new.stopped  # stop() closed the one in use


@pytest.mark.parametrize("failures", range(POLL_FAILURES_BEFORE_REPLACING))
async def test_fewer_failures_in_a_row_keep_the_consumer(failures: int) -> None:
    consumers = Consumers([failures])
    await run_until_a_poll_works(consumers)
    assert len(consumers.made) == 1
    assert consumers.made[0].polls > failures  # and it went on polling


async def test_a_replacement_that_cannot_start_is_tried_again() -> None:
    class Unstartable(FakeConsumer):
        async def start(self) -> None:
            raise KafkaError("broker away")

    consumers = Consumers([None, 0, 0])
    made = consumers._new_consumer

    def second_cannot_start() -> Any:
        consumer = made()
        if len(consumers.made) == 2:
            consumer.__class__ = Unstartable
        return consumer

    consumers._new_consumer = second_cannot_start  # type: ignore[method-assign]
    await run_until_a_poll_works(consumers)
    broken, unstartable, new = consumers.made
    assert broken.stopped and unstartable.stopped and not unstartable.started
    assert new.polls >= 1
