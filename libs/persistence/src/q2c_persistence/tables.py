"""Small tables that several services keep in their own databases, each with its own
migration: a copy of the features and parameters from `scm.feature.events`, and the way a
number is taken from a sequence. The SQL is the same everywhere; the rules that read them are not."""

from collections.abc import Callable
from typing import Any, TypeVar

from . import copies
from .pool import Connection

T = TypeVar("T")

FEATURE_COPY = "feature_copy"  # the table; also its name in copy_version (`copies`)


async def next_value(conn: Connection, sequence: str) -> int:
    """Take the next number of the PostgreSQL sequence named `sequence`. `nextval` holds no
    lock until commit, so concurrent transactions never wait on each other for a number (nor
    deadlock over two sequences); the price is that a rolled-back transaction does not give its
    number back (docs/domain.md §4: numbers may have gaps, never repeat)."""
    return int(await conn.fetchval("SELECT nextval($1::text::regclass)", sequence))


async def store_setting(conn: Connection, name: str, value: Any) -> None:
    """Keep the current value of a feature or parameter (table `feature_copy(name, value jsonb)`)."""
    await conn.execute(
        "INSERT INTO feature_copy (name, value) VALUES ($1, $2::jsonb) "
        "ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value",
        name, value)
    copies.wrote(conn, FEATURE_COPY)  # this transaction's next read sees its own write


async def settings(conn: Connection) -> dict[str, Any]:
    """Every feature and parameter value heard so far, by name. A read of the table: a
    handler reads it through a `settings_copy` instead, which reads only when it moved."""
    return {r["name"]: r["value"] for r in await conn.fetch("SELECT name, value FROM feature_copy")}


def settings_copy(make: Callable[[dict[str, Any]], T]) -> copies.VersionedCopy[T]:
    """A process's copy of the feature copy, made into what a service decides with (`make`:
    the service's rules over the values heard), read again only when it moved."""

    async def load(conn: Connection) -> T:
        return make(await settings(conn))

    return copies.VersionedCopy(FEATURE_COPY, load)
