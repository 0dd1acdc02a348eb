"""A consumer whose polls keep failing is replaced by a new one in the group
(q2c_messaging.batching.ServiceConsumer._replace). Seen in CI: after a broker SIGKILL, aiokafka's
coordination task of one consumer died ("Unexpected error during coordination ... the handler is
closed"), every later poll raised that error, and the partitions it held were never read again.
Fakes only: the consumers stand in for aiokafka's."""

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from aiokafka.errors import ConsumerStoppedError, KafkaError

from q2c_messaging import batching
from q2c_messaging.batching import POLL_FAILURES_BEFORE_REPLACING, ServiceConsumer

COORDINATION_DIED = "Unexpected error during coordination RuntimeError('the handler is closed')"


class FakeConsumer:
    def __init__(self, failures: int | None, polled: asyncio.Event,
                 error: Callable[[], BaseException] = lambda: KafkaError(COORDINATION_DIED)) -> None:
        self.failures = failures  # polls that raise before it works; None: every poll raises
        self.error = error  # what a failing poll raises
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
            raise self.error()
        self._polled.set()
        await asyncio.sleep(0)
        return {}

    async def commit(self, offsets: Any) -> None:
        return None


class Consumers(ServiceConsumer):
    """The service's consumer loop with fake consumers, made in the order `plan` gives."""

    def __init__(self, plan: list[int | None],
                 error: Callable[[], BaseException] = lambda: KafkaError(COORDINATION_DIED)) -> None:
        super().__init__({"t": object()}, bootstrap="-", group_id="g", client_id="c", workers=1,  # type: ignore[dict-item]
                         retry_pause=0.0)
        self.plan = plan
        self.error = error
        self.made: list[FakeConsumer] = []
        self.polled = asyncio.Event()

    def _new_consumer(self) -> Any:
        consumer = FakeConsumer(self.plan[len(self.made)], self.polled, self.error)
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


@pytest.mark.parametrize("error", [
    lambda: RuntimeError("not a KafkaError"),
    # Not this task's cancellation (its `cancelling()` is 0): one that came out of a library.
    asyncio.CancelledError,
], ids=["unforeseen error", "stray CancelledError"])
async def test_a_poll_that_raises_anything_but_this_tasks_cancellation_does_not_end_the_loop(
        error: Callable[[], BaseException]) -> None:
    consumers = Consumers([None, 0], error)
    await run_until_a_poll_works(consumers)
    broken, new = consumers.made
    assert broken.polls == POLL_FAILURES_BEFORE_REPLACING and broken.stopped
    assert new.polls >= 1


async def test_a_consumer_stopped_under_the_loop_is_replaced_at_once() -> None:
    consumers = Consumers([None, 0], ConsumerStoppedError)
    await run_until_a_poll_works(consumers)
    stopped, new = consumers.made
    assert stopped.polls == 1
    assert new.polls >= 1


class Handled(Consumers):
    """Polls that bring one record; the handling of the first poll raises."""

    def __init__(self, error: BaseException) -> None:
        super().__init__([0, 0])
        self.handle_error: BaseException | None = error
        self.handled: list[FakeConsumer] = []

    async def _handle(self, consumer: Any, committer: Any, batches: Any) -> None:
        self.handled.append(consumer)
        if self.handle_error is not None:
            error, self.handle_error = self.handle_error, None
            raise error


@pytest.mark.parametrize("error", [RuntimeError("a bug"), asyncio.CancelledError()],
                         ids=["an exception", "a stray CancelledError"])
async def test_a_poll_whose_handling_failed_is_read_again_by_a_new_consumer(
        monkeypatch: pytest.MonkeyPatch, error: BaseException) -> None:
    """The failed poll's records may not be in the database and the consumer's positions are
    past them: a new consumer, which starts from the committed offsets, takes over at once."""
    consumers = Handled(error)
    monkeypatch.setattr(FakeConsumer, "getmany", one_record_per_poll)
    await consumers.start()
    try:
        for _ in range(100):
            if len(consumers.handled) >= 2:
                break
            await asyncio.sleep(0)
    finally:
        await consumers.stop()
    first, second = consumers.made
    assert consumers.handled[:2] == [first, second]
    assert first.stopped


async def one_record_per_poll(self: FakeConsumer, **_: Any) -> dict[Any, Any]:
    self.polls += 1
    await asyncio.sleep(0)
    return {"tp": ["record"]}


async def test_a_replaced_consumers_pending_offsets_are_dropped_not_retried_forever() -> None:
    """Its commits would go through a consumer that left the group; the new one re-reads."""
    consumers = Consumers([None, 0])
    await consumers.start()
    committer = consumers._committers[0]
    never_answered = asyncio.Event()

    async def hung_commit(offsets: Any) -> None:
        await never_answered.wait()

    consumers.made[0].commit = hung_commit  # type: ignore[method-assign]
    committer.add({"tp": 1})  # type: ignore[dict-item]
    try:
        await asyncio.wait_for(consumers.polled.wait(), 5)
    finally:
        await consumers.stop()
    assert committer._task is not None and committer._task.cancelled()


async def test_stop_ends_a_loop_that_is_polling_and_replaces_nothing() -> None:
    consumers = Consumers([0])
    await consumers.start()
    await asyncio.wait_for(consumers.polled.wait(), 5)
    tasks = list(consumers._tasks)
    await consumers.stop()
    assert tasks and all(task.done() for task in tasks)
    assert len(consumers.made) == 1 and consumers.made[0].stopped
