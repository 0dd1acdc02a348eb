"""A poll's records of one topic, all its partitions, go through the route in chunks that
span partitions (q2c_messaging.batching.ServiceConsumer): each partition's records in offset
order, a chunk's records in one transaction, and after a failure each partition is read
again from its first record not in the database. Fakes only: the processor stands in for
the transaction; tests/integration/test_topic_transactions.py runs it on a real broker."""

from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord

from q2c_messaging import batching
from q2c_messaging.batching import ServiceConsumer


class RecordingProcessor:
    """Handles every chunk, except the `fail_on`-th call (1-based), which raises."""

    def __init__(self, fail_on: int | None = None) -> None:
        self.chunks: list[list[tuple[int, int]]] = []
        self.fail_on = fail_on

    async def process_batch(self, sources: list[Any]) -> list[str]:
        self.chunks.append([(s.partition, s.offset) for s in sources])
        if len(self.chunks) == self.fail_on:
            raise OSError("database away")
        return ["handled"] * len(sources)


class FakeConsumer:
    def __init__(self) -> None:
        self.seeks: dict[TopicPartition, int] = {}

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks[tp] = offset


class FakeCommitter:
    def __init__(self) -> None:
        self.offsets: dict[TopicPartition, int] = {}

    def add(self, offsets: dict[TopicPartition, int]) -> None:
        self.offsets.update(offsets)


def records(topic: str, partition: int, offsets: range) -> list[ConsumerRecord[bytes, bytes]]:
    return [ConsumerRecord(topic, partition, n, 0, 0, b"k", b"{}", None, 1, 2, []) for n in offsets]


@pytest.fixture(autouse=True)
def no_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    async def instant(_: float) -> None:
        return None

    monkeypatch.setattr(batching.asyncio, "sleep", instant)


def consumer(processors: dict[str, RecordingProcessor], transaction_records: int = 100) -> ServiceConsumer:
    return ServiceConsumer(processors, bootstrap="unused:9092", group_id="g", client_id="c", workers=1,  # type: ignore[arg-type]  # fakes
                           transaction_records=transaction_records)


async def handle(service: ServiceConsumer,
                 batches: dict[TopicPartition, list[Any]]) -> tuple[FakeConsumer, FakeCommitter]:
    kafka, committer = FakeConsumer(), FakeCommitter()
    await service._handle(kafka, committer, batches)  # type: ignore[arg-type]  # fakes
    return kafka, committer


A0, A1, A2, B0 = TopicPartition("a", 0), TopicPartition("a", 1), TopicPartition("a", 2), TopicPartition("b", 0)


async def test_the_partitions_of_one_topic_share_a_chunk_each_in_offset_order() -> None:
    a, b = RecordingProcessor(), RecordingProcessor()
    _, committer = await handle(consumer({"a": a, "b": b}), {
        A0: records("a", 0, range(10, 13)), A1: records("a", 1, range(5, 7)), B0: records("b", 0, range(0, 2))})
    assert a.chunks == [[(0, 10), (0, 11), (0, 12), (1, 5), (1, 6)]]  # one transaction for topic a
    assert b.chunks == [[(0, 0), (0, 1)]]  # another topic: a transaction of its own
    assert committer.offsets == {A0: 13, A1: 7, B0: 2}


@pytest.mark.parametrize(("size", "expected"), [
    (3, [[(0, 0), (0, 1), (0, 2)], [(0, 3), (1, 0), (1, 1)], [(2, 0)]]),
    (1, [[(0, 0)], [(0, 1)], [(0, 2)], [(0, 3)], [(1, 0)], [(1, 1)], [(2, 0)]]),
])
async def test_chunks_hold_at_most_transaction_records_across_partitions(size: int, expected: list[Any]) -> None:
    a = RecordingProcessor()
    _, committer = await handle(consumer({"a": a}, transaction_records=size), {
        A0: records("a", 0, range(4)), A1: records("a", 1, range(2)), A2: records("a", 2, range(1))})
    assert a.chunks == expected
    assert committer.offsets == {A0: 4, A1: 2, A2: 1}


@pytest.mark.parametrize(("fail_on", "committed", "read_again"), [
    # the first chunk fails: nothing is committed, every partition is read again from its start
    (1, {}, {A0: 0, A1: 0, A2: 0}),
    # the second (A0's last record and A1's) fails: A0's first three records stay committed
    (2, {A0: 3}, {A0: 3, A1: 0, A2: 0}),
    # the third (A2's) fails: the others are committed
    (3, {A0: 4, A1: 2}, {A2: 0}),
])
async def test_a_failed_chunk_reads_each_partition_again_from_its_first_record_not_in_the_database(
        fail_on: int, committed: dict[TopicPartition, int], read_again: dict[TopicPartition, int]) -> None:
    a, b = RecordingProcessor(fail_on=fail_on), RecordingProcessor()
    kafka, committer = await handle(consumer({"a": a, "b": b}, transaction_records=3), {
        A0: records("a", 0, range(4)), A1: records("a", 1, range(2)), A2: records("a", 2, range(1)),
        B0: records("b", 0, range(2))})
    assert committer.offsets == {**committed, B0: 2}  # the other topic is not held back
    assert kafka.seeks == read_again
    assert len(a.chunks) == fail_on  # nothing after the failed chunk was tried
