"""Versioned SQL migrations, applied in order, once, under an advisory lock so that several
replicas starting together do not race. Files are `NNNN_name.sql` in a directory; each
set has a namespace (the messaging mechanism's tables, then the service's own)."""

import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from q2c_observability import get_logger

log = get_logger(__name__)

_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_LOCK_KEY = 7_204_117  # any constant: one migration run per database at a time

_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    namespace  text        NOT NULL,
    version    integer     NOT NULL,
    name       text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (namespace, version)
)
"""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


@dataclass(frozen=True)
class MigrationSet:
    namespace: str
    migrations: tuple[Migration, ...]


def load_migrations(namespace: str, directory: Path) -> MigrationSet:
    found: list[Migration] = []
    for path in sorted(directory.glob("*.sql")):
        match = _FILE.match(path.name)
        if not match:
            raise ValueError(f"migration file {path} is not named NNNN_name.sql")
        found.append(Migration(int(match.group(1)), match.group(2), path.read_text()))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise ValueError(f"duplicate migration versions in {directory}")
    return MigrationSet(namespace, tuple(found))


async def apply_migrations(pool: asyncpg.Pool, *sets: MigrationSet) -> list[str]:
    """Apply what is missing; return the names applied."""
    applied: list[str] = []
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_KEY)
        await conn.execute(_LEDGER)
        done = {
            (r["namespace"], r["version"])
            for r in await conn.fetch("SELECT namespace, version FROM schema_migrations")
        }
        for migration_set in sets:
            for m in migration_set.migrations:
                if (migration_set.namespace, m.version) in done:
                    continue
                await conn.execute(m.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (namespace, version, name) VALUES ($1, $2, $3)",
                    migration_set.namespace, m.version, m.name,
                )
                applied.append(f"{migration_set.namespace}/{m.version:04d}_{m.name}")
    if applied:
        log.info("migrations.applied", migrations=applied)
    return applied
