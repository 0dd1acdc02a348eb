"""One asyncpg pool per process: connections are set up once, never per message."""

import asyncio
import json
from typing import TypeAlias

import asyncpg
import asyncpg.pool

from q2c_observability import get_logger

log = get_logger(__name__)

# What SQL helpers take: a connection of their own or one acquired from the pool (a proxy).
Connection: TypeAlias = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy


async def _init_connection(conn: asyncpg.Connection) -> None:
    # jsonb in and out as Python objects, so repositories never hand-encode JSON.
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def _keep_session(conn: asyncpg.Connection) -> None:
    """What the pool runs on a connection given back, after asyncpg has rolled back any open
    transaction and dropped its listeners: nothing. The default reset query (unlock advisory
    locks, close cursors, UNLISTEN, RESET ALL) cost a round trip on every release, one
    statement in eight of the adapter's (docs/performance.md). No q2c code leaves session state
    on a pooled connection: locks are transaction-scoped, and the outbox relay, which keeps a
    connection with a session lock, LISTEN and a setting, resets it itself before release."""


# Every statement runs on its generic plan, planned once per connection. PostgreSQL's default
# ("auto") plans a prepared statement afresh at each execution whenever it estimates a custom
# plan cheaper, and it kept doing so for the adapter's held-change and map-applied statements:
# 100-200 us of planning to run 90 us (docs/performance.md, "Sixth session"). q2c's statements
# look rows up by key, whose plan does not depend on the values, so the generic plan is the
# same plan without the planning.
SERVER_SETTINGS = {"plan_cache_mode": "force_generic_plan"}


async def create_pool(
    dsn: str, *, min_size: int = 2, max_size: int = 10, connect_timeout: float = 30.0,
    application_name: str | None = None,
) -> asyncpg.Pool:
    """Open a pool, retrying while the server is still starting, failing clearly after
    `connect_timeout` seconds. `application_name` names its sessions in pg_stat_activity
    (a service's replicas: which one holds the outbox relay's lock, say)."""
    deadline = asyncio.get_running_loop().time() + connect_timeout
    while True:
        try:
            return await asyncpg.create_pool(
                dsn, min_size=min_size, max_size=max_size, init=_init_connection, reset=_keep_session,
                server_settings=SERVER_SETTINGS | ({"application_name": application_name} if application_name else {}),
            )
        except (OSError, asyncpg.CannotConnectNowError) as exc:
            if asyncio.get_running_loop().time() >= deadline:
                raise ConnectionError(f"PostgreSQL unreachable after {connect_timeout}s: {exc}") from exc
            log.warning("postgres.unreachable", error=str(exc))
            await asyncio.sleep(0.5)
