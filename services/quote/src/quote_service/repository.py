"""SQL for the quote service's own tables."""

import json
from decimal import Decimal
from typing import Any

import asyncpg

from q2c_persistence import tables

from .domain import Features, Journal, Line, Quotation

# One round trip for the quotation with its lines and journals (each a row of the arrays).
_LOAD = """
SELECT q.*,
       ARRAY(SELECT ROW(l.sequence, l.product, l.quantity, l.unit_price, l.line_discount, l.charges, l.site,
                        l.warehouse)
             FROM quotation_line l WHERE l.number = q.number ORDER BY l.sequence) AS lines,
       ARRAY(SELECT ROW(j.journal_number, j.type)
             FROM quotation_journal j WHERE j.number = q.number ORDER BY j.position) AS journals
FROM quotation q
"""
_LOAD_ONE = _LOAD + "WHERE q.number = $1"
_LOAD_MANY = _LOAD + "WHERE q.number = ANY($1::text[]) ORDER BY q.number FOR UPDATE OF q"


async def load(conn: asyncpg.Connection, number: str, *, lock: bool = True) -> Quotation | None:
    row = await conn.fetchrow(_LOAD_ONE + (" FOR UPDATE OF q" if lock else ""), number)
    return _quotation(row) if row is not None else None


async def load_many(conn: asyncpg.Connection, numbers: list[str]) -> dict[str, Quotation]:
    """`load` (locked) for many quotations in one statement, rows locked in number order."""
    rows = await conn.fetch(_LOAD_MANY, numbers)
    return {row["number"]: _quotation(row) for row in rows}


def _quotation(row: asyncpg.Record) -> Quotation:
    return Quotation(
        number=row["number"], status=row["status"], origin=row["origin"], ownership=row["ownership"],
        customer=row["customer"], currency=row["currency"], name=row["name"],
        requested_shipping_date=row["requested_shipping_date"],
        generated_sales_order=row["generated_sales_order"], version=row["version"],
        lines=tuple(Line(sequence, product, Decimal(quantity), Decimal(unit_price), Decimal(discount),
                         Decimal(charges), site, warehouse)
                    for sequence, product, quantity, unit_price, discount, charges, site, warehouse in row["lines"]),
        journals=tuple(Journal(journal_number, type_) for journal_number, type_ in row["journals"]),
    )


async def exists(conn: asyncpg.Connection, number: str) -> bool:
    return bool(await conn.fetchval("SELECT 1 FROM quotation WHERE number = $1", number))


# The whole quotation in one statement: the header upserted, the lines upserted and those no
# longer there deleted (disjoint rows: no row is touched twice), new journals added. The lines'
# and journals' references to the header are checked at the end of the statement, when the
# header's row is in.
_SAVE = """
WITH header AS (
    INSERT INTO quotation (number, status, origin, ownership, customer, currency, name,
                           requested_shipping_date, generated_sales_order, version)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
    ON CONFLICT (number) DO UPDATE SET
        status = EXCLUDED.status, ownership = EXCLUDED.ownership, customer = EXCLUDED.customer,
        currency = EXCLUDED.currency, name = EXCLUDED.name,
        requested_shipping_date = EXCLUDED.requested_shipping_date,
        generated_sales_order = EXCLUDED.generated_sales_order, version = EXCLUDED.version,
        updated_at = now()
), lines AS (
    INSERT INTO quotation_line (number, sequence, product, quantity, unit_price, line_discount, charges, site,
                                warehouse)
    SELECT $1, * FROM unnest($11::integer[], $12::text[], $13::numeric[], $14::numeric[], $15::numeric[],
                             $16::numeric[], $17::text[], $18::text[])
    ON CONFLICT (number, sequence) DO UPDATE SET
        product = EXCLUDED.product, quantity = EXCLUDED.quantity, unit_price = EXCLUDED.unit_price,
        line_discount = EXCLUDED.line_discount, charges = EXCLUDED.charges, site = EXCLUDED.site,
        warehouse = EXCLUDED.warehouse
), gone AS (
    DELETE FROM quotation_line WHERE number = $1 AND sequence <> ALL($11::integer[])
)
INSERT INTO quotation_journal (journal_number, number, type, position)
SELECT journal_number, $1, type, position FROM unnest($19::text[], $20::text[], $21::integer[])
    AS j(journal_number, type, position)
ON CONFLICT (journal_number) DO NOTHING
"""


