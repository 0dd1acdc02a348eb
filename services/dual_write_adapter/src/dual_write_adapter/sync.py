"""The edges of dual-write: load what a decision needs from the adapter's tables, ask the pure
core (`decisions.py`), and carry its effects out — rows saved, commands and writes appended
to the outbox. Nothing here knows a table: the maps say which topic, key and command."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import uuid4

import asyncpg
from pydantic import BaseModel

from q2c_contracts.dataverse import DATAVERSE_NOTIFICATIONS, DataverseChange, DataverseNotification, DataverseWrite
from q2c_contracts.scm import ScmUser
from q2c_contracts.timestamps import utc_now
from q2c_messaging.outbox import Outbox
from q2c_observability import get_logger

from . import decisions as core
from . import repository as repo
from .decisions import Effect, LookedUp, Mirror
from .tablemap import COMMAND_MODELS, TableMap

log = get_logger(__name__)


@dataclass(frozen=True)
class Cause:
    """Why the adapter acts: the Sales change it handles (refusals name it), or the SCM event
    or admin run its writes answer."""

    caused_by: str | None
    change: DataverseChange | None = None
    sales_message_id: str | None = None  # the Sales change a notification answers

    @classmethod
    def of_change(cls, change: DataverseChange) -> "Cause":
        return cls(change.message_id, change, change.message_id)


class Mirrors:
    """The Sales mirror rows one change reads, each read once. An SCM event knows most of its
    keys before it decides anything, so it fetches them in one statement (`fetch`, locked in
    key order) instead of one SELECT … FOR UPDATE per row; a key not fetched is read alone, as
    before. A row the change saves is dropped from memory and read again from the table, so
    every read sees what a read of the table would. A row found is locked by this transaction
    and cannot change under it; a key with no row is remembered as absent only when fetched in
    bulk (another change may insert it meanwhile, as it could between a read and the save
    before: the save is an upsert either way).

    An SCM event's saves wait (`defer_save`) and go in one statement: before the next read of
    a mirror row from the table, before a Sales change (a held child) runs, and at the end of
    the event (`flush`). Only outbox appends and rows read from memory come in between."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self._known: dict[tuple[str, str], Mirror | None] = {}
        self._pending: dict[tuple[str, str], tuple[str, str, str | None, dict[str, Any], bool]] = {}

    async def fetch(self, keys: list[tuple[str, str]], held_maps: Sequence[str] = (),
                    parent_key: str | None = None) -> dict[str, list[dict[str, Any]]]:
        """Read (and lock) the rows of `keys` in one statement; with `held_maps`, take in the
        same statement the changes held for `parent_key` in those maps (`repo.take_held`)."""
        wanted = [key for key in keys if key not in self._known]
        if not wanted and not held_maps:
            return {}
        await self.flush()
        found, held = await repo.sales_rows_taking_held(self.conn, wanted, held_maps, parent_key)
        self._known.update({key: found.get(key) for key in wanted})
        return held

    async def get(self, table: str, key: str) -> Mirror | None:
        if (table, key) in self._known:
            return self._known[(table, key)]
        await self.flush()
        mirror = await repo.sales_row(self.conn, table, key)
        self.found(table, key, mirror)
        return mirror

    def found(self, table: str, key: str, mirror: Mirror | None) -> None:
        """A row read (and locked) by another statement of this change."""
        if mirror is not None:
            self._known[(table, key)] = mirror

    def known(self, table: str, key: str) -> bool:
        return (table, key) in self._known

    def saved(self, table: str, key: str) -> None:
        self._known.pop((table, key), None)

    async def defer_save(self, table: str, save: core.SaveRow) -> None:
        if (table, save.key) in self._pending:  # saved twice: the first goes now (COALESCE of primary_id)
            await self.flush()
        self._pending[(table, save.key)] = (table, save.key, save.primary_id, save.record, save.deleted)
        self.saved(table, save.key)

    async def flush(self) -> None:
        """The deferred saves, in one statement, in the order they were made."""
        pending, self._pending = list(self._pending.values()), {}
        if len(pending) == 1:
            table, key, primary_id, record, deleted = pending[0]
            await repo.save_sales_row(self.conn, table, key, record, primary_id, deleted)
        elif pending:
            await repo.save_sales_rows(self.conn, pending)


