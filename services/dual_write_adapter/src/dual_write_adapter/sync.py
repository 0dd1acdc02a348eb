"""The edges of dual-write: load what a decision needs from the adapter's tables, ask the pure
core (`decisions.py`), and carry its effects out — rows saved, commands and writes appended
to the outbox. Nothing here knows a table: the maps say which topic, key and command."""

from collections.abc import Mapping
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
                           change: DataverseChange) -> None:
        key = tmap.key_string(change.record)
        parent_known = True
        if tmap.parent is not None:
            parent = self.maps[tmap.parent]
            parent_known = await repo.document_known(conn, parent.sales.table, parent.scm.events,
                                                     tmap.parent_key(key))
        mirror = await repo.sales_row(conn, tmap.sales.table, key)
        features = await repo.features(conn)
        effects = core.sales_change(tmap, change, mirror=mirror, parent_known=parent_known, authoritative=None,
                                    features=features)
        if any(isinstance(e, core.Notify) for e in effects):
            # Refused: only now read SCM's record, which the restoring write puts back. Most
            # changes are not refused, and this keeps their path one query shorter.
            authoritative, looked_up = await self._authoritative(conn, tmap, key)
            effects = core.sales_change(tmap, change, mirror=mirror, parent_known=parent_known,
                                        authoritative=authoritative, features=features, looked_up=looked_up)
        await self._carry_out(conn, outbox, tmap, key, effects, Cause.of_change(change))

    async def _authoritative(self, conn: asyncpg.Connection, tmap: TableMap,
                             key: str) -> tuple[dict[str, Any] | None, LookedUp]:
        """SCM's current record of a Sales row, from the last document the adapter saw."""
        row = await repo.scm_document(conn, tmap.scm.events, tmap.parent_key(key) if tmap.parent else key)
        record = core.record_of(tmap, None if row is None or row["deleted"] else row["document"], key)
        return record, await self._look_up(conn, tmap, record)

    async def _look_up(self, conn: asyncpg.Connection, tmap: TableMap,
                       scm: Mapping[str, Any] | None) -> dict[tuple[str, str], dict[str, Any]]:
        found: dict[tuple[str, str], dict[str, Any]] = {}
        for table, key in tmap.lookups(scm) if scm else []:
            mirror = await repo.sales_row(conn, table, key)
            found[(table, key)] = mirror.record if mirror else {}
        return found

    async def _release_held(self, conn: asyncpg.Connection, outbox: Outbox, tmap: TableMap, key: str) -> None:
        for child in self.children.get(tmap.name, []):
            for held in await repo.take_held(conn, child.name, key):
                await self.sales_change(conn, outbox, child, DataverseChange.model_validate(held))

    # --- SCM → Sales ---------------------------------------------------------------------------

    async def scm_event(self, conn: asyncpg.Connection, outbox: Outbox, topic: str, event: dict[str, Any],
                        parts: frozenset[str] | None = None) -> None:
        """One SCM event through every map of its topic (`parts`: only these maps). Each map
        applies each version of a document once and in order: an older or repeated event is
        skipped, and a replay after a pause keeps the whole sequence."""
        maps = [m for m in self.by_events[topic] if parts is None or m.name in parts]
        root = self.by_events[topic][0]
        document: dict[str, Any] = event[root.scm.document] if root.scm.document else event
        number = core.scm_key(root, document)
        version: int | None = event.get("version")
        deleted = root.scm.deleted_event is not None and event.get("type") == root.scm.deleted_event
        previous = await repo.scm_document(conn, topic, number)
        if previous is None or version is None or (previous["version"] or 0) < version:
            await repo.save_scm_document(conn, topic, number, version, document, deleted)
        features = await repo.features(conn)
        cause = Cause(event.get("event_id"))
        sales_caused = await repo.forwarded(conn, event.get("caused_by")) is not None
        for tmap in maps:
            applied = await repo.applied(conn, tmap.name, number) if version is not None else None
            if applied is not None and version is not None and applied["version"] >= version:
                continue
            if tmap.applies_to(document):
                await self._apply_document(conn, outbox, tmap, number, document, deleted,
                                           applied["document"] if applied else None, features, sales_caused, cause)
            if version is not None:
                await repo.mark_applied(conn, tmap.name, number, version, document if tmap.scm.rows else None)

    async def _apply_document(self, conn: asyncpg.Connection, outbox: Outbox, tmap: TableMap, number: str,
                              document: dict[str, Any], deleted: bool, before: dict[str, Any] | None,
                              features: dict[str, Any], sales_caused: bool, cause: Cause) -> None:
        if tmap.scm.rows is None and deleted:
            mirror = await repo.sales_row(conn, tmap.sales.table, number)
            await self._carry_out(conn, outbox, tmap, number, core.delete_in_sales(tmap, number, mirror), cause)
            return
        if deleted:
            gone = await repo.live_child_keys(conn, tmap.sales.table, number)
        else:
            for scm in tmap.scm_records(document):
                await self.write(conn, outbox, tmap, scm, features, cause, sales_caused=sales_caused)
            gone = core.gone_rows(tmap, before, document) if tmap.scm.rows else []
            if tmap.scm.rows is None:
                await self._release_held(conn, outbox, tmap, number)
        for key in gone:
            mirror = await repo.sales_row(conn, tmap.sales.table, key)
            await self._carry_out(conn, outbox, tmap, key, core.delete_in_sales(tmap, key, mirror), cause)

    async def write(self, conn: asyncpg.Connection, outbox: Outbox, tmap: TableMap, scm: dict[str, Any],
                    features: dict[str, Any], cause: Cause, *, sales_caused: bool = False,
                    force: bool = False) -> None:
        """One SCM record to Sales (unless Sales has it already)."""
        looked_up = await self._look_up(conn, tmap, scm)
        key = tmap.key_string(tmap.to_sales(scm, features, looked_up))
        effects = core.scm_record(tmap, scm, mirror=await repo.sales_row(conn, tmap.sales.table, key),
                                  features=features, sales_caused=sales_caused, force=force, looked_up=looked_up)
        await self._carry_out(conn, outbox, tmap, key, effects, cause)

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
        effects = [core.Notify(code, text),
                   *core.restore(tmap, key, authoritative, await repo.sales_row(conn, tmap.sales.table, key),
                                 await repo.features(conn), await self._look_up(conn, tmap, authoritative))]
        cause = Cause(source["message_id"], sales_message_id=source["message_id"])
        await self._carry_out(conn, outbox, tmap, key, effects, cause)

    # --- carrying effects out ---------------------------------------------------------------------

    async def _carry_out(self, conn: asyncpg.Connection, outbox: Outbox, tmap: TableMap, key: str,
                         effects: list[Effect], cause: Cause) -> None:
        for effect in effects:
            if isinstance(effect, core.RecordChange):
                assert cause.change is not None
                await repo.record_sales_change(conn, cause.change.message_id, tmap.sales.table, key)
            elif isinstance(effect, core.Forward):
                assert cause.change is not None
                await self._forward(conn, outbox, tmap, cause.change, effect)
            elif isinstance(effect, core.SaveRow):
                await repo.save_sales_row(conn, tmap.sales.table, effect.key, effect.record, effect.primary_id,
                                          effect.deleted)
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
                await self._release_held(conn, outbox, tmap, effect.key)
            else:
                log.info("adapter.skipped", map=tmap.name, key=key, reason=effect.reason, **effect.details)

    async def _forward(self, conn: asyncpg.Connection, outbox: Outbox, tmap: TableMap, change: DataverseChange,
                       forward: core.Forward) -> None:
        """Send the SCM service one command issued by Sales."""
        assert tmap.commands is not None
        command_id = await repo.next_command_id(conn, change.message_id)
        await repo.record_command(conn, command_id, change.message_id, forward.type)
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
                                     documents: list[dict[str, Any]], features: dict[str, Any]) -> int:
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
                    await self._carry_out(conn, outbox, tmap, key, [effect], cause)
        await repo.save_sales_rows(conn, saves)
        await pipeline.flush()
        return len(records)
