"""SQL for the quote service's own tables."""

from decimal import Decimal
from typing import Any

import asyncpg

from q2c_persistence import tables

from .domain import Features, Journal, Line, Quotation


async def load(conn: asyncpg.Connection, number: str, *, lock: bool = True) -> Quotation | None:
    row = await conn.fetchrow(
        "SELECT * FROM quotation WHERE number = $1" + (" FOR UPDATE" if lock else ""), number)
    if row is None:
        return None
    lines = await conn.fetch("SELECT * FROM quotation_line WHERE number = $1 ORDER BY sequence", number)
    journals = await conn.fetch(
        "SELECT journal_number, type FROM quotation_journal WHERE number = $1 ORDER BY position", number)
    return Quotation(
        number=row["number"], status=row["status"], origin=row["origin"], ownership=row["ownership"],
        customer=row["customer"], currency=row["currency"], name=row["name"],
        requested_shipping_date=row["requested_shipping_date"],
        generated_sales_order=row["generated_sales_order"], version=row["version"],
        lines=tuple(Line(r["sequence"], r["product"], Decimal(r["quantity"]), Decimal(r["unit_price"]),
                         Decimal(r["line_discount"]), Decimal(r["charges"]), r["site"], r["warehouse"])
                    for r in lines),
        journals=tuple(Journal(r["journal_number"], r["type"]) for r in journals),
    )


async def exists(conn: asyncpg.Connection, number: str) -> bool:
    return bool(await conn.fetchval("SELECT 1 FROM quotation WHERE number = $1", number))


async def save(conn: asyncpg.Connection, quote: Quotation) -> None:
    """Write the whole quotation (header upsert; lines and journals replaced)."""
    await conn.execute(
        """
        INSERT INTO quotation (number, status, origin, ownership, customer, currency, name,
                               requested_shipping_date, generated_sales_order, version)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
        ON CONFLICT (number) DO UPDATE SET
            status = EXCLUDED.status, ownership = EXCLUDED.ownership, customer = EXCLUDED.customer,
            currency = EXCLUDED.currency, name = EXCLUDED.name,
            requested_shipping_date = EXCLUDED.requested_shipping_date,
            generated_sales_order = EXCLUDED.generated_sales_order, version = EXCLUDED.version,
            updated_at = now()
        """,
        quote.number, quote.status, quote.origin, quote.ownership, quote.customer, quote.currency, quote.name,
        quote.requested_shipping_date, quote.generated_sales_order, quote.version,
    )
    await conn.execute("DELETE FROM quotation_line WHERE number = $1", quote.number)
    if quote.lines:
        await conn.executemany(
            """INSERT INTO quotation_line (number, sequence, product, quantity, unit_price, line_discount,
                                           charges, site, warehouse)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)""",
            [(quote.number, x.sequence, x.product, x.quantity, x.unit_price, x.line_discount, x.charges,
              x.site, x.warehouse) for x in quote.lines],
        )
    if quote.journals:
        await conn.executemany(
            """INSERT INTO quotation_journal (journal_number, number, type, position)
               VALUES ($1, $2, $3, $4) ON CONFLICT (journal_number) DO NOTHING""",
            [(j.number, quote.number, j.type, n) for n, j in enumerate(quote.journals)],
        )


async def delete(conn: asyncpg.Connection, number: str) -> None:
    await conn.execute("DELETE FROM quotation WHERE number = $1", number)


async def next_value(conn: asyncpg.Connection, sequence: str) -> int:
    return await tables.next_value(conn, sequence)


# --- features -----------------------------------------------------------------------------

async def store_feature(conn: asyncpg.Connection, name: str, value: Any) -> None:
    await tables.store_setting(conn, name, value)


async def features(conn: asyncpg.Connection) -> Features:
    return Features.from_settings(await tables.settings(conn))


# --- pending lifecycle commands ---------------------------------------------------------------

async def add_pending(conn: asyncpg.Connection, *, command_id: str, number: str, type: str, action: str,
                      issuer: str, user: str | None, privileges: list[str], data: dict[str, Any],
                      request_id: str, version: int) -> None:
    await conn.execute(
        """INSERT INTO pending_command (command_id, number, type, action, issuer, user_name, privileges, data,
                                        request_id, asked_version)
           VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb, $9, $10)""",
        command_id, number, type, action, issuer, user, privileges, data,
        request_id, version)


