"""Where the command and decision handlers read and write quotations and the lifecycle
commands waiting on them: straight from the tables (`Quotations`), or from a chunk of Sales
commands or ownership decisions read in one statement and written in one round trip at its end
(`ChunkQuotations`, the messaging core's chunk hooks, docs/messaging.md). Either way a handler
sees what the records before it in the transaction left."""

from typing import Any

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

    async def delete(self, number: str) -> None:
        await repo.delete(self.conn, number)

    async def add_pending(self, **row: Any) -> None:
        """A lifecycle command waiting for the ownership decision (`repo.add_pending`)."""
        await repo.add_pending(self.conn, **row)

    async def pending(self, command_id: str) -> dict[str, Any] | None:
        """The waiting command, locked."""
        return await repo.pending(self.conn, command_id)

    async def close_pending(self, command_id: str, state: str) -> None:
        await repo.close_pending(self.conn, command_id, state)

    async def reask(self, command_id: str, request_id: str, version: int) -> None:
        await repo.reask(self.conn, command_id, request_id, version)


class ChunkQuotations(Quotations):
    """A chunk's quotations: those its commands name, read (and locked, in number order) in one
    statement when the chunk starts; a save kept in memory, so the next command reads it, and
    written with the others at the chunk's end. A number the chunk did not read first is read
    from the table, where no save of the chunk can be waiting for it."""

    def __init__(self, conn: asyncpg.Connection, known: dict[str, Quotation | None],
                 commands: dict[str, dict[str, Any] | None] | None = None) -> None:
        super().__init__(conn)
        self._known = known
        self._pending: dict[str, Quotation] = {}
        # waiting lifecycle commands: those read (None: not waiting), those added, those closed
        self._commands = commands or {}
        self._added: list[dict[str, Any]] = []
        self._closed: dict[str, str] = {}

    @classmethod
    async def start(cls, conn: Connection, numbers: set[str]) -> "ChunkQuotations":
        """For Sales commands: the quotations they name."""
        found = await repo.load_many(conn, sorted(numbers))  # type: ignore[arg-type] # a pooled connection
        return cls(conn, {number: found.get(number) for number in numbers})  # type: ignore[arg-type]

    @classmethod
    async def start_decisions(cls, conn: Connection, command_ids: set[str]) -> "ChunkQuotations":
        """For ownership decisions: the commands they decide (locked, in id order), then their
        quotations (locked, in number order), as the one-by-one path locks them: command first."""
        commands = await repo.pending_many(conn, sorted(command_ids))  # type: ignore[arg-type]
        numbers = {row["number"] for row in commands.values()}
        found = await repo.load_many(conn, sorted(numbers))  # type: ignore[arg-type]
        return cls(conn, {number: found.get(number) for number in numbers},  # type: ignore[arg-type]
                   {command_id: commands.get(command_id) for command_id in command_ids})

    async def load(self, number: str, *, lock: bool = True) -> Quotation | None:
        if number not in self._known:
            self._known[number] = await repo.load(self.conn, number, lock=lock)
        return self._known[number]

    async def exists(self, number: str) -> bool:
        return await self.load(number, lock=False) is not None

    async def save(self, quote: Quotation) -> None:
        self._known[quote.number] = self._pending[quote.number] = quote

    async def delete(self, number: str) -> None:
        """At once (rare: a lifecycle delete); a save of it still waiting is dropped."""
        self._pending.pop(number, None)
        self._known[number] = None
        await repo.delete(self.conn, number)

    async def add_pending(self, **row: Any) -> None:
        self._added.append(row)

    async def pending(self, command_id: str) -> dict[str, Any] | None:
        if command_id not in self._commands:
            self._commands[command_id] = await repo.pending(self.conn, command_id)
        return self._commands[command_id]

    async def close_pending(self, command_id: str, state: str) -> None:
        row = await self.pending(command_id)
        if row is not None:
            row["state"] = state  # a later decision of the chunk for it finds it decided
        self._closed[command_id] = state

    async def reask(self, command_id: str, request_id: str, version: int) -> None:
        """At once (rare: the quotation changed since the request), and in the row kept."""
        row = await self.pending(command_id)
        if row is not None:
            row["request_id"], row["asked_version"] = request_id, version
        await repo.reask(self.conn, command_id, request_id, version)

    async def end(self) -> None:
        """The saves in one round trip (the last of each quotation: each is written whole), the
        commands added in one statement, those closed in one."""
        if self._pending:
            await repo.save_many(self.conn, list(self._pending.values()))
        if self._added:
            await repo.add_pending_many(self.conn, self._added)
        if self._closed:
            await repo.close_pending_many(self.conn, self._closed)
        self._pending, self._added, self._closed = {}, [], {}
