"""One trace from a Sales change through SCM and back to Sales (docs/observability.md), read
from the records' headers on the topics, and, with an OTLP endpoint configured, from the spans
two real services export to a small OTLP/HTTP receiver inside the test."""

import asyncio
import contextlib
import gzip
import os
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from uuid import uuid4

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from q2c_localstack import services
from q2c_localstack.config import ServiceSpec, StackConfig
from q2c_localstack.probe import Record, TopicProbe

from .quote_clients import now

TRACED_TOPICS = ["quote.sales-commands", "scm.quote.events", "dataverse.quote.writes"]


def traceparent() -> tuple[str, str]:
    """A fresh W3C traceparent as an outside party (Sales) would send it, and its trace id."""
    trace_id = uuid4().hex
    return f"00-{trace_id}-{uuid4().hex[:16]}-01", trace_id


def trace_id_of(record: Record) -> str:
    version, trace_id, _parent, _flags = record.headers["traceparent"].split("-")
    return trace_id


async def send_traced_quote(probe: TopicProbe, header: str) -> str:
    """Sales creates a quote, its change carrying `header` as traceparent; its number."""
    number, quote_id = f"C-T-{uuid4().hex[:8]}", str(uuid4())
    change = {"message_id": str(uuid4()), "table": "quote", "operation": "create", "occurred_at": now(),
              "user": "alice", "record": {
                  "quoteid": quote_id, "msdyn_quotenumber": number, "name": "Traced PCs", "customerid": "US-001",
                  "transactioncurrencyid": "USD", "statecode": 0, "statuscode": 1, "revisionnumber": 0}}
    await probe.publish("dataverse.quote.changes", quote_id, change, headers={"traceparent": header})
    return number


async def test_a_sales_change_its_scm_command_and_event_and_the_sales_write_share_one_trace(
        running_stack: StackConfig, probe_factory) -> None:
    probe = await probe_factory(*TRACED_TOPICS)
    header, trace_id = traceparent()
    number = await send_traced_quote(probe, header)
    # the adapter's command to SCM, SCM's event, and the write that brings it back to Sales
    [command] = await probe.wait_for("quote.sales-commands", lambda r: r.key == number)
    [event, *_] = await probe.wait_for("scm.quote.events", lambda r: r.key == number)
    [write, *_] = await probe.wait_for("dataverse.quote.writes", lambda r: r.key == number)
    assert [trace_id_of(r) for r in (command, event, write)] == [trace_id] * 3
    # no exporter in this stack: the context is passed on as Sales sent it, no span in between
    assert command.headers["traceparent"] == event.headers["traceparent"] == write.headers["traceparent"] == header


# --- with an exporter: spans from two services --------------------------------------------------


@dataclass
class Receiver:
    """An OTLP/HTTP trace receiver: POST /v1/traces with an ExportTraceServiceRequest."""

    port: int = 0
    spans: list[tuple[str, str, str]] = field(default_factory=list)  # (service.name, trace id, span name)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while request := await reader.readline():  # the exporter keeps its connection open
                headers = {}
                while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    name, _, value = line.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                if headers.get("content-encoding") == "gzip":
                    body = gzip.decompress(body)
                if request.split()[1] == b"/v1/traces":
                    self.take(ExportTraceServiceRequest.FromString(body))
                answer = ExportTraceServiceResponse().SerializeToString()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\n"
                             b"Content-Length: %d\r\n\r\n" % len(answer) + answer)
                await writer.drain()
        writer.close()

    def take(self, request: ExportTraceServiceRequest) -> None:
        for resource_spans in request.resource_spans:
            service = next((a.value.string_value for a in resource_spans.resource.attributes
                            if a.key == "service.name"), "?")
            for scope_spans in resource_spans.scope_spans:
                self.spans.extend((service, s.trace_id.hex(), s.name) for s in scope_spans.spans)
        self.arrived.set()

    async def wait_for(self, trace_id: str, services: set[str], timeout: float = 60.0) -> list[tuple[str, str]]:
        """The (service, span) pairs of the trace, once every one of `services` has sent one."""
        deadline = time.monotonic() + timeout
        while True:
            found = [(service, name) for service, tid, name in self.spans if tid == trace_id]
            if services <= {service for service, _ in found}:
                return found
            if time.monotonic() > deadline:
                raise TimeoutError(f"spans of trace {trace_id}: {found}; expected spans from {sorted(services)}")
            self.arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), 1.0)


def _spec(stack: StackConfig, name: str) -> ServiceSpec:
    return next(s for s in stack.services if s.name == name)


async def _restart(stack: StackConfig, names: list[str]) -> None:
    """Stop and start services with the environment of this moment (services.start passes
    os.environ on), waiting until each is ready again."""
    for name in names:
        await asyncio.to_thread(services.stop, stack, _spec(stack, name))
    for name in names:
        _, offset = services.start(stack, _spec(stack, name))
        await asyncio.to_thread(services.wait_ready, stack, _spec(stack, name), offset)


@contextlib.contextmanager
def environment(**values: str) -> Iterator[None]:
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


EXPORTING = ["dual-write-adapter", "quote"]


@pytest.fixture
async def exporting(running_stack: StackConfig) -> AsyncIterator[Receiver]:
    """The adapter and the quote service restarted with OTEL_EXPORTER_OTLP_ENDPOINT pointing at
    a receiver in this test; afterwards restarted without it, as the other tests expect them."""
    receiver = Receiver()
    server = await asyncio.start_server(receiver.serve, "127.0.0.1", 0)
    receiver.port = server.sockets[0].getsockname()[1]
    try:
        with environment(OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{receiver.port}",
                         OTEL_BSP_SCHEDULE_DELAY="200"):  # export within 0.2 s, not the default 5 s
            await _restart(running_stack, EXPORTING)
        yield receiver
    finally:
        await _restart(running_stack, EXPORTING)
        server.close()


async def test_with_an_otlp_endpoint_two_services_export_spans_of_the_sales_changes_trace(
        exporting: Receiver, probe_factory) -> None:
    probe = await probe_factory(*TRACED_TOPICS)
    header, trace_id = traceparent()
    number = await send_traced_quote(probe, header)
    [write, *_] = await probe.wait_for("dataverse.quote.writes", lambda r: r.key == number)
    [command] = probe.matching("quote.sales-commands", lambda r: r.key == number)
    spans = await exporting.wait_for(trace_id, set(EXPORTING))
    names: dict[str, set[str]] = {}
    for service, name in spans:
        names.setdefault(service, set()).add(name)
    # the adapter handled the Sales change and wrote the command; the quote service handled it
    assert {"process dataverse.quote.changes", "db.transaction", "create quote.sales-commands"} <= names[
        "dual-write-adapter"]
    assert {"process quote.sales-commands", "db.transaction", "create scm.quote.events"} <= names["quote"]
    # the records carry the trace on, each hop with its own parent span now
    assert trace_id_of(command) == trace_id_of(write) == trace_id
    assert command.headers["traceparent"] != header
