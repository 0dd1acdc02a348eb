"""A small HTTP endpoint per service (docs/observability.md): `GET /health/live` (the process's
event loop answers), `GET /health/ready` (everything the service needs to do its work: 200 or
503 with JSON naming each check), `GET /health` (database and Kafka reachable, as before the
split, for existing callers), `GET /metrics` (Prometheus text) and `GET /debug/tasks` (what
every asyncio task awaits, `q2c_observability.tasks`). asyncio streams: no web
framework for a few read-only routes."""

import asyncio
import json
from collections.abc import Awaitable, Callable

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from .logging import get_logger
from .tasks import describe_tasks

log = get_logger(__name__)

HealthCheck = Callable[[], Awaitable[dict[str, bool]]]
# Brings gauges up to date just before a scrape, so that a reader of /metrics (a test waiting
# for the stack to be quiet, say) sees the state of now, not of the last periodic refresh.
Refresh = Callable[[], Awaitable[None]]


class HealthServer:
    def __init__(self, port: int, check: HealthCheck, host: str = "127.0.0.1",
                 refresh: Refresh | None = None, ready: HealthCheck | None = None) -> None:
        self.port, self.host, self.check, self.refresh = port, host, check, refresh
        self.ready = ready or check
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        log.info("http.listening", host=self.host, port=self.port)

    async def stop(self) -> None:
        if self._server:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), 5)
            while (await asyncio.wait_for(reader.readline(), 5)) not in (b"\r\n", b"\n", b""):
                pass  # headers are not needed
            parts = request.decode("latin-1").split()
            path = parts[1].split("?", 1)[0] if len(parts) > 1 else "/"
            if path == "/metrics":
                await self._refresh()
                status, content_type, body = "200 OK", CONTENT_TYPE_LATEST, generate_latest()
            elif path == "/health/live":
                # Answering at all is the proof: this runs on the loop every handler runs on.
                status, content_type, body = "200 OK", "application/json", b'{"status": "ok"}'
            elif path == "/debug/tasks":
                status, content_type, body = "200 OK", "text/plain; charset=utf-8", describe_tasks().encode()
            elif path in ("/health", "/health/ready"):
                checks = await self._checks(self.check if path == "/health" else self.ready)
                status = "200 OK" if all(checks.values()) else "503 Service Unavailable"
                content_type = "application/json"
                body = json.dumps({"status": "ok" if all(checks.values()) else "failing", "checks": checks}).encode()
            else:
                status, content_type, body = "404 Not Found", "text/plain", b"not found\n"
            writer.write(f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
                         f"Connection: close\r\n\r\n".encode() + body)
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    async def _refresh(self) -> None:
        if self.refresh is None:
            return
        try:
            await asyncio.wait_for(self.refresh(), 5)
        except Exception as exc:  # noqa: BLE001 - the scrape still answers, with the last values
            log.warning("http.metrics_refresh_failed", error=repr(exc))

    async def _checks(self, check: HealthCheck) -> dict[str, bool]:
        try:
            return await asyncio.wait_for(check(), 5)
        except Exception as exc:  # a check that cannot even run is a failing check
            log.warning("http.health_check_failed", error=repr(exc))
            return {"checks": False}
