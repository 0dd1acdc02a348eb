"""SQL for the feature-state service's own table."""

import json

import asyncpg

from .domain import Setting


async def insert_missing_defaults(conn: asyncpg.Connection, settings: list[Setting]) -> list[Setting]:
    """Insert defaults that have no row yet; return those inserted."""
    inserted = await conn.fetch(
        """
        INSERT INTO setting (name, kind, value)
        SELECT name, kind, value::jsonb FROM unnest($1::text[], $2::text[], $3::text[])
            AS d(name, kind, value)
        ON CONFLICT (name) DO NOTHING
        RETURNING name
        """,
        [s.name for s in settings], [s.kind for s in settings], [json.dumps(s.value) for s in settings],
    )
    names = {r["name"] for r in inserted}
    return [s for s in settings if s.name in names]


async def save(conn: asyncpg.Connection, setting: Setting, command_id: str) -> int:
    """Store the new value; return the setting's new version."""
    return await conn.fetchval(
        """
        INSERT INTO setting (name, kind, value, updated_by) VALUES ($1, $2, $3, $4)
        ON CONFLICT (name) DO UPDATE
           SET value = EXCLUDED.value, version = setting.version + 1,
               updated_at = now(), updated_by = EXCLUDED.updated_by
        RETURNING version
        """,
        setting.name, setting.kind, setting.value, command_id,
    )


async def load_all(conn: asyncpg.Connection) -> list[Setting]:
    rows = await conn.fetch("SELECT name, kind, value FROM setting ORDER BY name")
    return [Setting(r["name"], r["kind"], r["value"]) for r in rows]
