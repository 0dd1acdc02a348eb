"""Where the command handlers read and write quotations: straight from the tables
(`Quotations`), or from a chunk of Sales commands read in one statement and written in one
round trip at its end (`ChunkQuotations`, the messaging core's chunk hooks, docs/messaging.md).
Either way a handler sees what the commands before it in the transaction left."""

import asyncpg

from q2c_persistence import Connection

from . import repository as repo
from .domain import Quotation


class Quotations:
    """The tables themselves: a statement per call."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn  # the transaction's

    async def load(self, number: str, *, lock: bool = True) -> Quotation | None:
        return await repo.load(self.conn, number, lock=lock)

    async def exists(self, number: str) -> bool:
        return await repo.exists(self.conn, number)

    async def save(self, quote: Quotation) -> None:
        await repo.save(self.conn, quote)


class ChunkQuotations(Quotations):
    """A chunk's quotations: those its commands name, read (and locked, in number order) in one
    statement when the chunk starts; a save kept in memory, so the next command reads it, and
    written with the others at the chunk's end. A number the chunk did not read first is read
    from the table, where no save of the chunk can be waiting for it."""

    def __init__(self, conn: asyncpg.Connection, known: dict[str, Quotation | None]) -> None:
        super().__init__(conn)
        self._known = known
        self._pending: dict[str, Quotation] = {}

    @classmethod
    async def start(cls, conn: Connection, numbers: set[str]) -> "ChunkQuotations":
        found = await repo.load_many(conn, sorted(numbers))  # type: ignore[arg-type] # a pooled connection
        return cls(conn, {number: found.get(number) for number in numbers})  # type: ignore[arg-type]

    async def load(self, number: str, *, lock: bool = True) -> Quotation | None:
        if number not in self._known:
            self._known[number] = await repo.load(self.conn, number, lock=lock)
        return self._known[number]

    async def exists(self, number: str) -> bool:
        return await self.load(number, lock=False) is not None

    async def save(self, quote: Quotation) -> None:
        self._known[quote.number] = self._pending[quote.number] = quote

    async def end(self) -> None:
        """The saves, in one round trip (the last of each quotation: each is written whole)."""
        if self._pending:
            await repo.save_many(self.conn, list(self._pending.values()))
        self._pending = {}
