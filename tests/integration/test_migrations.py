"""Migrations on the real PostgreSQL: each applied one's checksum is recorded, an applied one
edited later stops start-up naming it and the database, and a ledger from before checksums
gets them recorded on its first start."""

import re
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from q2c_persistence import MigrationChanged, apply_migrations, create_pool, load_migrations


@pytest.fixture
async def pool(scratch_db: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(scratch_db)
    yield pool
    await pool.close()


def _write(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, sql in files.items():
        (directory / name).write_text(sql)
    return directory


async def _ledger(pool: asyncpg.Pool) -> dict[str, str | None]:
    rows = await pool.fetch("SELECT namespace, version, name, checksum FROM schema_migrations")
    return {f"{r['namespace']}/{r['version']:04d}_{r['name']}": r["checksum"] for r in rows}


async def test_applied_migrations_record_their_checksum(pool: asyncpg.Pool, tmp_path: Path) -> None:
    things = load_migrations("things", _write(tmp_path, {"0001_table.sql": "CREATE TABLE thing (id int);"}))

    assert await apply_migrations(pool, things) == ["things/0001_table"]

    assert await _ledger(pool) == {"things/0001_table": things.migrations[0].checksum}
    assert await apply_migrations(pool, things) == []  # the same text again: nothing to do


async def test_an_applied_migration_edited_later_stops_start_up(
    pool: asyncpg.Pool, scratch_db: str, tmp_path: Path
) -> None:
    # Given a migration applied, then edited, and a new one added beside it
    directory = _write(tmp_path, {"0001_table.sql": "CREATE TABLE thing (id int);"})
    await apply_migrations(pool, load_migrations("things", directory))
    _write(directory, {"0001_table.sql": "CREATE TABLE thing (id bigint);",
                       "0002_more.sql": "CREATE TABLE more (id int);"})

    # When the service starts, it stops with a message naming the migration and the database
    database = scratch_db.rsplit("/", 1)[1]
    expected = f"migration things/0001_table was edited after it was applied to database '{database}'"
    with pytest.raises(MigrationChanged, match=re.escape(expected)):
        await apply_migrations(pool, load_migrations("things", directory))

    # ...and applies nothing, not even the new migration
    assert await pool.fetchval("SELECT to_regclass('more')") is None
    assert list(await _ledger(pool)) == ["things/0001_table"]


async def test_a_ledger_from_before_checksums_gets_them_on_first_start(pool: asyncpg.Pool, tmp_path: Path) -> None:
    # Given a database migrated by the code before checksums: its ledger has no checksum column
    await pool.execute("""
        CREATE TABLE schema_migrations (
            namespace text NOT NULL, version integer NOT NULL, name text NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (namespace, version));
        CREATE TABLE thing (id int);
        INSERT INTO schema_migrations (namespace, version, name) VALUES ('things', 1, 'table');
    """)
    directory = _write(tmp_path, {"0001_table.sql": "CREATE TABLE thing (id int);"})
    things = load_migrations("things", directory)

    # When it starts with the new code, the checksum is recorded and nothing re-applied
    assert await apply_migrations(pool, things) == []
    assert await _ledger(pool) == {"things/0001_table": things.migrations[0].checksum}

    # And from then on an edit is caught
    _write(directory, {"0001_table.sql": "CREATE TABLE thing (id int, name text);"})
    with pytest.raises(MigrationChanged, match="things/0001_table"):
        await apply_migrations(pool, load_migrations("things", directory))
