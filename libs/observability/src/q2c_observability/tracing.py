"""W3C trace context through every Kafka hop, and OpenTelemetry spans (docs/observability.md).

A record's `traceparent` (and `tracestate`) header is the context its consumer continues; what
the handling writes to the outbox carries the context on. Two modes, chosen once per process:

- `OTEL_EXPORTER_OTLP_ENDPOINT` (or `..._TRACES_ENDPOINT`) set: an SDK tracer provider exports
  spans over OTLP/HTTP (protobuf) in batches: a CONSUMER span per handled record (child of the
  incoming context, a new trace when the record has none), a span per database transaction, a
  PRODUCER span per message written, whose context goes into the outbox row.
- not set: no SDK, no exporter, no span, not even OpenTelemetry's context machinery: the
  incoming headers, once checked, are kept in a context variable and copied onto what the
  handling writes (the outgoing `traceparent` is the incoming one), so a trace an outside party
  started still joins up behind q2c; a record without one starts nothing. The cost is a header
  lookup and, when the header is there, one regex match (docs/observability.md gives the
  measured figure).

The SDK is imported only in the first mode, so a service without an endpoint never loads it."""

import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from opentelemetry.context import Context
from opentelemetry.trace import SpanKind, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

# The W3C Trace Context header names, used as Kafka record header names.
TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"

_PROPAGATOR = TraceContextTextMapPropagator()
_EMPTY = Context()
# W3C Trace Context §3.2: version, trace id, parent id, flags; a later version may append fields.
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}(?:-.*)?", re.ASCII)
_ZERO_TRACE, _ZERO_PARENT = "0" * 32, "0" * 16
_MAX_TRACESTATE = 512  # what the W3C text asks every vendor to be able to carry
# Pass-through mode: the trace headers of the record being handled.
_passed: ContextVar[dict[str, str] | None] = ContextVar("q2c_trace_headers", default=None)


class _State:
    """The process's tracing mode; replaced by `configure_tracing`."""

    tracer: Tracer | None = None  # None: pass-through only
    provider: Any = None  # the SDK TracerProvider, kept to flush it at shutdown


_state = _State()


def endpoint_configured(environ: Mapping[str, str] = os.environ) -> bool:
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return bool(environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))


def configure_tracing(service: str, environ: Mapping[str, str] = os.environ) -> bool:
    """Export spans when an OTLP endpoint is configured; return whether it does. The exporter
    reads the standard `OTEL_EXPORTER_OTLP_*` variables itself (endpoint, headers, timeout);
    `OTEL_SERVICE_NAME` overrides the service name, `OTEL_TRACES_SAMPLER` the sampler."""
    shutdown_tracing()
    if not endpoint_configured(environ):
        return False
    # Imported here: a process without an endpoint never pays for the SDK and the exporter.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create({"service.name": environ.get("OTEL_SERVICE_NAME") or service,
                                "service.namespace": "q2c"})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    # Our own provider, not the global one: the global can be set once per process, and tests
    # run several runtimes in one process.
    _state.provider = provider
    _state.tracer = provider.get_tracer("q2c_messaging")
    return True


def shutdown_tracing() -> None:
    """Export what is buffered, then stop (service shutdown)."""
    provider, _state.provider, _state.tracer = _state.provider, None, None
    if provider is not None:
        provider.shutdown()


def enabled() -> bool:
    return _state.tracer is not None


@contextmanager
def consuming(headers: Mapping[str, str], name: str,
              attributes: Mapping[str, Any] | None = None) -> Iterator[str | None]:
    """The context of handling one record: the record's own trace continued (a new one when
    it carries none). Yields the trace id (32 hex digits) for the logs, None without a trace."""
    tracer = _state.tracer
    if tracer is None:
        passed, trace_id = _checked(headers)
        token = _passed.set(passed)
        try:
            yield trace_id
        finally:
            _passed.reset(token)
        return
    parent = _PROPAGATOR.extract(headers) if TRACEPARENT in headers else _EMPTY
    with tracer.start_as_current_span(name, context=parent, kind=SpanKind.CONSUMER,
                                      attributes=attributes) as span:
        yield format(span.get_span_context().trace_id, "032x")


@contextmanager
def span(name: str, kind: SpanKind = SpanKind.INTERNAL,
         attributes: Mapping[str, Any] | None = None) -> Iterator[None]:
    """A child span of the current context (a database transaction, say); nothing without an
    exporter."""
    tracer = _state.tracer
    if tracer is None:
        yield
        return
    with tracer.start_as_current_span(name, kind=kind, attributes=attributes):
        yield


def outgoing(topic: str) -> dict[str, str]:
    """The trace headers for a message written now to `topic`: a PRODUCER span's context
    (child of the handling), or the incoming context passed through; {} outside any trace."""
    tracer = _state.tracer
    if tracer is None:
        return _passed.get() or {}
    carrier: dict[str, str] = {}
    with tracer.start_as_current_span(f"create {topic}", kind=SpanKind.PRODUCER, attributes={
        "messaging.system": "kafka", "messaging.operation.type": "create", "messaging.destination.name": topic,
    }):
        _PROPAGATOR.inject(carrier)
    return carrier


def _checked(headers: Mapping[str, str]) -> tuple[dict[str, str] | None, str | None]:
    """The record's trace headers as they came, when its traceparent is well-formed (what the
    propagator would accept), and its trace id; (None, None) otherwise."""
    traceparent = headers.get(TRACEPARENT)
    if traceparent is None:
        return None, None
    match = _TRACEPARENT.fullmatch(traceparent)
    if match is None or match[1] == "ff" or match[2] == _ZERO_TRACE or match[3] == _ZERO_PARENT:
        return None, None
    passed = {TRACEPARENT: traceparent}
    tracestate = headers.get(TRACESTATE)
    if tracestate and len(tracestate) <= _MAX_TRACESTATE:
        passed[TRACESTATE] = tracestate
    return passed, match[2]
