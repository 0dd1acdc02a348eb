"""Invalid messages go to `<topic>.dlq` with their original key and value and the error
headers of CONTRACT.md §0, so the partition keeps flowing and nothing is dropped."""

from dataclasses import dataclass, field

from aiokafka import AIOKafkaProducer

from q2c_contracts.topics import dead_letter_topic
from q2c_observability import get_logger, metrics

from . import headers as h

log = get_logger(__name__)

# Error codes the consumer recipe puts on dead letters.
NOT_JSON = "message.not-json"
INVALID = "message.invalid"
HANDLER_FAILED = "handler.failed"


@dataclass(frozen=True)
class SourceRecord:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    # The record's own headers (ids of the flow); never copied onto a dead letter.
    headers: dict[str, str] = field(default_factory=dict)


class DeadLetters:
    def __init__(self, producer: AIOKafkaProducer, service: str = "") -> None:
        self._producer = producer
        self._service = service
        self.count = 0

    async def send(self, record: SourceRecord, code: str, text: str) -> None:
        """Returns once the broker has the dead letter (acks=all); raises otherwise, so the
        source message is not committed and will be read again."""
        await self._producer.send_and_wait(
            dead_letter_topic(record.topic),
            value=record.value,
            key=record.key,
            headers=h.to_kafka({
                h.ERROR_CODE: code,
                h.ERROR_TEXT: text,
                h.SOURCE_TOPIC: record.topic,
                h.SOURCE_PARTITION: str(record.partition),
                h.SOURCE_OFFSET: str(record.offset),
            }),
        )
        self.count += 1
        metrics.DEAD_LETTERS.labels(self._service, record.topic, code).inc()
        log.warning("message.dead_lettered", code=code, text=text, topic=record.topic,
                    partition=record.partition, offset=record.offset)
