"""Versioned SQL migrations, applied in order, once, under an advisory lock so that several
replicas starting together do not race. Files are `NNNN_name.sql` in a directory; each
set has a namespace (the messaging mechanism's tables, then the service's own).

The ledger keeps each applied migration's checksum (SHA-256 of its SQL). A migration edited after
it was applied stops start-up (`MigrationChanged`): the database holds what the old text did, so
the change belongs in a new migration. Rows applied before checksums existed get theirs recorded
on the first start that sees them."""

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from q2c_observability import get_logger

from .pool import Connection

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
);
ALTER TABLE schema_migrations ADD COLUMN IF NOT EXISTS checksum text
"""


class MigrationChanged(RuntimeError):
    """An applied migration's file no longer matches what was applied."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        """SHA-256 of the SQL; line endings do not count (a checkout on Windows is no edit)."""
        return hashlib.sha256(self.sql.replace("\r\n", "\n").encode()).hexdigest()


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
    """Apply what is missing; return the names applied. Raises `MigrationChanged` (and applies
    nothing) when an applied migration's file was edited since."""
    applied: list[str] = []
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_KEY)
        await conn.execute(_LEDGER)
        done = {
            (r["namespace"], r["version"]): r["checksum"]
            for r in await conn.fetch("SELECT namespace, version, checksum FROM schema_migrations")
        }
        await _check_applied(conn, sets, done)
        for migration_set in sets:
            for m in migration_set.migrations:
                if (migration_set.namespace, m.version) in done:
                    continue
                await conn.execute(m.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (namespace, version, name, checksum) VALUES ($1, $2, $3, $4)",
                    migration_set.namespace, m.version, m.name, m.checksum,
                )
                applied.append(f"{migration_set.namespace}/{m.version:04d}_{m.name}")
    if applied:
        log.info("migrations.applied", migrations=applied)
    return applied


async def _check_applied(
    conn: Connection, sets: tuple[MigrationSet, ...], done: dict[tuple[str, int], str | None]
) -> None:
    """Every applied migration still has the text it was applied with; one applied before the
    ledger had checksums gets the current one recorded."""
    changed: list[str] = []
    recorded: list[str] = []
    for migration_set in sets:
        for m in migration_set.migrations:
            key = (migration_set.namespace, m.version)
            if key not in done:
                continue
            label = f"{migration_set.namespace}/{m.version:04d}_{m.name}"
            if done[key] is None:
                await conn.execute(
                    "UPDATE schema_migrations SET checksum = $3 WHERE namespace = $1 AND version = $2",
                    *key, m.checksum,
                )
                recorded.append(label)
            elif done[key] != m.checksum:
                changed.append(label)
    if changed:
        database = await conn.fetchval("SELECT current_database()")
        raise MigrationChanged(
            f"migration {', '.join(changed)} was edited after it was applied to database {database!r} "
            "(its checksum differs from the one recorded): restore the file as it was and put the "
            "change in a new migration"
        )
    if recorded:
        log.info("migrations.checksums_recorded", migrations=recorded)
