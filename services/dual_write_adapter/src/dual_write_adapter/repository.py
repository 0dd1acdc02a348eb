"""SQL for the adapter's own tables."""

from dataclasses import dataclass
from typing import Any

import asyncpg


@dataclass(frozen=True)
class SalesRow:
    record: dict[str, Any]
    primary_id: str | None
    deleted: bool


async def sales_row(conn: asyncpg.Connection, table: str, key: str) -> SalesRow | None:
    row = await conn.fetchrow(
        "SELECT record, primary_id, deleted FROM sales_row WHERE sales_table = $1 AND alt_key = $2 FOR UPDATE",
        table, key)
    return SalesRow(row["record"], row["primary_id"], row["deleted"]) if row else None


async def save_sales_row(conn: asyncpg.Connection, table: str, key: str, record: dict[str, Any],
                         primary_id: str | None = None, deleted: bool = False) -> None:
    await conn.execute(
        """INSERT INTO sales_row (sales_table, alt_key, primary_id, record, deleted) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (sales_table, alt_key) DO UPDATE SET
               primary_id = COALESCE(EXCLUDED.primary_id, sales_row.primary_id), record = EXCLUDED.record,
               deleted = EXCLUDED.deleted, updated_at = now()""",
        table, key, primary_id, record, deleted)


async def live_line_keys(conn: asyncpg.Connection, number: str) -> list[str]:
    rows = await conn.fetch(
        "SELECT alt_key FROM sales_row WHERE sales_table = 'quotedetail' AND alt_key LIKE $1 AND NOT deleted",
        number.replace("%", r"\%").replace("_", r"\_") + "/%")
    return [r["alt_key"] for r in rows]


async def scm_quote(conn: asyncpg.Connection, number: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM scm_quote WHERE number = $1 FOR UPDATE", number)


async def save_scm_quote(conn: asyncpg.Connection, number: str, version: int, snapshot: dict[str, Any],
                         deleted: bool) -> None:
    await conn.execute(
        """INSERT INTO scm_quote (number, version, snapshot, deleted) VALUES ($1, $2, $3, $4)
           ON CONFLICT (number) DO UPDATE SET version = EXCLUDED.version, snapshot = EXCLUDED.snapshot,
                                             deleted = EXCLUDED.deleted""",
        number, version, snapshot, deleted)


async def quote_known(conn: asyncpg.Connection, number: str) -> bool:
    """Whether the quotation exists for the adapter: Sales created it, or SCM published it."""
    return bool(await conn.fetchval(
        """SELECT 1 WHERE EXISTS (SELECT 1 FROM sales_row WHERE sales_table = 'quote' AND alt_key = $1
                                                          AND NOT deleted)
                     OR EXISTS (SELECT 1 FROM scm_quote WHERE number = $1 AND NOT deleted)""", number))


async def record_sales_change(conn: asyncpg.Connection, message_id: str, table: str, key: str) -> None:
    await conn.execute(
        "INSERT INTO sales_change (message_id, sales_table, alt_key) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        message_id, table, key)


async def record_command(conn: asyncpg.Connection, command_id: str, message_id: str, command_type: str) -> None:
    await conn.execute(
        "INSERT INTO forwarded_command (command_id, sales_message_id, command_type) VALUES ($1, $2, $3)",
        command_id, message_id, command_type)


async def forwarded(conn: asyncpg.Connection, command_id: str | None) -> asyncpg.Record | None:
    if command_id is None:
        return None
    return await conn.fetchrow(
        """SELECT c.command_id, c.command_type, s.message_id, s.sales_table, s.alt_key, s.notified
           FROM forwarded_command c JOIN sales_change s ON s.message_id = c.sales_message_id
           WHERE c.command_id = $1""", command_id)


async def mark_notified(conn: asyncpg.Connection, message_id: str) -> bool:
    """True the first time only: one notification per refused Sales change."""
    return await conn.fetchval(
        "UPDATE sales_change SET notified = true WHERE message_id = $1 AND NOT notified RETURNING true",
        message_id) or False


async def hold_line(conn: asyncpg.Connection, number: str, change: dict[str, Any]) -> None:
    await conn.execute("INSERT INTO held_line (quote_number, change) VALUES ($1, $2)", number, change)


async def take_held_lines(conn: asyncpg.Connection, number: str) -> list[dict[str, Any]]:
    rows = await conn.fetch("DELETE FROM held_line WHERE quote_number = $1 RETURNING seq, change", number)
    return [r["change"] for r in sorted(rows, key=lambda r: r["seq"])]


async def store_feature(conn: asyncpg.Connection, name: str, kind: str, value: Any) -> None:
    await conn.execute(
        "INSERT INTO feature_copy (name, kind, value) VALUES ($1, $2, $3::jsonb) "
        "ON CONFLICT (name) DO UPDATE SET kind = EXCLUDED.kind, value = EXCLUDED.value", name, kind, value)


async def features(conn: asyncpg.Connection) -> dict[str, Any]:
    defaults = {"IntegrateQuotationLifecycle": True, "PriceMaster": False}  # DOMAIN.md §3, until heard
    rows = await conn.fetch("SELECT name, value FROM feature_copy")
    return {**defaults, **{r["name"]: r["value"] for r in rows}}


async def mark_applied(conn: asyncpg.Connection, number: str, part: str, version: int,
                       snapshot: dict[str, Any] | None = None) -> None:
    """Record that map `part` applied `version` of the quotation (lines keep their snapshot)."""
    if part == "quotation-header":
        await conn.execute("UPDATE scm_quote SET header_version = $2 WHERE number = $1", number, version)
    else:
        await conn.execute("UPDATE scm_quote SET lines_version = $2, lines_snapshot = $3 WHERE number = $1",
                           number, version, snapshot)
