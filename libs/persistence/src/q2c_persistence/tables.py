"""Small tables that several services keep in their own databases, each with its own
migration: a number sequence per document kind, and a copy of the features and parameters
from `scm.feature.events`. The SQL is the same everywhere; the rules that read them are not."""

from typing import Any

from .pool import Connection


async def next_value(conn: Connection, sequence: str) -> int:
    """Take the next number of `sequence` (table `number_sequence(name, next_value)`); the row
    lock serialises concurrent takers, and a rolled-back transaction gives its number back."""
    return int(await conn.fetchval(
        "UPDATE number_sequence SET next_value = next_value + 1 WHERE name = $1 RETURNING next_value - 1",
        sequence))


async def store_setting(conn: Connection, name: str, value: Any) -> None:
    """Keep the current value of a feature or parameter (table `feature_copy(name, value jsonb)`)."""
    await conn.execute(
        "INSERT INTO feature_copy (name, value) VALUES ($1, $2::jsonb) "
        "ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value",
        name, value)


async def settings(conn: Connection) -> dict[str, Any]:
    """Every feature and parameter value heard so far, by name."""
    return {r["name"]: r["value"] for r in await conn.fetch("SELECT name, value FROM feature_copy")}
