"""The trace context a handling continues and passes on (docs/observability.md), in both
modes: without an exporter (the incoming headers passed through) and with one (spans)."""

from collections.abc import Iterator, Sequence

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind

from q2c_observability import tracing

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


class Collected(SpanExporter):
    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.spans.extend(spans)
        return SpanExportResult.SUCCESS


@pytest.fixture
def exported() -> Iterator[Collected]:
    """The exporter mode, spans collected in memory (configure_tracing does the same with OTLP)."""
    collected = Collected()
    provider = TracerProvider(resource=Resource.create({"service.name": "unit"}))
    provider.add_span_processor(SimpleSpanProcessor(collected))
    tracing._state.provider, tracing._state.tracer = provider, provider.get_tracer("test")  # noqa: SLF001
    yield collected
    tracing.shutdown_tracing()


@pytest.mark.parametrize(("headers", "passed_on", "trace_id"), [
    ({"traceparent": PARENT}, {"traceparent": PARENT}, TRACE_ID),
    ({"traceparent": PARENT, "tracestate": "congo=t61rcWkgMzE"},
     {"traceparent": PARENT, "tracestate": "congo=t61rcWkgMzE"}, TRACE_ID),
    # a later version may append fields: carried as it came
    ({"traceparent": f"cc-{TRACE_ID}-00f067aa0ba902b7-01-what-comes-next"},
     {"traceparent": f"cc-{TRACE_ID}-00f067aa0ba902b7-01-what-comes-next"}, TRACE_ID),
    ({}, {}, None),
    ({"tracestate": "congo=t61rcWkgMzE"}, {}, None),  # a state without a parent means nothing
    ({"traceparent": "not a traceparent"}, {}, None),
    ({"traceparent": PARENT.upper()}, {}, None),  # the W3C text allows lower-case hex only
    ({"traceparent": f"00-{'0' * 32}-00f067aa0ba902b7-01"}, {}, None),  # all-zero trace id
    ({"traceparent": f"00-{TRACE_ID}-{'0' * 16}-01"}, {}, None),  # all-zero parent id
    ({"traceparent": f"ff-{TRACE_ID}-00f067aa0ba902b7-01"}, {}, None),  # version ff is invalid
    ({"traceparent": PARENT, "tracestate": "x" * 513}, {"traceparent": PARENT}, TRACE_ID),
])
def test_without_an_exporter_the_incoming_context_is_passed_on_as_it_came(
        headers: dict[str, str], passed_on: dict[str, str], trace_id: str | None) -> None:
    assert not tracing.enabled()
    with tracing.consuming(headers, "process t") as seen, tracing.span("db.transaction"):
        assert seen == trace_id
        assert tracing.outgoing("out") == passed_on
    assert tracing.outgoing("out") == {}  # outside a handling: no trace


def test_without_an_endpoint_nothing_is_exported(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_SDK_DISABLED"):
        monkeypatch.delenv(name, raising=False)
    assert tracing.configure_tracing("unit") is False
    assert not tracing.enabled()
    assert tracing.endpoint_configured({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})
    assert tracing.endpoint_configured({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"})
    assert not tracing.endpoint_configured({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318",
                                            "OTEL_SDK_DISABLED": "true"})


def test_an_endpoint_turns_the_exporter_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")  # never reached: no span ends
    try:
        assert tracing.configure_tracing("unit") is True
        assert tracing.enabled()
    finally:
        tracing.shutdown_tracing()  # nothing buffered: nothing is sent
    assert not tracing.enabled()


def test_with_an_exporter_the_handling_is_a_consumer_span_of_the_incoming_trace(exported: Collected) -> None:
    with tracing.consuming({"traceparent": PARENT, "tracestate": "congo=t61rcWkgMzE"}, "process in",
                           {"messaging.destination.name": "in"}) as trace_id:
        with tracing.span("db.transaction", SpanKind.CLIENT):
            written = tracing.outgoing("out")
    assert trace_id == TRACE_ID
    spans = {span.name: span for span in exported.spans}
    consumer, transaction, producer = spans["process in"], spans["db.transaction"], spans["create out"]
    assert {s.context.trace_id for s in exported.spans} == {int(TRACE_ID, 16)}
    assert consumer.kind == SpanKind.CONSUMER and consumer.parent is not None
    assert consumer.parent.span_id == 0x00F067AA0BA902B7 and consumer.parent.is_remote
    assert transaction.parent is not None and transaction.parent.span_id == consumer.context.span_id
    assert producer.kind == SpanKind.PRODUCER
    assert producer.parent is not None and producer.parent.span_id == transaction.context.span_id
    # the row carries the PRODUCER span's context, and the state an outside party put on the trace
    assert written == {"traceparent": f"00-{TRACE_ID}-{producer.context.span_id:016x}-01",
                       "tracestate": "congo=t61rcWkgMzE"}


def test_with_an_exporter_a_record_without_context_starts_a_new_trace(exported: Collected) -> None:
    with tracing.consuming({}, "process in") as first:
        written = tracing.outgoing("out")
    with tracing.consuming({"traceparent": "garbage"}, "process in") as second:
        pass
    assert first is not None and second is not None and first != second
    consumer = next(s for s in exported.spans if s.name == "process in")
    assert consumer.parent is None
    assert written["traceparent"].split("-")[1] == first


def test_with_an_exporter_work_outside_a_handling_starts_its_own_trace(exported: Collected) -> None:
    written = tracing.outgoing("out")  # a start-up hook, a timer
    [producer] = exported.spans
    assert producer.parent is None
    # sampled; a new trace id is also flagged random (W3C Trace Context level 2): 01 or 03
    assert written["traceparent"] in {f"00-{producer.context.trace_id:032x}-{producer.context.span_id:016x}-{flags}"
                                      for flags in ("01", "03")}
