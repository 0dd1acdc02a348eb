"""A plain HTTP GET for the tests that read a service's /health and /metrics (a helper module
shared by the integration and e2e suites, not a test module)."""

import asyncio


async def http_get(port: int, path: str) -> tuple[int, str]:
    """(status, body) of `GET path` on 127.0.0.1:`port`."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
    await writer.drain()
    response = (await reader.read()).decode()
    writer.close()
    head, _, body = response.partition("\r\n\r\n")
    return int(head.split()[1]), body
