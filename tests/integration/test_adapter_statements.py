"""The dual-write adapter's folded statements on the real PostgreSQL (docs/performance.md,
"Adapter statements per message"): each does in one round trip what two or more did, with
the same result and the same row locks."""

from collections.abc import AsyncIterator

import asyncpg
import pytest

from dual_write_adapter import repository as repo
from dual_write_adapter.app import MIGRATIONS, SERVICE
from dual_write_adapter.decisions import Mirror
from q2c_messaging.runtime import MESSAGING_MIGRATIONS
from q2c_persistence import apply_migrations, create_pool, load_migrations

TOPIC = "scm.quote.events"


@pytest.fixture
async def pool(scratch_db: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(scratch_db)
    # the messaging tables first, as a service starts: the adapter's migrations use them
    await apply_migrations(pool, load_migrations("messaging", MESSAGING_MIGRATIONS),
                           load_migrations(SERVICE, MIGRATIONS))
    yield pool
    await pool.close()


async def _locked(pool: asyncpg.Pool, query: str, *args: object) -> bool:
    """Whether another transaction finds the row locked (NOWAIT: no waiting, no timing)."""
    async with pool.acquire() as other, other.transaction():
        try:
            await other.execute(query + " FOR UPDATE NOWAIT", *args)
        except asyncpg.LockNotAvailableError:
            return True
    return False


async def test_an_scm_document_is_kept_unless_a_later_version_is_there_and_stays_locked(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        assert await repo.save_scm_document(conn, TOPIC, "Q-1", 2, {"v": 2}, False) == (True, False)
        await repo.save_scm_document(conn, TOPIC, "Q-1", 1, {"v": 1}, True)  # older: kept out
        assert (await repo.scm_document(conn, TOPIC, "Q-1"))["document"] == {"v": 2}
        async with conn.transaction():
            await repo.save_scm_document(conn, TOPIC, "Q-1", 2, {"v": "again"}, False)  # not later: kept out
            # locked all the same, as the SELECT … FOR UPDATE it replaces locked it
            assert await _locked(pool, "SELECT 1 FROM scm_document WHERE topic = $1 AND number = $2", TOPIC, "Q-1")
        await repo.save_scm_document(conn, TOPIC, "Q-1", None, {"v": None}, False)  # no version: always kept
        assert (await repo.scm_document(conn, TOPIC, "Q-1"))["document"] == {"v": None}
        await repo.save_scm_document(conn, TOPIC, "Q-1", 3, {"v": 3}, False)
        assert dict(await repo.scm_document(conn, TOPIC, "Q-1")) == {
            "topic": TOPIC, "number": "Q-1", "version": 3, "document": {"v": 3}, "deleted": False}


async def test_the_event_says_whether_sales_caused_it(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await repo.save_sales_row_recording_change(conn, "m-1", "quote", "Q-1", "Q-1", {"name": "PCs"})
        assert await repo.record_command(conn, "m-1", "quote.create") == "m-1"
        assert await repo.save_scm_document(conn, TOPIC, "Q-1", 1, {}, False, caused_by="m-1") == (True, True)
        assert await repo.save_scm_document(conn, TOPIC, "Q-1", 2, {}, False, caused_by="other") == (True, False)
        assert await repo.save_scm_document(conn, TOPIC, "Q-1", 3, {}, False, caused_by=None) == (True, False)


async def test_marking_maps_applied_returns_what_each_had_and_never_goes_back(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        assert await repo.mark_applied(conn, {"header": None, "lines": {"lines": [1]}}, "Q-1", 2) == {}
        before = await repo.mark_applied(conn, {"header": None, "lines": {"lines": [1, 2]}}, "Q-1", 1)
        assert {m: (r["version"], r["document"]) for m, r in before.items()} == {
            "header": (2, None), "lines": (2, {"lines": [1]})}
        await repo.mark_applied(conn, {"lines": {"lines": [1, 2, 3]}}, "Q-1", 3)
        rows = await conn.fetch("SELECT map, version, document FROM map_applied WHERE number = 'Q-1' ORDER BY map")
        assert [tuple(r) for r in rows] == [("header", 2, None), ("lines", 3, {"lines": [1, 2, 3]})]


async def test_mirrors_and_held_changes_come_in_one_statement_locked(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await repo.save_sales_row(conn, "quote", "Q-1", {"name": "PCs"}, "q-1")
        await repo.save_sales_row(conn, "quotedetail", "Q-1/1", {"quantity": "3"}, deleted=True)
        for n in (1, 2):
            await repo.hold(conn, "quotation-lines", "Q-1", {"n": n})
        await repo.hold(conn, "other-lines", "Q-1", {"n": 3})
        await repo.hold(conn, "quotation-lines", "Q-2", {"n": 4})
        async with conn.transaction():
            mirrors, held = await repo.sales_rows_taking_held(
                conn, [("quotedetail", "Q-1/1"), ("quote", "Q-1"), ("quote", "Q-9")], ["quotation-lines"], "Q-1")
            assert mirrors == {("quote", "Q-1"): Mirror({"name": "PCs"}, "q-1"),
                               ("quotedetail", "Q-1/1"): Mirror({"quantity": "3"}, None, True)}
            assert held == {"quotation-lines": [{"n": 1}, {"n": 2}]}
            assert await _locked(pool, "SELECT 1 FROM sales_row WHERE alt_key = $1", "Q-1")
            assert await _locked(pool, "SELECT 1 FROM sales_row WHERE alt_key = $1", "Q-1/1")
        left = await conn.fetch("SELECT map, parent_key FROM held_change ORDER BY seq")
        assert [tuple(r) for r in left] == [("other-lines", "Q-1"), ("quotation-lines", "Q-2")]
        assert await repo.sales_rows(conn, [("quote", "Q-1")]) == {("quote", "Q-1"): Mirror({"name": "PCs"}, "q-1")}


async def test_a_row_comes_with_whether_its_parent_is_known(pool: asyncpg.Pool) -> None:
    async def read(key: str, parent: str) -> tuple[Mirror | None, bool]:
        _, mirror, known = await repo.sales_row_if_running(conn, "quotedetail", key, ("quote", TOPIC, parent))
        return mirror, known

    async with pool.acquire() as conn:
        assert await read("Q-1/1", "Q-1") == (None, False)
        await repo.save_sales_row(conn, "quote", "Q-1", {"name": "PCs"})
        assert await read("Q-1/1", "Q-1") == (None, True)
        await repo.save_sales_row(conn, "quotedetail", "Q-1/1", {"quantity": "3"}, "l-1")
        async with conn.transaction():
            assert await read("Q-1/1", "Q-1") == (Mirror({"quantity": "3"}, "l-1"), True)
            assert await _locked(pool, "SELECT 1 FROM sales_row WHERE alt_key = $1", "Q-1/1")
        await repo.save_sales_row(conn, "quote", "Q-1", {"name": "PCs"}, deleted=True)
        assert await read("Q-1/1", "Q-1") == (Mirror({"quantity": "3"}, "l-1"), False)
        await repo.save_scm_document(conn, TOPIC, "Q-1", 1, {}, False)
        assert (await read("Q-1/1", "Q-1"))[1] is True


async def test_a_change_is_recorded_with_its_row_and_its_commands_are_numbered(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await repo.save_sales_row_recording_change(conn, "m-1", "quotedetail", "Q-1/1", "Q-1/1", {"quantity": "3"},
                                                   "l-1")
        assert await repo.sales_rows(conn, [("quotedetail", "Q-1/1")]) == {
            ("quotedetail", "Q-1/1"): Mirror({"quantity": "3"}, "l-1")}
        assert [await repo.record_command(conn, "m-1", t) for t in ("quote.update-line", "quote.send")] == [
            "m-1", "m-1/2"]
        source = await repo.forwarded(conn, "m-1/2")
        assert (source["command_type"], source["sales_table"], source["alt_key"]) == ("quote.send", "quotedetail",
                                                                                     "Q-1/1")
        # recorded once: a redelivered change records nothing new
        await repo.save_sales_row_recording_change(conn, "m-1", "quotedetail", "Q-1/1", "Q-1/1", {"quantity": "4"})
        assert await conn.fetchval("SELECT count(*) FROM sales_change") == 1


async def test_the_first_statement_of_a_change_reads_and_share_locks_the_map_states(pool: asyncpg.Pool) -> None:
    """The consumer's fast path: the states `Engine.states` reads come with the change's first
    statement, which does nothing unless every map is Running (no row: Running)."""
    maps = ["quotation-header", "quotation-lines"]
    state_row = "SELECT 1 FROM map_state WHERE name = $1"
    async with pool.acquire() as conn:
        await repo.ensure_map_states(conn, maps, "Running")
        await repo.save_sales_row(conn, "quote", "Q-1", {"name": "PCs"})
        async with conn.transaction():
            assert await repo.save_scm_document(conn, TOPIC, "Q-1", 1, {"v": 1}, False, None, maps) == (True, False)
            assert await _locked(pool, state_row, "quotation-lines")
            async with pool.acquire() as other:  # a share lock: readers that share it are not kept out
                assert await other.fetch("SELECT 1 FROM map_state FOR SHARE NOWAIT")
        async with conn.transaction():
            assert await repo.sales_row_if_running(conn, "quote", "Q-1", gate="quotation-header") == (
                True, Mirror({"name": "PCs"}), True)
            assert await _locked(pool, state_row, "quotation-header")
            assert await _locked(pool, "SELECT 1 FROM sales_row WHERE alt_key = $1", "Q-1")
        assert await repo.sales_row_if_running(conn, "quote", "Q-9", gate="no-such-map") == (True, None, True)

        await repo.set_map_state(conn, "quotation-lines", "Paused")
        async with conn.transaction():
            assert await repo.save_scm_document(conn, TOPIC, "Q-1", 2, {"v": 2}, False, None, maps) == (False, False)
            assert await _locked(pool, state_row, "quotation-header")  # every state row, not only the first
            assert not await _locked(pool, "SELECT 1 FROM scm_document WHERE number = $1", "Q-1")
        assert (await repo.scm_document(conn, TOPIC, "Q-1"))["document"] == {"v": 1}
        await repo.set_map_state(conn, "quotation-header", "Resuming")
        async with conn.transaction():
            assert await repo.sales_row_if_running(conn, "quote", "Q-1", gate="quotation-header") == (
                False, None, True)
            assert not await _locked(pool, "SELECT 1 FROM sales_row WHERE alt_key = $1", "Q-1")


async def test_the_statements_run_on_generic_plans_planned_once_per_connection(pool: asyncpg.Pool) -> None:
    """PostgreSQL's default plans some of these statements afresh at every execution (a custom
    plan each time: docs/performance.md, "Sixth session"); q2c's pools take the generic plan."""
    async with pool.acquire() as conn:
        assert await conn.fetchval("SHOW plan_cache_mode") == "force_generic_plan"
        for version in range(1, 9):  # past the five custom plans PostgreSQL tries first
            async with conn.transaction():
                await repo.mark_applied(conn, {"quotation-header": None, "quotation-lines": {"v": version}},
                                        "Q-1", version)
                await repo.sales_rows_taking_held(conn, [("quote", "Q-1")], ["quotation-lines"], "Q-1")
        plans = await conn.fetch("SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements "
                                 "WHERE (statement LIKE '%map_applied%' OR statement LIKE '%held_change%') "
                                 "AND statement NOT LIKE '%pg_prepared_statements%'")
        assert len(plans) == 2
        assert all(row["custom_plans"] == 0 and row["generic_plans"] == 8 for row in plans), [dict(r) for r in plans]
