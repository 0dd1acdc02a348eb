"""The cached copy's rules (`q2c_persistence.copies`, docs/messaging.md "Cached copies"), on a
stand-in connection: when it answers from memory, when it reads the version, when the table."""

from dataclasses import dataclass, field
from typing import Any, cast

import pytest

from q2c_persistence import Connection, copies

TABLE = "feature_copy"


@dataclass
class FakeDatabase:
    """The copied table's value and its version row as a connection would read them now."""

    value: str = "v1"
    version: str | None = "a"
    statements: list[str] = field(default_factory=list)

    def write(self, value: str, version: str) -> None:
        self.value, self.version = value, version


class FakeConnection:
    def __init__(self, db: FakeDatabase) -> None:
        self.db = db

    async def fetchval(self, query: str, *args: Any) -> Any:
        assert "copy_version" in query and args == (TABLE,)
        self.db.statements.append("version")
        return self.db.version


def _copy(db: FakeDatabase) -> copies.VersionedCopy[str]:
    async def load(conn: Connection) -> str:
        db.statements.append("load")
        return db.value

    return copies.VersionedCopy(TABLE, load)


def _conn(db: FakeDatabase) -> Connection:
    return cast(Connection, FakeConnection(db))


# Each case: what is cached before (None: nothing), what the message's claim read (None: no
# claim, work outside a message), what the table holds now; the statements the read runs and
# the value it gives.
@pytest.mark.parametrize(("cached", "claimed", "now", "statements", "value"), [
    pytest.param(None, None, ("v1", "a"), ["version", "load"], "v1", id="first-read-outside-a-message"),
    pytest.param(None, "a", ("v1", "a"), ["version", "load"], "v1", id="first-read-in-a-message"),
    pytest.param(("v1", "a"), "a", ("v1", "a"), [], "v1", id="claim-says-current-no-statement"),
    pytest.param(("v1", "a"), None, ("v1", "a"), ["version"], "v1", id="outside-a-message-version-only"),
    pytest.param(("v1", "a"), "b", ("v2", "b"), ["version", "load"], "v2", id="claim-says-moved-reload"),
    pytest.param(("v1", "a"), None, ("v2", "b"), ["version", "load"], "v2", id="moved-outside-a-message"),
    pytest.param(("v1", "a"), "b", ("v3", "c"), ["version", "load"], "v3", id="moved-again-since-the-claim"),
    pytest.param(None, None, ("v1", None), ["version", "load"], "v1", id="no-version-row-read-every-time"),
])
async def test_a_read_runs_only_the_statements_it_needs(cached: tuple[str, str] | None, claimed: str | None,
                                                        now: tuple[str, str | None], statements: list[str],
                                                        value: str) -> None:
    db = FakeDatabase()
    copy, conn = _copy(db), _conn(db)
    if cached is not None:
        db.write(*cached)
        await copy.get(conn)  # what it cached: read outside any message
    db.statements.clear()
    db.value, db.version = now
    if claimed is None:
        assert await copy.get(conn) == value
    else:
        with copies.claimed(conn, {TABLE: claimed}):
            assert await copy.get(conn) == value
    assert db.statements == statements


async def test_what_was_read_under_a_version_is_cached_under_it() -> None:
    db = FakeDatabase()
    copy, conn = _copy(db), _conn(db)
    with copies.claimed(conn, {TABLE: "a"}):
        await copy.get(conn)
        db.statements.clear()
        assert [await copy.get(conn) for _ in range(3)] == ["v1"] * 3
    assert db.statements == []  # three messages of the chunk, no statement


async def test_without_a_version_row_nothing_is_cached() -> None:
    db = FakeDatabase(version=None)
    copy, conn = _copy(db), _conn(db)
    await copy.get(conn)
    db.value = "v2"  # a write no version tells of: read every time, never served from memory
    with copies.claimed(conn, {}):
        assert await copy.get(conn) == "v2"


async def test_a_claim_on_another_connection_is_not_trusted() -> None:
    """The versions a claim read speak for its own transaction only."""
    db = FakeDatabase()
    copy, conn, other = _copy(db), _conn(db), _conn(db)
    await copy.get(conn)
    db.write("v2", "b")
    db.statements.clear()
    with copies.claimed(other, {TABLE: "a"}):  # a stale claim of another transaction
        assert await copy.get(conn) == "v2"
    assert db.statements == ["version", "load"]


async def test_a_transaction_that_wrote_the_copy_reads_its_own_write() -> None:
    db = FakeDatabase()
    copy, conn = _copy(db), _conn(db)
    with copies.claimed(conn, {TABLE: "a"}):
        assert await copy.get(conn) == "v1"
        db.write("mine", "own")  # the trigger's version for this transaction's write
        copies.wrote(conn, TABLE)
        assert await copy.get(conn) == "mine"
        copies.wrote(conn, "other_table")  # another table's write changes nothing here
        db.statements.clear()
        assert await copy.get(conn) == "mine"
    assert db.statements == ["version"]


async def test_a_value_read_by_a_transaction_that_rolled_back_is_never_served_to_another() -> None:
    """The writer cached its own value under its own version; the write rolled back, so the
    committed version is still the old one, which is not what the cache holds: read again."""
    db = FakeDatabase()
    copy, conn = _copy(db), _conn(db)
    with copies.claimed(conn, {TABLE: "a"}):
        db.write("never-committed", "own")
        copies.wrote(conn, TABLE)
        assert await copy.get(conn) == "never-committed"
    db.write("v1", "a")  # the rollback
    with copies.claimed(conn, {TABLE: "a"}):
        assert await copy.get(conn) == "v1"


async def test_the_claim_is_forgotten_after_its_block() -> None:
    db = FakeDatabase()
    copy, conn = _copy(db), _conn(db)
    with copies.claimed(conn, {TABLE: "a"}):
        assert copies.claimed_version(conn, TABLE) == "a"
    assert copies.claimed_version(conn, TABLE) is None
    db.statements.clear()
    await copy.get(conn)
    assert db.statements == ["version", "load"]


@pytest.mark.parametrize(("names", "versions", "expected"), [
    pytest.param(None, None, {}, id="no-copy-version-rows"),
    pytest.param(["feature_copy"], ["a"], {"feature_copy": "a"}, id="one"),
    pytest.param(["x", "y"], ["1", "2"], {"x": "1", "y": "2"}, id="two"),
])
def test_the_claims_arrays_become_versions_by_table(names: list[str] | None, versions: list[str] | None,
                                                    expected: dict[str, str]) -> None:
    assert copies.versions_of(names, versions) == expected
