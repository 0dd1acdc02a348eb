"""Copies of small, rarely written tables kept in each process's memory (the feature copy),
read again only when their version moved (docs/messaging.md "Cached copies").

Every statement that writes a copied table gives it a new version (a random UUID in the
`copy_version` row of the table, set by a trigger in the writing transaction: the messaging
migrations and each service's own). The consumer's inbox claim, the first statement of every
handling transaction, reads all the versions with it and makes them known here for the
transaction (`claimed`); a handler's `VersionedCopy.get` then answers from memory when the
version it claimed is the one cached: no statement at all. Otherwise (the copy moved, or no
claim made the version known: work outside a message) it reads the version, then the copy.

Why it is never staler than a read of the table at the claim: the version is read before
the table, both in the transaction's own connection, so what is cached under a version is
that version's value or a newer one. And a version is never reused (random, and a rolled-back
write's version never commits), so a value read by a transaction that wrote the table itself
(its own version, uncommitted) is never what another transaction's version points to.

Mechanism only: which table, and what a service makes of its rows, are the service's."""

from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from .pool import Connection

T = TypeVar("T")

# The inbox claim's part (`q2c_messaging.inbox.claim_many_with_versions`): every copied table's name and
# version, as two arrays of one subquery row (aggregated together, so in the same order; no
# JSON codec needed). NULLs when no table is copied.
VERSIONS_SUBQUERY = "SELECT array_agg(name) AS names, array_agg(version::text) AS versions FROM copy_version"
_VERSION = "SELECT version::text FROM copy_version WHERE name = $1"


@dataclass
class _Claimed:
    """The versions one transaction's claim read; a copy it wrote since is dropped from it."""

    conn: Connection
    versions: dict[str, str] = field(default_factory=dict)


# Set by the consumer for the length of a chunk's transaction (one task runs a chunk, so a
# context variable is that transaction's own; tasks running other chunks do not see it).
_CLAIMED: ContextVar[_Claimed | None] = ContextVar("q2c_copy_versions", default=None)


def versions_of(names: list[str] | None, versions: list[str] | None) -> dict[str, str]:
    """The versions by table name, from the claim's two arrays (NULL when no copy exists)."""
    return dict(zip(names or [], versions or [], strict=True))


@contextmanager
def claimed(conn: Connection, versions: Mapping[str, str]) -> Iterator[None]:
    """While the block runs, reads of a copy on `conn` may trust `versions` (read by a statement
    of the transaction open on `conn`: the copies are at least that new)."""
    token = _CLAIMED.set(_Claimed(conn, dict(versions)))
    try:
        yield
    finally:
        _CLAIMED.reset(token)


def wrote(conn: Connection, table: str) -> None:
    """The transaction on `conn` wrote `table`: the version its claim read no longer tells
    what it sees, so its next read looks at the version again (and finds its own)."""
    current = _CLAIMED.get()
    if current is not None and current.conn is conn:
        current.versions.pop(table, None)


def claimed_version(conn: Connection, table: str) -> str | None:
    """The version of `table` the transaction on `conn` claimed, when known."""
    current = _CLAIMED.get()
    if current is None or current.conn is not conn:
        return None
    return current.versions.get(table)


class VersionedCopy(Generic[T]):
    """One process's copy of `table`, as `load` makes it (the service's SQL and rules)."""

    def __init__(self, table: str, load: Callable[[Connection], Awaitable[T]]) -> None:
        self.table = table
        self._load = load
        self._cached: tuple[str, T] | None = None  # (version, value): replaced whole, never torn

    async def get(self, conn: Connection) -> T:
        """The copy as of this transaction's claim, or newer; from memory when it has not moved."""
        version = claimed_version(conn, self.table)
        if version is None or self._cached is None or self._cached[0] != version:
            # Not known from the claim, or moved: read the version now, then (if it moved) the
            # copy, in that order (the copy read is then at least as new as the version).
            version = await conn.fetchval(_VERSION, self.table)
        if version is not None and self._cached is not None and self._cached[0] == version:
            return self._cached[1]
        value = await self._load(conn)
        if version is not None:  # no version row (a table never written, say): never cached
            self._cached = (version, value)
        return value