async def save(conn: asyncpg.Connection, quote: Quotation) -> None:
    """Write the whole quotation (header upsert; lines and journals replaced)."""
    await conn.execute(_SAVE, *_save_args(quote))


async def save_many(conn: asyncpg.Connection, quotes: list[Quotation]) -> None:
    """`save` for many quotations in one round trip (asyncpg pipelines `executemany`)."""
    await conn.executemany(_SAVE, [_save_args(quote) for quote in quotes])


def _save_args(quote: Quotation) -> tuple[Any, ...]:
    lines = quote.lines
    return (
        quote.number, quote.status, quote.origin, quote.ownership, quote.customer, quote.currency, quote.name,
        quote.requested_shipping_date, quote.generated_sales_order, quote.version,
        [x.sequence for x in lines], [x.product for x in lines], [x.quantity for x in lines],
        [x.unit_price for x in lines], [x.line_discount for x in lines], [x.charges for x in lines],
        [x.site for x in lines], [x.warehouse for x in lines],
        [j.number for j in quote.journals], [j.type for j in quote.journals], list(range(len(quote.journals))),
    )


async def delete(conn: asyncpg.Connection, number: str) -> None:
    await conn.execute("DELETE FROM quotation WHERE number = $1", number)


async def next_value(conn: asyncpg.Connection, sequence: str) -> int:
    return await tables.next_value(conn, sequence)


# --- features -----------------------------------------------------------------------------

async def store_feature(conn: asyncpg.Connection, name: str, value: Any) -> None:
    await tables.store_setting(conn, name, value)


# This process's copy of the features (docs/messaging.md "Cached copies"): from memory while
# the version the message's inbox claim read is the one cached.
_FEATURES = tables.settings_copy(Features.from_settings)


async def features(conn: asyncpg.Connection) -> Features:
    return await _FEATURES.get(conn)


# --- pending lifecycle commands ---------------------------------------------------------------

# privileges and data go as JSON text: in a jsonb[] parameter asyncpg would take a list for
# one more dimension of the array.
_ADD_PENDING_MANY = """
INSERT INTO pending_command (command_id, number, type, action, issuer, user_name, privileges, data, request_id,
                             asked_version)
SELECT command_id, number, type, action, issuer, user_name, privileges::jsonb, data::jsonb, request_id,
       asked_version
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
            $9::text[], $10::integer[])
    AS c(command_id, number, type, action, issuer, user_name, privileges, data, request_id, asked_version)
"""


async def add_pending(conn: asyncpg.Connection, **row: Any) -> None:
    """A lifecycle command waiting for the ownership decision: command_id, number, type,
    action, issuer, user, privileges, data, request_id, version."""
    await add_pending_many(conn, [row])


async def add_pending_many(conn: asyncpg.Connection, rows: list[dict[str, Any]]) -> None:
    """`add_pending` for many commands in one statement."""
    await conn.execute(_ADD_PENDING_MANY, *(
        [json.dumps(row[name]) if name in ("privileges", "data") else row[name] for row in rows]
        for name in ("command_id", "number", "type", "action", "issuer", "user", "privileges", "data",
                     "request_id", "version")))


async def pending(conn: asyncpg.Connection, command_id: str) -> dict[str, Any] | None:
    """The waiting command, locked."""
    return (await pending_many(conn, [command_id])).get(command_id)


async def pending_many(conn: asyncpg.Connection, command_ids: list[str]) -> dict[str, dict[str, Any]]:
    """`pending` for many commands in one statement, rows locked in command id order."""
    rows = await conn.fetch("SELECT * FROM pending_command WHERE command_id = ANY($1::text[]) "
                            "ORDER BY command_id FOR UPDATE", command_ids)
    return {row["command_id"]: dict(row) for row in rows}


async def reask(conn: asyncpg.Connection, command_id: str, request_id: str, version: int) -> None:
    await conn.execute(
        "UPDATE pending_command SET request_id = $2, asked_version = $3 WHERE command_id = $1",
        command_id, request_id, version)


async def close_pending(conn: asyncpg.Connection, command_id: str, state: str) -> None:
    await close_pending_many(conn, {command_id: state})


async def close_pending_many(conn: asyncpg.Connection, states: dict[str, str]) -> None:
    """`close_pending` for many commands in one statement (command id -> its final state)."""
    await conn.execute(
        "UPDATE pending_command p SET state = c.state, decided_at = now() "
        "FROM unnest($1::text[], $2::text[]) AS c(command_id, state) WHERE p.command_id = c.command_id",
        list(states), list(states.values()))


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