class ChunkMirrors(Mirrors):
    """The mirror rows of a chunk of SCM events or Sales changes (`Sync.start_events`,
    `start_changes`): fetched for the whole chunk in one statement, every save kept in memory,
    so that the next record of the chunk reads what an earlier one saved, and written when the
    chunk ends (`take_rows`).
    A key neither fetched nor saved is read (and locked) from the table when asked for: no save
    of the chunk can be waiting for it, so nothing needs to be written first."""

    async def fetch(self, keys: list[tuple[str, str]], held_maps: Sequence[str] = (),
                    parent_key: str | None = None) -> dict[str, list[dict[str, Any]]]:
        assert not held_maps, "a chunk with held changes goes event by event"
        wanted = sorted({key for key in keys if key not in self._known})
        if wanted:
            found = await repo.sales_rows(self.conn, wanted)
            self._known.update({key: found.get(key) for key in wanted})
        return {}

    async def get(self, table: str, key: str) -> Mirror | None:
        if (table, key) not in self._known:
            self._known[(table, key)] = await repo.sales_row(self.conn, table, key)
        return self._known[(table, key)]

    def saved(self, table: str, key: str) -> None:
        """A row saved straight to the table (the one-by-one way, after `take_rows`): read it
        from there again. A deferred save (`defer_save`) keeps the row in memory instead."""
        assert (table, key) not in self._pending, "deferred saves go first"
        self._known.pop((table, key), None)

    async def defer_save(self, table: str, save: core.SaveRow) -> None:
        old = self._known.get((table, save.key))
        primary_id = save.primary_id or (old.primary_id if old else None)  # the upsert's COALESCE
        self._known[(table, save.key)] = Mirror(save.record, primary_id, save.deleted)
        self._pending[(table, save.key)] = (table, save.key, primary_id, save.record, save.deleted)

    async def flush(self) -> None:
        """Nothing before the chunk's end (`take_rows`)."""

    def take_rows(self) -> list[tuple[str, str, str | None, dict[str, Any], bool]]:
        """The deferred saves, to be written now; the rows stay known as saved."""
        rows, self._pending = list(self._pending.values()), {}
        return rows


@dataclass(frozen=True)
class _EventPlan:
    """One event of a chunk, with what `Sync.scm_event` would have learnt from its statements."""

    number: str
    document: dict[str, Any]
    todo: list[TableMap]  # the maps that apply this version (not applied it or a later one yet)
    befores: dict[str, dict[str, Any] | None]  # per map of `todo`: the document it applied last
    sales_caused: bool


@dataclass
class EventChunk:
    """A chunk of one SCM topic's events handled set-based (`Sync.start_events`)."""

    plans: dict[str, _EventPlan]  # by event id
    applied: dict[tuple[str, str], tuple[int, dict[str, Any] | None]]  # (map, number) marked by the chunk
    mirrors: ChunkMirrors


@dataclass
class ChangeChunk:
    """A chunk of one map's Sales changes handled set-based (`Sync.start_changes`): what the
    changes record (`sales_change`), save (mirror rows) and forward (`forwarded_command`)
    waits here and goes in one statement (`write_pending`) at the chunk's end, or before a
    change that goes the one-by-one way."""

    tmap: TableMap
    mirrors: ChunkMirrors
    parents_known: frozenset[str]  # the parent documents (of a map of rows) that exist
    forwarded: dict[str, int]  # per Sales message id: the commands forwarded for it so far
    recorded: list[tuple[str, str, str]] = field(default_factory=list)  # (message id, table, key)
    commands: list[tuple[str, str, str]] = field(default_factory=list)  # (command id, message id, type)

    def command_id(self, message_id: str, command_type: str) -> str:
        """`repo.record_command`'s id, counted here: the first command of a change carries its
        message id, the next ones a suffix."""
        taken = self.forwarded.get(message_id, 0)
        self.forwarded[message_id] = taken + 1
        command_id = message_id if taken == 0 else f"{message_id}/{taken + 1}"
        self.commands.append((command_id, message_id, command_type))
        return command_id

    async def write_pending(self, conn: asyncpg.Connection) -> None:
        rows = self.mirrors.take_rows()
        if self.recorded or rows or self.commands:
            await repo.save_change_chunk(conn, self.recorded, rows, self.commands)
        self.recorded, self.commands = [], []


# The effects a Sales change in a chunk carries out set-based; any other (a refusal, a held
# row) sends that change the one-by-one way.
_CHUNK_EFFECTS = (core.RecordChange, core.SaveRow, core.Forward, core.ReleaseHeld, core.Skipped)


