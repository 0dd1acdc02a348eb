"""SQL for the order service's own tables."""

from decimal import Decimal
from typing import Any

import asyncpg

from q2c_contracts.quote import QuotationSnapshot
from q2c_persistence import tables

from .domain import Features, Line, Order


async def load(conn: asyncpg.Connection, number: str, *, lock: bool = True) -> Order | None:
    """A live order; locked for this transaction, since every change of one order (SCM, Sales,
    invoicing) is decided on its row, one after the other."""
    row = await conn.fetchrow(
        "SELECT * FROM sales_order WHERE number = $1 AND NOT deleted" + (" FOR UPDATE" if lock else ""), number)
    if row is None:
        return None
    lines = await conn.fetch("SELECT * FROM sales_order_line WHERE number = $1 ORDER BY sequence", number)
    return Order(
        number=row["number"], origin=row["origin"], customer=row["customer"], currency=row["currency"],
        name=row["name"], quotation_number=row["quotation_number"],
        requested_shipping_date=row["requested_shipping_date"], confirmed=row["confirmed"],
        picked=row["picked"], canceled=row["canceled"], document_status=row["document_status"],
        version=row["version"],
        lines=tuple(Line(r["sequence"], r["product"], Decimal(r["quantity"]), Decimal(r["unit_price"]),
                         Decimal(r["line_discount"]), Decimal(r["charges"]), r["site"], r["warehouse"],
                         Decimal(r["delivered"]), Decimal(r["invoiced"]))
                    for r in lines),
    )


async def number_taken(conn: asyncpg.Connection, number: str) -> bool:
    """Also true for a deleted order: numbers are never given twice."""
    return bool(await conn.fetchval("SELECT 1 FROM sales_order WHERE number = $1", number))


async def save(conn: asyncpg.Connection, order: Order) -> None:
    """Write the whole order (header upsert; lines replaced)."""
    await conn.execute(
        """
        INSERT INTO sales_order (number, origin, quotation_number, name, customer, currency,
                                 requested_shipping_date, confirmed, picked, canceled, document_status, version)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
        ON CONFLICT (number) DO UPDATE SET
            name = EXCLUDED.name, customer = EXCLUDED.customer, currency = EXCLUDED.currency,
            requested_shipping_date = EXCLUDED.requested_shipping_date, confirmed = EXCLUDED.confirmed,
            picked = EXCLUDED.picked, canceled = EXCLUDED.canceled, document_status = EXCLUDED.document_status,
            version = EXCLUDED.version, updated_at = now()
        """,
        order.number, order.origin, order.quotation_number, order.name, order.customer, order.currency,
        order.requested_shipping_date, order.confirmed, order.picked, order.canceled, order.document_status,
        order.version,
    )
    await conn.execute("DELETE FROM sales_order_line WHERE number = $1", order.number)
    if order.lines:
        await conn.executemany(
            """INSERT INTO sales_order_line (number, sequence, product, quantity, unit_price, line_discount,
                                             charges, site, warehouse, delivered, invoiced)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)""",
            [(order.number, x.sequence, x.product, x.quantity, x.unit_price, x.line_discount, x.charges,
              x.site, x.warehouse, x.delivered, x.invoiced) for x in order.lines],
        )


async def mark_deleted(conn: asyncpg.Connection, order: Order) -> None:
    await conn.execute("UPDATE sales_order SET deleted = true, version = $2, updated_at = now() WHERE number = $1",
                       order.number, order.version)
    await conn.execute("DELETE FROM sales_order_line WHERE number = $1", order.number)


async def next_value(conn: asyncpg.Connection, sequence: str) -> int:
    return await tables.next_value(conn, sequence)


# --- features -------------------------------------------------------------------------------------

async def store_feature(conn: asyncpg.Connection, name: str, value: Any) -> None:
    await tables.store_setting(conn, name, value)


# This process's copy of the features (docs/messaging.md "Cached copies"): from memory while
# the version the message's inbox claim read is the one cached.
_FEATURES = tables.settings_copy(Features.from_settings)


async def features(conn: asyncpg.Connection) -> Features:
    return await _FEATURES.get(conn)


# --- the copy of quotations --------------------------------------------------------------------------

async def store_quotation(conn: asyncpg.Connection, version: int, quotation: QuotationSnapshot) -> None:
    """Keep the newest version only: an older event read late never overwrites a newer one."""
    await conn.execute(
        """INSERT INTO quotation_copy (number, version, snapshot) VALUES ($1, $2, $3::jsonb)
           ON CONFLICT (number) DO UPDATE SET version = EXCLUDED.version, snapshot = EXCLUDED.snapshot
           WHERE quotation_copy.version < EXCLUDED.version""",
        quotation.SALESQUOTATIONNUMBER, version, quotation.model_dump(mode="json"))


async def store_quotations(conn: asyncpg.Connection, copies: list[tuple[int, QuotationSnapshot]]) -> None:
    """`store_quotation` for many quotations (version, snapshot; one per number) in one statement,
    rows locked in number order."""
    copies = sorted(copies, key=lambda copy: copy[1].SALESQUOTATIONNUMBER)
    await conn.execute(
        """INSERT INTO quotation_copy (number, version, snapshot)
           SELECT * FROM unnest($1::text[], $2::integer[], $3::jsonb[])
           ON CONFLICT (number) DO UPDATE SET version = EXCLUDED.version, snapshot = EXCLUDED.snapshot
           WHERE quotation_copy.version < EXCLUDED.version""",
        [q.SALESQUOTATIONNUMBER for _, q in copies], [v for v, _ in copies],
        [q.model_dump(mode="json") for _, q in copies])


async def quotation(conn: asyncpg.Connection, number: str | None) -> QuotationSnapshot | None:
    if not number:
        return None
    snapshot = await conn.fetchval("SELECT snapshot FROM quotation_copy WHERE number = $1", number)
    return QuotationSnapshot.model_validate(snapshot) if snapshot is not None else None


async def order_made_for_confirm(conn: asyncpg.Connection, quotation_number: str) -> str | None:
    """The order made when the quotation was confirmed, if any (row locked: one order per quotation)."""
    return await conn.fetchval(
        "SELECT order_created_for_confirm FROM quotation_copy WHERE number = $1 FOR UPDATE", quotation_number)


async def record_order_for_confirm(conn: asyncpg.Connection, quotation_number: str, order_number: str) -> None:
    await conn.execute("UPDATE quotation_copy SET order_created_for_confirm = $2 WHERE number = $1",
                       quotation_number, order_number)


# --- invoicing decisions --------------------------------------------------------------------------------

async def invoicing_decision(conn: asyncpg.Connection, request_id: str) -> dict[str, Any] | None:
    return await conn.fetchval("SELECT decision FROM invoicing_decision WHERE request_id = $1", request_id)


async def store_invoicing_decision(conn: asyncpg.Connection, request_id: str, order_number: str, outcome: str,
                                   decision: dict[str, Any]) -> None:
    await conn.execute(
        """INSERT INTO invoicing_decision (request_id, order_number, outcome, decision)
           VALUES ($1, $2, $3, $4::jsonb)""",
        request_id, order_number, outcome, decision)
