"""The consume loop's offset committer (q2c_messaging.batching._Committer): one commit in flight,
at most one per interval, the offsets handled meanwhile merged into the next, and a flush that
sends what is pending at once. A fake consumer records the commits (unit test: no broker)."""

import asyncio

from aiokafka import TopicPartition
from aiokafka.errors import KafkaTimeoutError

from q2c_messaging.batching import _Committer

A, B = TopicPartition("t", 0), TopicPartition("t", 1)


class FakeConsumer:
    def __init__(self) -> None:
        self.commits: list[dict[TopicPartition, int]] = []
        self.sent = asyncio.Event()

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.commits.append(dict(offsets))
        self.sent.set()


async def test_the_first_commit_goes_at_once_and_later_ones_are_merged() -> None:
    consumer = FakeConsumer()
    committer = _Committer(consumer, interval=60.0)  # type: ignore[arg-type]  # the fake has commit() only
    committer.add({A: 5})
    await asyncio.wait_for(consumer.sent.wait(), 5)
    committer.add({A: 7})
    committer.add({B: 2})
    committer.add({A: 9})
    await asyncio.sleep(0)  # the committer is waiting out its interval: nothing more sent
    assert consumer.commits == [{A: 5}]

    await committer.flush(timeout=5)

    assert consumer.commits == [{A: 5}, {A: 9, B: 2}]


async def test_without_an_interval_every_pending_set_goes_as_soon_as_the_last_returns() -> None:
    consumer = FakeConsumer()
    committer = _Committer(consumer)  # type: ignore[arg-type]
    committer.add({A: 1})
    committer.add({A: 2})  # while the first is in flight: merged into the next
    await committer.flush(timeout=5)
    assert consumer.commits[-1] == {A: 2}
    assert len(consumer.commits) <= 2


async def test_a_flush_with_nothing_pending_returns() -> None:
    consumer = FakeConsumer()
    committer = _Committer(consumer, interval=60.0)  # type: ignore[arg-type]
    await committer.flush(timeout=1)
    assert consumer.commits == []


class FailingOnceConsumer(FakeConsumer):
    """Its first commit fails (the coordinator moved); it holds `held` partitions."""

    def __init__(self, held: set[TopicPartition]) -> None:
        super().__init__()
        self.held = held
        self.failed = False

    def assignment(self) -> set[TopicPartition]:
        return self.held

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        if not self.failed:
            self.failed = True
            raise KafkaTimeoutError()
        await super().commit(offsets)


async def test_a_failed_commit_is_tried_again_for_the_partitions_still_held(monkeypatch) -> None:
    monkeypatch.setattr(_Committer, "RETRY_PAUSE", 0.01)
    consumer = FailingOnceConsumer(held={A})  # B was taken by a rebalance meanwhile
    committer = _Committer(consumer)  # type: ignore[arg-type]
    committer.add({A: 3, B: 4})
    await asyncio.wait_for(consumer.sent.wait(), 5)
    assert consumer.commits == [{A: 3}]  # A again; B is its new owner's


async def test_a_newer_offset_added_while_a_commit_failed_wins(monkeypatch) -> None:
    monkeypatch.setattr(_Committer, "RETRY_PAUSE", 0.05)
    consumer = FailingOnceConsumer(held={A, B})
    committer = _Committer(consumer)  # type: ignore[arg-type]
    committer.add({A: 3})
    await asyncio.sleep(0.01)  # the first commit has failed; its retry waits
    committer.add({A: 8, B: 1})
    await committer.flush(timeout=5)
    assert consumer.commits[-1] == {A: 8, B: 1}


class HangingOnceConsumer(FailingOnceConsumer):
    """Its first commit never returns (a coordinator that went away mid-request)."""

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        if not self.failed:
            self.failed = True
            await asyncio.Event().wait()
        await FakeConsumer.commit(self, offsets)


async def test_a_commit_that_never_returns_is_given_up_and_tried_again(monkeypatch) -> None:
    monkeypatch.setattr(_Committer, "COMMIT_TIMEOUT", 0.05)
    monkeypatch.setattr(_Committer, "RETRY_PAUSE", 0.01)
    consumer = HangingOnceConsumer(held={A})
    committer = _Committer(consumer)  # type: ignore[arg-type]
    committer.add({A: 3})
    await asyncio.wait_for(consumer.sent.wait(), 5)
    assert consumer.commits == [{A: 3}]
