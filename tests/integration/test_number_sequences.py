"""Numbers from PostgreSQL sequences, on the real PostgreSQL (docs/domain.md §4): two open
transactions take numbers from the same sequence without waiting for each other, two taking
two sequences in opposite orders do not deadlock, and each service's migration carries on from
the `number_sequence` row it replaces.

A wait is turned into a failure by `lock_timeout` (no timed assertion): on the former
`UPDATE number_sequence`, the second taker waits on the first one's row lock until it commits,
and the statement fails with LockNotAvailableError."""

import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

import invoice_service
import order_service
import quote_service
from q2c_persistence import apply_migrations, load_migrations
from q2c_persistence.tables import next_value


@dataclass(frozen=True)
class Numbering:
    service: str
    migrations: Path
    sequence_migration: str  # the file that replaces number_sequence
    sequences: dict[str, str]  # former number_sequence row name → sequence


NUMBERINGS = [
    Numbering("quote", Path(quote_service.__file__).parent / "migrations", "0004_number_sequences.sql",
              {"quotation": "quotation_number_seq", "quotation-journal": "quotation_journal_number_seq",
               "confirmation-journal": "confirmation_journal_number_seq"}),
    Numbering("order", Path(order_service.__file__).parent / "migrations", "0002_number_sequences.sql",
              {"sales-order": "sales_order_number_seq"}),
    Numbering("invoice", Path(invoice_service.__file__).parent / "migrations", "0002_number_sequences.sql",
              {"invoice": "invoice_number_seq"}),
]
SEQUENCES = [(n, seq) for n in NUMBERINGS for seq in n.sequences.values()]


@pytest.fixture
def pool(scratch_pool: asyncpg.Pool) -> asyncpg.Pool:
    """The scratch database with the messaging tables, as a service starts: its migrations use them."""
    return scratch_pool


@pytest.fixture
async def takers(scratch_db: str) -> AsyncIterator[list[asyncpg.Connection]]:
    """Two connections that fail instead of waiting for any lock; closed at the end, which ends
    whatever transaction a failed assertion left open."""
    conns = [await asyncpg.connect(scratch_db) for _ in range(2)]
    for conn in conns:
        # generous: a lock wait of any length is the failure, the timeout only ends it
        await conn.execute("SET lock_timeout = '2s'")
    yield conns
    for conn in conns:
        await conn.close()


@pytest.mark.parametrize(("numbering", "sequence"), SEQUENCES, ids=[seq for _, seq in SEQUENCES])
async def test_two_open_transactions_take_numbers_without_waiting(
    pool: asyncpg.Pool, takers: list[asyncpg.Connection], numbering: Numbering, sequence: str
) -> None:
    await apply_migrations(pool, load_migrations(numbering.service, numbering.migrations))
    first, second = takers
    first_tx, second_tx = first.transaction(), second.transaction()
    await first_tx.start()
    await second_tx.start()

    # Given a transaction that took a number and is still open
    a = await next_value(first, sequence)

    # When a second transaction takes one from the same sequence, it gets it at once (no
    # LockNotAvailableError), and a greater one
    b = await next_value(second, sequence)
    assert a < b

    # And the number of a transaction that rolls back is not given again: a gap, not a reuse
    await first_tx.rollback()
    await second_tx.commit()
    assert await next_value(second, sequence) == b + 1


async def test_two_transactions_taking_two_sequences_in_opposite_orders_do_not_deadlock(
    pool: asyncpg.Pool, takers: list[asyncpg.Connection]
) -> None:
    quote = NUMBERINGS[0]
    await apply_migrations(pool, load_migrations(quote.service, quote.migrations))
    journal, confirmation = "quotation_journal_number_seq", "confirmation_journal_number_seq"
    first, second = takers
    first_tx, second_tx = first.transaction(), second.transaction()
    await first_tx.start()
    await second_tx.start()

    # Interleaved as two chunks did when they deadlocked on the number_sequence rows
    taken = [
        await next_value(first, journal),
        await next_value(second, confirmation),
        await next_value(first, confirmation),  # the row version waited here on `second`...
        await next_value(second, journal),  # ...and this one on `first`: a deadlock
    ]
    await first_tx.commit()
    await second_tx.commit()

    assert taken == [1, 1, 2, 2]  # journal, confirmation, confirmation, journal: each counts 1, 2


@pytest.mark.parametrize("numbering", NUMBERINGS, ids=[n.service for n in NUMBERINGS])
async def test_the_migration_carries_on_from_the_rows_next_value(
    pool: asyncpg.Pool, numbering: Numbering, tmp_path: Path
) -> None:
    # Given a database migrated before sequences, that has handed out numbers already
    before = tmp_path / "before"
    before.mkdir()
    for path in sorted(numbering.migrations.glob("*.sql")):
        if path.name < numbering.sequence_migration:
            shutil.copy(path, before / path.name)
    await apply_migrations(pool, load_migrations(numbering.service, before))
    next_values = {name: 1000 * (i + 1) + 7 for i, name in enumerate(numbering.sequences)}
    for name, value in next_values.items():
        assert await pool.execute("UPDATE number_sequence SET next_value = $2 WHERE name = $1", name, value) \
            == "UPDATE 1"

    # When the new code starts, it applies the sequence migration first (then those that came after it)
    applied = await apply_migrations(pool, load_migrations(numbering.service, numbering.migrations))
    assert applied[0] == f"{numbering.service}/{numbering.sequence_migration.removesuffix('.sql')}"
    assert [name for name in applied[1:] if name.split("/")[1] < numbering.sequence_migration] == []

    # Then each sequence gives the row's next number first, then counts on; the table is gone
    async with pool.acquire() as conn:
        for name, sequence in numbering.sequences.items():
            assert [await next_value(conn, sequence) for _ in range(2)] == [next_values[name], next_values[name] + 1]
    assert await pool.fetchval("SELECT to_regclass('number_sequence')") is None
