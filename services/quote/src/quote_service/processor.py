"""The message processor (DOMAIN.md §6): Queued messages become journals and links, each
exactly once. A message is locked (`FOR UPDATE SKIP LOCKED`) and finished in the same
transaction that applies it, so a crash or a second processor can never process it twice;
a dependent message waits until its parent is Processed. Several replicas of the service
take turns (`repo.take_processor_turn`), so messages go in order as with one processor."""

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any
from uuid import uuid4

import asyncpg

from q2c_contracts import refusals
from q2c_contracts.quote import ProcessorMessageEvent, ProcessorState
from q2c_contracts.topics import SCM_PROCESSOR_EVENTS
from q2c_messaging.outbox import Outbox
from q2c_observability import get_logger

from . import repository as repo
from .answers import publish_quote
from .domain import LINK_SALES_ORDER, Quotation, with_journal
from .link_rules import order_for_link_message

log = get_logger(__name__)

OutboxFor = Callable[[asyncpg.Connection, str], Outbox]  # (conn, causation id) → outbox

PROCESSOR_POLL_SECONDS = 0.5
JOURNAL_PREFIX = {"quotation": "QJ-", "confirmation": "QC-"}
JOURNAL_SEQUENCE = {"quotation": "quotation_journal_number_seq", "confirmation": "confirmation_journal_number_seq"}


class ProcessingFailed(RuntimeError):
    pass


async def create_journal(conn: asyncpg.Connection, quote: Quotation, journal_type: str) -> Quotation:
    value = await repo.next_value(conn, JOURNAL_SEQUENCE[journal_type])
    return with_journal(quote, f"{JOURNAL_PREFIX[journal_type]}{value:06d}", journal_type)


async def publish_state(outbox: Outbox, row: asyncpg.Record | Mapping[str, Any], state: ProcessorState,
                        error: str | None = None) -> None:
    event = ProcessorMessageEvent(message_id=row["message_id"], type=row["type"], document=row["document"],
                                  state=state, depends_on=row["depends_on"], error=error)
    await outbox.append(SCM_PROCESSOR_EVENTS, row["message_id"], event, message_id=str(uuid4()),
                        type=f"processor.{state.lower()}")


async def process_one(conn: asyncpg.Connection, outbox_for: OutboxFor) -> bool:
    """Process the oldest ready message inside the caller's transaction; False if none, or
    if another replica's processor (or a `processor.run`) holds the turn.

    Why a turn and not only `FOR UPDATE SKIP LOCKED`: the row lock alone keeps each message
    processed once, but a second processor would skip the oldest message (locked) and take the
    next one, which may be the same quotation's later journal; both then wait for the
    quotation's row lock, and the later journal could be created first. With the turn, messages
    go one at a time in `seq` order, whichever process runs them, as with one processor."""
    if not await repo.take_processor_turn(conn):
        return False
    row = await repo.next_ready_message(conn)
    if row is None:
        return False
    outbox = outbox_for(conn, row["message_id"])
    try:
        async with conn.transaction():  # a savepoint: a failure undoes only this message's work
            await _apply(conn, outbox, row)
    except Exception as exc:  # the message fails; its dependents keep waiting
        error = str(exc) or type(exc).__name__
        log.warning("processor.message_failed", message=row["message_id"], error=error)
        await repo.finish_message(conn, row["message_id"], "Failed", error)
        await publish_state(outbox, row, "Failed", error)
        return True
    await repo.finish_message(conn, row["message_id"], "Processed", None)
    await publish_state(outbox, row, "Processed")
    log.info("processor.message_processed", message=row["message_id"], type=row["type"])
    return True


async def process_all(conn: asyncpg.Connection, outbox_for: OutboxFor) -> int:
    """`processor.run`: every message that is Queued and ready, dependents after parents."""
    count = 0
    while await process_one(conn, outbox_for):
        count += 1
    return count


async def _apply(conn: asyncpg.Connection, outbox: Outbox, row: asyncpg.Record) -> None:
    quote = await repo.load(conn, row["document"])
    if quote is None:
        raise ProcessingFailed(refusals.not_found_text(row["document"]))
    if row["type"] == "create-quotation-journal":
        changed, event = await create_journal(conn, quote, "quotation"), "quote.journal-created"
    elif row["type"] == "create-quotation-confirmation-journal":
        changed, event = await create_journal(conn, quote, "confirmation"), "quote.confirmation-journal-created"
    elif row["type"] == LINK_SALES_ORDER:
        order = order_for_link_message(row["sales_order_number"], await repo.linked_order(conn, quote.number),
                                       quote.generated_sales_order)
        if order is None:  # next_ready_message leaves such a message Queued; a guard, not a path
            raise ProcessingFailed(f"no sales order is known for quotation {quote.number}")
        changed, event = replace(quote, generated_sales_order=order), "quote.linked-to-sales-order"
    else:
        raise ProcessingFailed(f"unknown message type {row['type']}")
    changed = replace(changed, version=quote.version + 1)
    await repo.save(conn, changed)
    await publish_quote(outbox, changed, event, caused_by=row["message_id"])


async def run_continuously(pool: asyncpg.Pool, outbox_for: OutboxFor, wake: asyncio.Event) -> None:
    """Process Queued messages continuously while MessageProcessorRunning is true; one
    message per transaction, so a crash loses nothing and repeats nothing. `wake` is set
    when a message is queued; otherwise the loop looks again every PROCESSOR_POLL_SECONDS."""
    while True:
        wake.clear()
        try:
            async with pool.acquire() as conn:
                while True:
                    async with conn.transaction():
                        features = await repo.features(conn)
                        if not features.processor_running:
                            break
                        if not await process_one(conn, outbox_for):
                            break
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("processor.loop_failed", error=repr(exc))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), PROCESSOR_POLL_SECONDS)