async def pending(conn: asyncpg.Connection, command_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM pending_command WHERE command_id = $1 FOR UPDATE", command_id)


async def reask(conn: asyncpg.Connection, command_id: str, request_id: str, version: int) -> None:
    await conn.execute(
        "UPDATE pending_command SET request_id = $2, asked_version = $3 WHERE command_id = $1",
        command_id, request_id, version)


async def close_pending(conn: asyncpg.Connection, command_id: str, state: str) -> None:
    await conn.execute(
        "UPDATE pending_command SET state = $2, decided_at = now() WHERE command_id = $1", command_id, state)


# --- message processor -------------------------------------------------------------------------

async def queue_message(conn: asyncpg.Connection, *, message_id: str, type: str, document: str,
                        depends_on: str | None, sales_order_number: str | None, caused_by: str) -> None:
    await conn.execute(
        """INSERT INTO processor_message (message_id, type, document, depends_on, sales_order_number, caused_by)
           VALUES ($1, $2, $3, $4, $5, $6)""",
        message_id, type, document, depends_on, sales_order_number, caused_by)


# The message processor's turn: one processing transaction at a time across the service's
# replicas and `processor.run` (docs/messaging.md, "Replicas").
_PROCESSOR_LOCK_KEY = 7_204_120


async def take_processor_turn(conn: asyncpg.Connection) -> bool:
    """True when this transaction may process messages: the transaction-scoped advisory lock
    (taken again by the same transaction at once; released at its commit or rollback)."""
    return bool(await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", _PROCESSOR_LOCK_KEY))


async def next_ready_message(conn: asyncpg.Connection) -> asyncpg.Record | None:
    """The oldest Queued message whose parent (if any) is Processed, locked for this
    transaction; messages other processors hold are skipped. A `link-sales-order` is ready
    only once its order is known (named by the win, by an order, or on the quotation) or its
    quotation is gone (so it fails visibly): one that is not stays Queued without being
    taken, so a run cannot spin on it and ends."""
    return await conn.fetchrow(
        """
        SELECT m.* FROM processor_message m
        LEFT JOIN processor_message parent ON parent.message_id = m.depends_on
        LEFT JOIN quotation q ON q.number = m.document
        WHERE m.state = 'Queued'
          AND (m.depends_on IS NULL OR parent.state = 'Processed')
          AND (m.type <> 'link-sales-order' OR m.sales_order_number IS NOT NULL
               OR q.number IS NULL OR q.generated_sales_order IS NOT NULL
               OR EXISTS (SELECT 1 FROM order_link l WHERE l.quotation_number = m.document))
        ORDER BY m.seq
        LIMIT 1
        FOR UPDATE OF m SKIP LOCKED
        """)


async def finish_message(conn: asyncpg.Connection, message_id: str, state: str, error: str | None) -> None:
    await conn.execute(
        "UPDATE processor_message SET state = $2, error = $3, processed_at = now() WHERE message_id = $1",
        message_id, state, error)


async def processor_messages(conn: asyncpg.Connection, state: str | None = None) -> list[asyncpg.Record]:
    """The processor's messages, oldest first; only those in `state` if given (the admin's list)."""
    return await conn.fetch(
        "SELECT * FROM processor_message WHERE $1::text IS NULL OR state = $1 ORDER BY seq", state)


async def processor_message(conn: asyncpg.Connection, message_id: str) -> asyncpg.Record | None:
    """One message, locked for an admin's state change."""
    return await conn.fetchrow("SELECT * FROM processor_message WHERE message_id = $1 FOR UPDATE", message_id)


async def set_message_state(conn: asyncpg.Connection, message_id: str, state: str) -> None:
    """An admin's cancel or requeue: the new state, the last error forgotten."""
    await conn.execute("UPDATE processor_message SET state = $2, error = NULL WHERE message_id = $1",
                       message_id, state)


async def has_queued_link(conn: asyncpg.Connection, number: str) -> bool:
    return bool(await conn.fetchval(
        "SELECT 1 FROM processor_message WHERE document = $1 AND type = 'link-sales-order' AND state = 'Queued'",
        number))


# --- the order made from a quotation ---------------------------------------------------------

async def record_order_link(conn: asyncpg.Connection, quotation_number: str, sales_order_number: str) -> str:
    """Record the order of a quotation unless one is recorded; the linked order either way
    (the first order wins; concurrent inserts wait on the primary key)."""
    inserted = await conn.fetchval(
        "INSERT INTO order_link (quotation_number, sales_order_number) VALUES ($1, $2) "
        "ON CONFLICT (quotation_number) DO NOTHING RETURNING sales_order_number",
        quotation_number, sales_order_number)
    return inserted or await linked_order(conn, quotation_number)


async def linked_order(conn: asyncpg.Connection, quotation_number: str) -> str | None:
    return await conn.fetchval("SELECT sales_order_number FROM order_link WHERE quotation_number = $1",
                               quotation_number)
