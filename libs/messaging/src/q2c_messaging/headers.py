"""Kafka record headers. q2c mirrors a message's ids and type into headers so that the
relay, the DLQ and operators need not parse values."""

from collections.abc import Iterable, Mapping

MESSAGE_ID = "message_id"
TYPE = "type"
CORRELATION_ID = "correlation_id"
CAUSATION_ID = "causation_id"
PRODUCER = "producer"
# W3C Trace Context (docs/observability.md): what the outbox row kept, published by the relay;
# read from any record, an outside party's included. Never put on a dead letter.
TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"

# Dead-letter headers, exactly as CONTRACT.md §0 names them.
ERROR_CODE = "error.code"
ERROR_TEXT = "error.text"
SOURCE_TOPIC = "source.topic"
SOURCE_PARTITION = "source.partition"
SOURCE_OFFSET = "source.offset"

KafkaHeaders = list[tuple[str, bytes]]


def to_kafka(headers: Mapping[str, str | None]) -> KafkaHeaders:
    return [(k, v.encode("utf-8")) for k, v in headers.items() if v is not None]


def from_kafka(headers: Iterable[tuple[str, bytes]] | None) -> dict[str, str]:
    return {k: v.decode("utf-8", errors="replace") for k, v in headers or ()}