@dataclass
class Sync:
    maps: dict[str, TableMap]
    by_table: dict[str, TableMap] = field(init=False)
    by_events: dict[str, list[TableMap]] = field(init=False)
    children: dict[str, list[TableMap]] = field(init=False)

    def __post_init__(self) -> None:
        self.by_table = {m.sales.table: m for m in self.maps.values()}
        self.by_events = {}
        self.children = {}
        for m in self.maps.values():  # maps come in initial-sync order: parents before children
            self.by_events.setdefault(m.scm.events, []).append(m)
            if m.parent:
                self.children.setdefault(m.parent, []).append(m)

    # --- Sales → SCM ---------------------------------------------------------------------------

    async def sales_change(self, conn: asyncpg.Connection, outbox: Outbox, tmap: TableMap,
                           change: DataverseChange, mirrors: Mirrors | None = None, *,
                           gate: str | None = None) -> bool:
        """One Sales change of `tmap`'s table. `gate`: a map whose state the first statement
        reads (and share-locks, as `Engine.states` does); unless it is Running the change does
        nothing and the answer is False."""
        mirrors = mirrors or Mirrors(conn)
        await mirrors.flush()  # a held child run by an SCM event: the event's saves first
        key = tmap.key_string(change.record)
        parent_known = True
        if gate is not None or (tmap.parent is not None and not mirrors.known(tmap.sales.table, key)):
            # the row, whether its parent exists and the map's state, in one statement
            parent = self.maps[tmap.parent] if tmap.parent is not None else None
            running, mirror, parent_known = await repo.sales_row_if_running(
                conn, tmap.sales.table, key,
                (parent.sales.table, parent.scm.events, tmap.parent_key(key)) if parent is not None else None, gate)
            if not running:
                return False
            mirrors.found(tmap.sales.table, key, mirror)
        else:
            if tmap.parent is not None:
                parent = self.maps[tmap.parent]
                parent_known = await repo.document_known(conn, parent.sales.table, parent.scm.events,
                                                         tmap.parent_key(key))
            mirror = await mirrors.get(tmap.sales.table, key)
        features = await repo.features(conn)
        effects = core.sales_change(tmap, change, mirror=mirror, parent_known=parent_known, authoritative=None,
                                    features=features)
        if any(isinstance(e, core.Notify) for e in effects):
            # Refused: only now read SCM's record, which the restoring write puts back. Most
            # changes are not refused, and this keeps their path one query shorter.
            authoritative, looked_up = await self._authoritative(conn, tmap, key, mirrors)
            effects = core.sales_change(tmap, change, mirror=mirror, parent_known=parent_known,
                                        authoritative=authoritative, features=features, looked_up=looked_up)
        await self._carry_out(conn, outbox, tmap, key, effects, Cause.of_change(change), mirrors)
        return True

    async def start_changes(self, conn: asyncpg.Connection, tmap: TableMap,
                            changes: list[DataverseChange]) -> ChangeChunk | None:
        """Everything `sales_change` reads for a chunk of `tmap`'s changes, in two statements
        for the chunk instead of one to two per change (docs/performance.md, "Sixth session"):
        the map's state share-locked, which parent documents exist and how many commands were
        forwarded for each change already; then every change's mirror row, locked in key
        order. None (the changes go one by one, as before) when the map is not Running."""
        parent = self.maps[tmap.parent] if tmap.parent is not None else None
        keys = [tmap.key_string(change.record) for change in changes]
        start = await repo.start_change_chunk(
            conn, tmap.name, (parent.sales.table, parent.scm.events) if parent is not None else None,
            sorted({tmap.parent_key(key) for key in keys}) if parent is not None else [],
            [change.message_id for change in changes])
        if start is None:
            return None
        known, forwarded = start
        mirrors = ChunkMirrors(conn)
        await mirrors.fetch([(tmap.sales.table, key) for key in keys])
        return ChangeChunk(tmap, mirrors, known, forwarded)

    async def chunk_change(self, conn: asyncpg.Connection, outbox: Outbox, chunk: ChangeChunk,
                           change: DataverseChange) -> None:
        """One change of a started chunk: `sales_change`'s decision, on the chunk's rows. What
        it records, saves and forwards waits for the chunk's end; a change with any other
        effect writes what waits, then goes the one-by-one way."""
        tmap = chunk.tmap
        key = tmap.key_string(change.record)
        mirror = await chunk.mirrors.get(tmap.sales.table, key)
        parent_known = tmap.parent is None or tmap.parent_key(key) in chunk.parents_known
        features = await repo.features(conn)
        effects = core.sales_change(tmap, change, mirror=mirror, parent_known=parent_known, authoritative=None,
                                    features=features)
        if not all(isinstance(effect, _CHUNK_EFFECTS) for effect in effects):
            await chunk.write_pending(conn)
            await self.sales_change(conn, outbox, tmap, change, chunk.mirrors)
            return
        for effect in effects:
            if isinstance(effect, core.RecordChange):
                chunk.recorded.append((change.message_id, tmap.sales.table, key))
            elif isinstance(effect, core.SaveRow):
                await chunk.mirrors.defer_save(tmap.sales.table, effect)
            elif isinstance(effect, core.Forward):
                await self._forward(conn, outbox, tmap, change, effect,
                                    chunk.command_id(change.message_id, effect.type))
            elif isinstance(effect, core.ReleaseHeld):
                for child in self.children.get(tmap.name, []):
                    held = await repo.take_held(conn, child.name, effect.key)
                    if held:  # rare: they run the one-by-one way, on the tables as the chunk left them
                        await chunk.write_pending(conn)
                        for waiting in held:
                            await self.sales_change(conn, outbox, child, DataverseChange.model_validate(waiting),
                                                    chunk.mirrors)
            else:
                assert isinstance(effect, core.Skipped)
                log.info("adapter.skipped", map=tmap.name, key=key, reason=effect.reason, **effect.details)

    async def end_changes(self, conn: asyncpg.Connection, chunk: ChangeChunk) -> None:
        await chunk.write_pending(conn)

    async def _authoritative(self, conn: asyncpg.Connection, tmap: TableMap, key: str,
                             mirrors: Mirrors) -> tuple[dict[str, Any] | None, LookedUp]:
        """SCM's current record of a Sales row, from the last document the adapter saw."""
        row = await repo.scm_document(conn, tmap.scm.events, tmap.parent_key(key) if tmap.parent else key)
        record = core.record_of(tmap, None if row is None or row["deleted"] else row["document"], key)
        return record, await self._look_up(tmap, record, mirrors)

    async def _look_up(self, tmap: TableMap, scm: Mapping[str, Any] | None,
                       mirrors: Mirrors) -> dict[tuple[str, str], dict[str, Any]]:
        found: dict[tuple[str, str], dict[str, Any]] = {}
        for table, key in tmap.lookups(scm) if scm else []:
            mirror = await mirrors.get(table, key)
            found[(table, key)] = mirror.record if mirror else {}
        return found

    async def _release_held(self, conn: asyncpg.Connection, outbox: Outbox, tmap: TableMap, key: str,
                            mirrors: Mirrors, taken: dict[str, list[dict[str, Any]]] | None = None) -> None:
        """Run the changes held for document `key` of each child map; `taken`: held changes
        the caller took already (`Mirrors.fetch`), per child map."""
        for child in self.children.get(tmap.name, []):
            held = taken.get(child.name, []) if taken is not None else await repo.take_held(conn, child.name, key)
            for change in held:
                await self.sales_change(conn, outbox, child, DataverseChange.model_validate(change), mirrors)

    # --- SCM → Sales ---------------------------------------------------------------------------

    async def scm_event(self, conn: asyncpg.Connection, outbox: Outbox, topic: str, event: dict[str, Any],
                        parts: frozenset[str] | None = None, *, gate: bool = False) -> bool:
        """One SCM event through every map of its topic (`parts`: only these maps). Each map
        applies each version of a document once and in order: an older or repeated event is
        skipped, and a replay after a pause keeps the whole sequence. `gate`: the first
        statement reads (and share-locks, as `Engine.states` does) the maps' states; unless
        all are Running the event does nothing and the answer is False."""
        maps = [m for m in self.by_events[topic] if parts is None or m.name in parts]
        root = self.by_events[topic][0]
        document: dict[str, Any] = event[root.scm.document] if root.scm.document else event
        number = core.scm_key(root, document)
        version: int | None = event.get("version")
        deleted = root.scm.deleted_event is not None and event.get("type") == root.scm.deleted_event
        # One statement each (docs/performance.md, "Adapter statements per message"): keep the
        # document (and lock it) and learn whether Sales caused the event; record which maps
        # apply this version and learn what they applied before; read the mirror rows.
        running, sales_caused = await repo.save_scm_document(conn, topic, number, version, document, deleted,
                                                             event.get("caused_by"),
                                                             [m.name for m in maps] if gate else None)
        if not running:
            return False
        features = await repo.features(conn)
        cause = Cause(event.get("event_id"))
        applied = {} if version is None else await repo.mark_applied(
            conn, {m.name: document if m.scm.rows else None for m in maps}, number, version)
        todo = [m for m in maps if version is None or m.name not in applied or applied[m.name]["version"] < version]
        befores = {m.name: applied[m.name]["document"] if m.name in applied else None for m in todo}
        mirrors = Mirrors(conn)
        keys: list[tuple[str, str]] = []
        held_maps: list[str] = []
        for tmap in todo:
            if tmap.applies_to(document):
                keys += self._keys_read(tmap, number, document, deleted, befores[tmap.name])
                if tmap.scm.rows is None and not deleted:
                    held_maps += [child.name for child in self.children.get(tmap.name, [])]
        held = await mirrors.fetch(keys, held_maps, number)
        for tmap in todo:
            if tmap.applies_to(document):
                await self._apply_document(conn, outbox, tmap, number, document, deleted, befores[tmap.name],
                                           features, sales_caused, cause, mirrors, held)
        await mirrors.flush()
        return True

    # --- SCM → Sales, a chunk of events at once -----------------------------------------------------

    async def start_events(self, conn: asyncpg.Connection, topic: str,
                           events: list[dict[str, Any]]) -> EventChunk | None:
        """Everything `scm_event` reads for a chunk of `topic`'s events, in two statements for the
        chunk instead of three per event (docs/performance.md, "Sixth session"): the documents
        kept and locked with the maps' states share-locked, what Sales caused, what each map
        applied before; then every mirror row the events read. Which maps apply which event, and
        the document each applied before, are worked out here in the events' order, as the
        events one by one would find them. None (the events go one by one, as before) for
        what the one-by-one path handles and this does not: an event without a version or of a
        deleted document, a map not Running (its changes are queued), a change held for one of
        the documents (released by the event)."""
        maps = self.by_events[topic]
        root = maps[0]
        if root.scm.document is None or any(
                event.get("version") is None or event.get("type") == root.scm.deleted_event for event in events):
            return None
        documents = [event[root.scm.document] for event in events]
        numbers = [core.scm_key(root, document) for document in documents]
        latest: dict[str, tuple[int, dict[str, Any]]] = {}  # the first event of the highest version wins, as one by one
        for event, number, document in zip(events, numbers, documents, strict=True):
            if number not in latest or latest[number][0] < event["version"]:
                latest[number] = (event["version"], document)
        start = await repo.save_event_chunk_documents(
            conn, topic, [m.name for m in maps], [(n, v, d) for n, (v, d) in sorted(latest.items())],
            [event["caused_by"] for event in events if event.get("caused_by")],
            [child.name for m in maps if m.scm.rows is None for child in self.children.get(m.name, [])])
        if not start.running or start.held:
            return None
        applied = dict(start.applied)
        marked: dict[tuple[str, str], tuple[int, dict[str, Any] | None]] = {}
        plans: dict[str, _EventPlan] = {}
        keys: list[tuple[str, str]] = []
        for event, number, document in zip(events, numbers, documents, strict=True):
            version: int = event["version"]
            todo = [m for m in maps if (m.name, number) not in applied or applied[(m.name, number)][0] < version]
            befores = {m.name: applied[(m.name, number)][1] if (m.name, number) in applied else None for m in todo}
            for tmap in todo:
                applied[(tmap.name, number)] = marked[(tmap.name, number)] = (
                    version, document if tmap.scm.rows else None)
                if tmap.applies_to(document):
                    keys += self._keys_read(tmap, number, document, False, befores[tmap.name])
            plans[event["event_id"]] = _EventPlan(number, document, todo, befores,
                                                  event.get("caused_by") in start.sales_caused)
        mirrors = ChunkMirrors(conn)
        await mirrors.fetch(keys)
        return EventChunk(plans, marked, mirrors)

    async def chunk_event(self, conn: asyncpg.Connection, outbox: Outbox, chunk: EventChunk,
                          event_id: str) -> None:
        """One event of a started chunk: `scm_event` after its statements, with the chunk's rows."""
        plan = chunk.plans[event_id]
        features = await repo.features(conn)
        for tmap in plan.todo:
            if tmap.applies_to(plan.document):
                await self._apply_document(conn, outbox, tmap, plan.number, plan.document, False,
                                           plan.befores[tmap.name], features, plan.sales_caused, Cause(event_id),
                                           chunk.mirrors, {})

    async def end_events(self, conn: asyncpg.Connection, chunk: EventChunk) -> None:
        """What the chunk's events decided, in one statement: the versions each map applied,
        the mirror rows saved."""
        await repo.finish_event_chunk(conn, [(m, n, v, d) for (m, n), (v, d) in sorted(chunk.applied.items())],
                                      chunk.mirrors.take_rows())

    def _keys_read(self, tmap: TableMap, number: str, document: dict[str, Any], deleted: bool,
                   before: dict[str, Any] | None) -> list[tuple[str, str]]:
        """The mirror rows `_apply_document` will read, as far as known before it runs (a row's
        key is its SCM key: key fields map one to one)."""
        table = tmap.sales.table
        if deleted:
            return [(table, number)] if tmap.scm.rows is None else []  # children: found by live_child_keys
        keys = [key for scm in tmap.scm_records(document)
                for key in [*tmap.lookups(scm), (table, core.scm_key(tmap, scm))]]
        return keys + [(table, key) for key in (core.gone_rows(tmap, before, document) if tmap.scm.rows else [])]

    async def _apply_document(self, conn: asyncpg.Connection, outbox: Outbox, tmap: TableMap, number: str,
                              document: dict[str, Any], deleted: bool, before: dict[str, Any] | None,
                              features: Mapping[str, Any], sales_caused: bool, cause: Cause, mirrors: Mirrors,
                              held: dict[str, list[dict[str, Any]]]) -> None:
        if tmap.scm.rows is None and deleted:
            mirror = await mirrors.get(tmap.sales.table, number)
            await self._carry_out(conn, outbox, tmap, number, core.delete_in_sales(tmap, number, mirror), cause,
                                  mirrors, defer_saves=True)
            return
        if deleted:
            await mirrors.flush()
            gone = await repo.live_child_keys(conn, tmap.sales.table, number)
            await mirrors.fetch([(tmap.sales.table, key) for key in gone])
        else:
            for scm in tmap.scm_records(document):
                await self.write(conn, outbox, tmap, scm, features, cause, sales_caused=sales_caused, mirrors=mirrors,
                                 defer_saves=True)
            gone = core.gone_rows(tmap, before, document) if tmap.scm.rows else []
            if tmap.scm.rows is None:
                await self._release_held(conn, outbox, tmap, number, mirrors, held)
        for key in gone:
            mirror = await mirrors.get(tmap.sales.table, key)
            await self._carry_out(conn, outbox, tmap, key, core.delete_in_sales(tmap, key, mirror), cause, mirrors,
                                  defer_saves=True)

    async def write(self, conn: asyncpg.Connection, outbox: Outbox, tmap: TableMap, scm: dict[str, Any],
                    features: Mapping[str, Any], cause: Cause, *, sales_caused: bool = False,
                    force: bool = False, mirrors: Mirrors | None = None, defer_saves: bool = False) -> None:
        """One SCM record to Sales (unless Sales has it already); `defer_saves`: the saved
        mirror row waits in `mirrors` for the caller's `flush`."""
        mirrors = mirrors or Mirrors(conn)
        looked_up = await self._look_up(tmap, scm, mirrors)
        key = tmap.key_string(tmap.to_sales(scm, features, looked_up))
        effects = core.scm_record(tmap, scm, mirror=await mirrors.get(tmap.sales.table, key),
                                  features=features, sales_caused=sales_caused, force=force, looked_up=looked_up)
        await self._carry_out(conn, outbox, tmap, key, effects, cause, mirrors, defer_saves=defer_saves)

    # --- refusals from the SCM services ---------------------------------------------------------

    async def sales_result(self, conn: asyncpg.Connection, outbox: Outbox, result: BaseModel) -> None:
        """A refused Sales change: one notification, and a write that puts the row back."""
        if getattr(result, "outcome", None) != "rejected":
            return
        source = await repo.forwarded(conn, getattr(result, "command_id", None))
        if source is None:
            log.warning("adapter.unknown_refusal", command=getattr(result, "command_id", None))
            return
        tmap, key = self.by_table[source["sales_table"]], source["alt_key"]
        assert tmap.results is not None
        document = getattr(result, tmap.results.document)
        authoritative = core.record_of(tmap, document.model_dump(mode="json") if document else None, key)
        code = getattr(result, "code", None) or "sync.refused"
        text = getattr(result, "text", None) or "The change was refused"
        mirrors = Mirrors(conn)
        effects = [core.Notify(code, text),
                   *core.restore(tmap, key, authoritative, await mirrors.get(tmap.sales.table, key),
                                 await repo.features(conn), await self._look_up(tmap, authoritative, mirrors))]
        cause = Cause(source["message_id"], sales_message_id=source["message_id"])
        await self._carry_out(conn, outbox, tmap, key, effects, cause, mirrors)

    # --- carrying effects out ---------------------------------------------------------------------

    async def _carry_out(self, conn: asyncpg.Connection, outbox: Outbox, tmap: TableMap, key: str,
                         effects: list[Effect], cause: Cause, mirrors: Mirrors, *, defer_saves: bool = False) -> None:
        """`defer_saves`: saved mirror rows wait in `mirrors` (an SCM event's writes and saves;
        anything else flushes them first)."""
        # A RecordChange is written with the row save that follows it (one statement), or alone.
        record_change = False
        for effect in effects:
            if defer_saves and not isinstance(effect, core.Write | core.SaveRow):
                await mirrors.flush()
            if record_change and not isinstance(effect, core.SaveRow):
                assert cause.change is not None
                await repo.record_sales_change(conn, cause.change.message_id, tmap.sales.table, key)
                record_change = False
            if isinstance(effect, core.RecordChange):
                record_change = True
            elif isinstance(effect, core.Forward):
                assert cause.change is not None
                await self._forward(conn, outbox, tmap, cause.change, effect)
            elif isinstance(effect, core.SaveRow) and defer_saves:
                await mirrors.defer_save(tmap.sales.table, effect)
            elif isinstance(effect, core.SaveRow):
                if record_change:
                    assert cause.change is not None
                    await repo.save_sales_row_recording_change(
                        conn, cause.change.message_id, tmap.sales.table, key, effect.key, effect.record,
                        effect.primary_id, effect.deleted)
                    record_change = False
                else:
                    await repo.save_sales_row(conn, tmap.sales.table, effect.key, effect.record, effect.primary_id,
                                              effect.deleted)
                mirrors.saved(tmap.sales.table, effect.key)
            elif isinstance(effect, core.Write):
                await self._write(outbox, tmap, effect, cause.caused_by)
            elif isinstance(effect, core.Notify):
                assert cause.sales_message_id is not None
                await self._notify(conn, outbox, tmap, key, effect, cause.sales_message_id)
            elif isinstance(effect, core.Hold):
                assert cause.change is not None
                await repo.hold(conn, tmap.name, effect.parent_key, cause.change.model_dump(mode="json"))
                log.info("adapter.row_held", map=tmap.name, parent=effect.parent_key, key=key)
            elif isinstance(effect, core.ReleaseHeld):
                await self._release_held(conn, outbox, tmap, effect.key, mirrors)
            else:
                log.info("adapter.skipped", map=tmap.name, key=key, reason=effect.reason, **effect.details)
        if record_change:
            assert cause.change is not None
            await repo.record_sales_change(conn, cause.change.message_id, tmap.sales.table, key)

    async def _forward(self, conn: asyncpg.Connection, outbox: Outbox, tmap: TableMap, change: DataverseChange,
                       forward: core.Forward, command_id: str | None = None) -> None:
        """Send the SCM service one command issued by Sales (`command_id`: recorded by a chunk)."""
        assert tmap.commands is not None
        command_id = command_id or await repo.record_command(conn, change.message_id, forward.type)
        command = COMMAND_MODELS[tmap.commands.envelope](
            command_id=command_id, type=forward.type, target=forward.target,
            user=ScmUser(name=change.user or "sales"), data=forward.data)
        await outbox.append_envelope(tmap.commands.topic, forward.target, tmap.commands.envelope, command,
                                     source_system="sales")
        log.info("adapter.forwarded", command=forward.type, target=forward.target)

    async def _write(self, outbox: Outbox, tmap: TableMap, write: core.Write, caused_by: str | None) -> None:
        message = DataverseWrite(message_id=str(uuid4()), table=tmap.sales.table, operation=write.operation,
                                 alternate_key=tmap.alternate_key(write.record), record=write.record,
                                 caused_by=caused_by, occurred_at=utc_now())
        await outbox.append(tmap.sales.writes, tmap.key_string(write.record), message, message_id=message.message_id,
                            type=f"dataverse.{write.operation}")

    async def _notify(self, conn: asyncpg.Connection, outbox: Outbox, tmap: TableMap, key: str,
                      notify: core.Notify, refused_message_id: str) -> None:
        if not await repo.mark_notified(conn, refused_message_id):
            return
        notification = DataverseNotification(
            message_id=str(uuid4()), table=tmap.sales.table, alternate_key=tmap.key_record(key), code=notify.code,
            text=notify.text, refused_message_id=refused_message_id, occurred_at=utc_now())
        await outbox.append(DATAVERSE_NOTIFICATIONS, key, notification, message_id=notification.message_id,
                            type="dataverse.notification")

    # --- initial sync -------------------------------------------------------------------------------

    async def initial_sync_documents(self, conn: asyncpg.Connection, outbox: Outbox, tmap: TableMap,
                                     documents: list[dict[str, Any]], features: Mapping[str, Any]) -> int:
        """Write the rows of `tmap` of many SCM documents to Sales, SCM as master; how many.
        The same decisions as `write` (with `force`), batched: the mirrors the chunk reads are
        fetched (and locked) in one query each for lookups and rows, and the writes and saved
        mirrors leave in one pipelined round trip each; in between a mirror written earlier in
        the chunk is read from memory, as the one-by-one path would read it from the table."""
        records = [scm for document in documents if tmap.applies_to(document) for scm in tmap.scm_records(document)]
        if not records:
            return 0
        table = tmap.sales.table
        mirrors: dict[tuple[str, str], Mirror | None] = {}

        async def fetch(keys: list[tuple[str, str]]) -> None:
            found = await repo.sales_rows(conn, keys)
            mirrors.update({key: found.get(key) for key in keys})  # None: Sales has no such row yet

        async def mirror(key: tuple[str, str]) -> Mirror | None:
            if key not in mirrors:  # not fetched in bulk (a key that depends on a row written in this chunk)
                mirrors[key] = await repo.sales_row(conn, *key)
            return mirrors[key]

        async def looked_up(scm: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
            found = {}
            for key in tmap.lookups(scm):
                row = await mirror(key)
                found[key] = row.record if row else {}
            return found

        await fetch([key for scm in records for key in tmap.lookups(scm)])
        first = [await looked_up(scm) for scm in records]
        mapped = [tmap.to_sales(scm, features, found) for scm, found in zip(records, first, strict=True)]
        await fetch([(table, tmap.key_string(record)) for record in mapped])
        saves: list[tuple[str, str, str | None, dict[str, Any], bool]] = []
        pipeline = repo.Pipeline(conn)
        batched = Outbox(pipeline, outbox.service, outbox.catalog, outbox.correlation_id,  # type: ignore[arg-type]
                         outbox.causation_id)
        cause = Cause("initial-sync")
        for scm, looked, record in zip(records, first, mapped, strict=True):
            found = await looked_up(scm)
            if found != looked:  # a lookup's row was written earlier in this chunk: map again
                record = tmap.to_sales(scm, features, found)
            key = tmap.key_string(record)
            known = await mirror((table, key))
            for effect in core.scm_record(tmap, scm, mirror=known, features=features, force=True, looked_up=found,
                                          mapped=record):
                if isinstance(effect, core.Write):
                    await self._write(batched, tmap, effect, cause.caused_by)
                elif isinstance(effect, core.SaveRow):
                    saves.append((table, effect.key, effect.primary_id, effect.record, effect.deleted))
                    old = mirrors.get((table, effect.key))
                    mirrors[(table, effect.key)] = Mirror(effect.record, effect.primary_id or (
                        old.primary_id if old else None), effect.deleted)
                else:  # scm_record with force decides only writes and saved mirrors
                    await self._carry_out(conn, outbox, tmap, key, [effect], cause, Mirrors(conn))
        await repo.save_sales_rows(conn, saves)
        await pipeline.flush()
        return len(records)
