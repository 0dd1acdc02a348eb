"""SQL for the invoice service's own tables."""

from datetime import date
from decimal import Decimal
from typing import Any

import asyncpg

from q2c_contracts import features
from q2c_persistence import tables

from .domain import Invoice, Post, PostLine

# --- invoices ---------------------------------------------------------------------------------


async def save_invoice(conn: asyncpg.Connection, invoice: Invoice, posted_by: str) -> None:
    await conn.execute(
        """INSERT INTO invoice (number, sales_order_number, customer, currency, invoice_date, total, posted_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7)""",
        invoice.number, invoice.sales_order_number, invoice.customer, invoice.currency,
        date.fromisoformat(invoice.invoice_date), invoice.total, posted_by)
    await conn.executemany(
        """INSERT INTO invoice_line (number, sequence, product, description, ledger_account, quantity, price, amount)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)""",
        [(invoice.number, x.sequence, x.product, x.description, x.ledger_account, x.quantity, x.price, x.amount)
         for x in invoice.lines])


async def next_invoice_number_value(conn: asyncpg.Connection) -> int:
    """From the `invoice_number_seq` sequence: no number is given twice, across replicas too; a
    rolled-back post leaves a gap."""
    return await tables.next_value(conn, "invoice_number_seq")


# --- pending posts ------------------------------------------------------------------------------

async def add_pending(conn: asyncpg.Connection, command_id: str, post: Post) -> None:
    await conn.execute(
        """INSERT INTO pending_post (command_id, sales_order_number, lines, invoice_date)
           VALUES ($1, $2, $3::jsonb, $4)""",
        command_id, post.sales_order_number,
        [{"sequence_number": x.sequence, "quantity": str(x.quantity)} for x in post.lines],
        date.fromisoformat(post.invoice_date))


async def awaiting_post(conn: asyncpg.Connection, command_id: str) -> Post | None:
    """The post still waiting for its decision, locked; None when unknown or already decided."""
    row = await conn.fetchrow(
        "SELECT * FROM pending_post WHERE command_id = $1 AND state = 'awaiting-decision' FOR UPDATE", command_id)
    if row is None:
        return None
    lines = tuple(PostLine(x["sequence_number"], Decimal(x["quantity"])) for x in row["lines"])
    return Post(row["sales_order_number"], lines, row["invoice_date"].isoformat())


async def close_pending(conn: asyncpg.Connection, command_id: str, state: str,
                        invoice_number: str | None = None) -> None:
    await conn.execute(
        "UPDATE pending_post SET state = $2, invoice_number = $3, decided_at = now() WHERE command_id = $1",
        command_id, state, invoice_number)


# --- what each order line has been invoiced for ---------------------------------------------------

async def invoiced_so_far(conn: asyncpg.Connection, order: str, sequences: list[int]) -> dict[int, Decimal]:
    rows = await conn.fetch(
        """SELECT sequence, invoiced_amount FROM line_remainder
           WHERE sales_order_number = $1 AND sequence = ANY($2::int[]) FOR UPDATE""",
        order, sequences)
    return {r["sequence"]: r["invoiced_amount"] for r in rows}


async def add_invoiced(conn: asyncpg.Connection, invoice: Invoice) -> None:
    await conn.executemany(
        """INSERT INTO line_remainder (sales_order_number, sequence, invoiced_quantity, invoiced_amount)
           VALUES ($1, $2, $3, $4)
           ON CONFLICT (sales_order_number, sequence) DO UPDATE SET
               invoiced_quantity = line_remainder.invoiced_quantity + EXCLUDED.invoiced_quantity,
               invoiced_amount = line_remainder.invoiced_amount + EXCLUDED.invoiced_amount""",
        [(invoice.sales_order_number, x.sequence, x.quantity, x.amount) for x in invoice.lines])


# --- parameters ----------------------------------------------------------------------------------

async def store_feature(conn: asyncpg.Connection, name: str, value: Any) -> None:
    await tables.store_setting(conn, name, value)


def _prefix(settings: dict[str, Any]) -> str:
    value = settings.get(features.SCM_INVOICE_NUMBER_PREFIX)
    return value if isinstance(value, str) else features.text_default(features.SCM_INVOICE_NUMBER_PREFIX)


# This process's copy (docs/messaging.md "Cached copies"): read again only when the feature
# copy's version moved.
_PREFIX = tables.settings_copy(_prefix)


async def invoice_number_prefix(conn: asyncpg.Connection) -> str:
    return await _PREFIX.get(conn)
