"""Micro-benchmark: what the trace context costs per handled message, without and with an
exporter (docs/observability.md). No broker, no database: the tracing calls the consumer
recipe and the relay make for one message (the consumer span, the transaction span, two outbox
rows, the relay's headers), timed in a loop against the same loop without them.

    python -m q2c_localstack.tracebench [messages]"""

import sys
import time
from collections.abc import Callable, Sequence

from q2c_messaging import headers as h
from q2c_observability import tracing

INCOMING = {"message_id": "m-1", "correlation_id": "c-1",
            "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "tracestate": "vendor=1"}
WITHOUT = {"message_id": "m-1", "correlation_id": "c-1"}
ROW_HEADERS = {"message_id": "m-2", "type": "quote.changed", "producer": "quote", "correlation_id": "c-1"}


def one_message(incoming: dict[str, str]) -> None:
    with tracing.consuming(incoming, "process bench.topic",
                           {"messaging.system": "kafka"} if tracing.enabled() else None):
        with tracing.span("db.transaction"):
            rows = [tracing.outgoing("bench.out") for _ in range(2)]
    for trace_context in rows:  # what the relay adds to each row's headers
        h.to_kafka({**ROW_HEADERS, h.TRACEPARENT: trace_context.get(h.TRACEPARENT),
                    h.TRACESTATE: trace_context.get(h.TRACESTATE)})


def baseline(_incoming: dict[str, str]) -> None:
    for _ in range(2):
        h.to_kafka(ROW_HEADERS)


def per_message_us(work: Callable[[dict[str, str]], None], incoming: dict[str, str], n: int) -> float:
    best = float("inf")
    # CPU time of this thread, best of five: what the handling pays, as little disturbed as can
    # be by the other processes on the machine (and not counting the exporter's own thread).
    for _ in range(5):
        started = time.thread_time()
        for _ in range(n):
            work(incoming)
        best = min(best, time.thread_time() - started)
    return best / n * 1e6


def main(argv: Sequence[str]) -> None:
    n = int(argv[0]) if argv else 20_000
    base = per_message_us(baseline, INCOMING, n)
    print(f"{n} messages, thread CPU time, best of 5; overhead = per message minus the same loop "
          f"without tracing ({base:.2f} µs)")
    for mode in ("no endpoint (pass-through)", "exporter (SDK spans, batch processor)"):
        if mode.startswith("exporter"):
            enable_sdk_without_network()
        for label, incoming in (("with traceparent", INCOMING), ("without traceparent", WITHOUT)):
            cost = per_message_us(one_message, incoming, n)
            print(f"{mode:40} {label:20} {cost:8.2f} µs/message, overhead {cost - base:8.2f} µs")
    tracing.shutdown_tracing()


def enable_sdk_without_network() -> None:
    """The exporter mode, with the OTLP exporter swapped for one that drops the spans: the
    figure is the SDK's cost in the handling, not a collector's."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    class Drop(SpanExporter):
        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    provider = TracerProvider(resource=Resource.create({"service.name": "bench"}))
    provider.add_span_processor(BatchSpanProcessor(Drop(), max_queue_size=1 << 20, schedule_delay_millis=100))
    tracing._state.provider = provider  # noqa: SLF001 - the benchmark stands in for configure_tracing
    tracing._state.tracer = provider.get_tracer("q2c_messaging")  # noqa: SLF001


if __name__ == "__main__":
    main(sys.argv[1:])
