"""The two directions of dual-write for quotations and feature states, as the maps say.

Sales → SCM: a Dataverse change is compared with the mirror of the last known Sales row;
state changes become lifecycle commands, mapped column changes become data commands for the
quote service's entry point. SCM → Sales: a snapshot is mapped to the full Sales record and
written when Sales does not already have it; after a Sales-caused change only columns SCM
owns are compared, so Sales never gets its own values echoed back."""

from dataclasses import dataclass
from typing import Any
from uuid import uuid4

import asyncpg

from q2c_contracts.dataverse import (
    DATAVERSE_NOTIFICATIONS,
    DataverseChange,
    DataverseNotification,
    DataverseWrite,
    writes_topic,
)
from q2c_contracts.quote import QuoteEvent, SalesQuoteCommand, SalesQuoteResult
from q2c_contracts.scm import FeatureStateEvent, ScmUser
from q2c_contracts.timestamps import utc_now
from q2c_contracts.topics import QUOTE_SALES_COMMANDS
from q2c_messaging.outbox import Outbox
from q2c_observability import get_logger

from . import repository as repo
from .tablemap import MappingFailed, TableMap
from .transitions import lifecycle_command

log = get_logger(__name__)

HEADER, LINES, FEATURES = "quotation-header", "quotation-lines", "feature-states"


@dataclass
class Sync:
    maps: dict[str, TableMap]

    @property
    def header(self) -> TableMap:
        return self.maps[HEADER]

    @property
    def lines(self) -> TableMap:
        return self.maps[LINES]

    # --- Sales → SCM ---------------------------------------------------------------------------

    async def sales_quote_change(self, conn: asyncpg.Connection, outbox: Outbox, change: DataverseChange) -> None:
        record = change.record
        number: str = record["msdyn_quotenumber"]  # present: checked when the change was parsed
        primary_id = record.get("quoteid")
        live = _live(await repo.sales_row(conn, "quote", number))
        features = await repo.features(conn)
        await repo.record_sales_change(conn, change.message_id, "quote", number)
        if change.operation == "delete":
            if live is not None:
                await repo.save_sales_row(conn, "quote", number, live.record, primary_id, deleted=True)
                await self._forward(conn, outbox, change, "quote.delete", number, {})
            return
        if live is None:
            if change.operation == "update":
                raise MappingFailed(f"update of quote {number}, which Sales never created here")
            await repo.save_sales_row(conn, "quote", number, dict(record), primary_id)
            await self._forward(conn, outbox, change, "quote.create", number,
                                self.header.command_data(record, features))
            await self._release_held_lines(conn, outbox, number)
            return
        if change.operation == "create" and self._is_second_row(live, record, primary_id):
            await self._forward(conn, outbox, change, "quote.create", number,
                                self.header.command_data(record, features))
            return
        merged = {**live.record, **record}
        await repo.save_sales_row(conn, "quote", number, merged, primary_id)
        changed = {c for c in record if not self.header.same(live.record, record, {c})}
        data = self.header.command_data(merged, features, changed)
        if data:
            await self._forward(conn, outbox, change, "quote.update", number, data)
        if "statecode" in changed or "statuscode" in changed:
            old, new = live.record.get("statecode"), merged.get("statecode")
            command = lifecycle_command(old, new, merged.get("statuscode"))
            if command is None and new != old:
                raise MappingFailed(f"Sales state {old} → {new}/{merged.get('statuscode')} of quote {number} "
                                    "is not a lifecycle step")
            if command and not features.get("IntegrateQuotationLifecycle", True):
                # DOMAIN.md §2: with the lifecycle feature off, Sales state changes do not reach SCM.
                log.info("adapter.lifecycle_not_synced", quote=number, command=command)
            elif command:
                await self._forward(conn, outbox, change, command, number, {})

    def _is_second_row(self, live: repo.SalesRow, record: dict[str, Any], primary_id: str | None) -> bool:
        """A create for a row we know is either Sales echoing the row q2c wrote (it comes back
        with the primary id Sales gave it: CONTRACT.md §1), or a second row that takes a number
        that exists, which goes to the quote service to be refused with number.collision."""
        if live.primary_id is not None:
            return primary_id != live.primary_id
        # no id seen yet: an echo carries what q2c wrote; another row has values of its own
        return not self.header.same(live.record, record, set(record) & set(live.record) - {"quoteid"})

    async def sales_line_change(self, conn: asyncpg.Connection, outbox: Outbox, change: DataverseChange) -> None:
        record = change.record
        number: str = record["msdyn_quotenumber"]  # both present: checked when the change was parsed
        sequence: int = record["sequencenumber"]
        if not await repo.quote_known(conn, number):
            # CONTRACT.md §1: a line may arrive before its quote; it waits for it.
            await repo.hold_line(conn, number, change.model_dump(mode="json"))
            log.info("adapter.line_held", quote=number, sequence=sequence)
            return
        key = f"{number}/{sequence}"
        primary_id = record.get("quotedetailid")
        live = _live(await repo.sales_row(conn, "quotedetail", key))
        features = await repo.features(conn)
        await repo.record_sales_change(conn, change.message_id, "quotedetail", key)
        if change.operation == "delete":
            if live is not None:
                await repo.save_sales_row(conn, "quotedetail", key, live.record, primary_id, deleted=True)
                await self._forward(conn, outbox, change, "quote.delete-line", number, {"sequence_number": sequence})
            return
        merged = {**(live.record if live else {}), **record}
        await repo.save_sales_row(conn, "quotedetail", key, merged, primary_id)
        if live is None:
            await self._forward(conn, outbox, change, "quote.add-line", number,
                                self.lines.command_data(merged, features))
            return
        changed = {c for c in record if not self.lines.same(live.record, record, {c})}
        data = self.lines.command_data(merged, features, changed)
        if data:
            await self._forward(conn, outbox, change, "quote.update-line", number,
                                {**data, "sequence_number": sequence})

    async def _release_held_lines(self, conn: asyncpg.Connection, outbox: Outbox, number: str) -> None:
        for held in await repo.take_held_lines(conn, number):
            await self.sales_line_change(conn, outbox, DataverseChange.model_validate(held))

    async def _forward(self, conn: asyncpg.Connection, outbox: Outbox, change: DataverseChange, type_: str,
                       number: str, data: dict[str, Any]) -> None:
        """Send the quote service one command issued by Sales; the first command of a change
        carries the Sales message id as its id, later ones a suffix."""
        taken = await conn.fetchval("SELECT count(*) FROM forwarded_command WHERE sales_message_id = $1",
                                    change.message_id)
        command_id = change.message_id if taken == 0 else f"{change.message_id}/{taken + 1}"
        await repo.record_command(conn, command_id, change.message_id, type_)
        command = SalesQuoteCommand(command_id=command_id, type=type_, target=number,
                                    user=ScmUser(name=change.user or "sales"), data=data)
        await outbox.append_envelope(QUOTE_SALES_COMMANDS, number, "quote.sales-command", command,
                                     source_system="sales")
        log.info("adapter.forwarded", command=type_, quote=number)

    # --- SCM → Sales ---------------------------------------------------------------------------

    async def scm_quote_event(self, conn: asyncpg.Connection, outbox: Outbox, event: QuoteEvent,
                              parts: frozenset[str] = frozenset({HEADER, LINES})) -> None:
        snapshot = event.quotation.model_dump(mode="json")
        number = event.quotation.SALESQUOTATIONNUMBER
        previous = await repo.scm_quote(conn, number)
        deleted = event.type == "quote.deleted"
        if previous is None or previous["version"] < event.version:
            await repo.save_scm_quote(conn, number, event.version, snapshot, deleted)
        applied = {HEADER: previous["header_version"] if previous else 0,
                   LINES: previous["lines_version"] if previous else 0}
        features = await repo.features(conn)
        sales_caused = await repo.forwarded(conn, event.caused_by) is not None
        # Each map applies each version once, in order: an older or repeated event is skipped,
        # and a replay after a pause keeps the whole sequence.
        if HEADER in parts and applied[HEADER] < event.version:
            if deleted:
                await self._delete_in_sales(conn, outbox, self.header, number, event.event_id)
            else:
                await self.write_to_sales(conn, outbox, self.header, snapshot, features, event.event_id, sales_caused)
                await self._release_held_lines(conn, outbox, number)
            await repo.mark_applied(conn, number, HEADER, event.version)
        if LINES in parts and applied[LINES] < event.version:
            if deleted:
                gone = set(await repo.live_line_keys(conn, number))
            else:
                for line in snapshot["lines"]:
                    await self.write_to_sales(conn, outbox, self.lines, {**line, "SALESQUOTATIONNUMBER": number},
                                              features, event.event_id, sales_caused)
                # Lines SCM had and has no more were deleted in SCM. (A Sales line SCM has not
                # seen yet is on its way there, not gone.)
                before = previous["lines_snapshot"] if previous else None
                gone = _line_keys(number, before) - _line_keys(number, snapshot)
            for key in sorted(gone):
                await self._delete_in_sales(conn, outbox, self.lines, key, event.event_id)
            await repo.mark_applied(conn, number, LINES, event.version, snapshot)

    async def write_to_sales(self, conn: asyncpg.Connection, outbox: Outbox, tmap: TableMap,
                             scm: dict[str, Any], features: dict[str, Any], caused_by: str | None,
                             sales_caused: bool = False, force: bool = False) -> None:
        """Upsert the full mapped record, unless Sales already has it. After a Sales-caused
        change only SCM-owned columns count, and Sales keeps its own values of the others."""
        record = tmap.to_sales(scm, features)
        key = tmap.key_string(record)
        mirror = await repo.sales_row(conn, tmap.sales_table, key)
        live = _live(mirror)
        if live is not None and not force:
            if sales_caused:
                owned = tmap.scm_owned_columns(features)
                if tmap.same(live.record, record, owned):
                    return
                record = {**record, **{c: live.record[c] for c in record if c not in owned and c in live.record}}
            elif tmap.same(live.record, record, set(record)):
                return
        await self._write(outbox, tmap, "upsert", record, caused_by)
        merged = {**(live.record if live else {}), **record}
        await repo.save_sales_row(conn, tmap.sales_table, key, merged, mirror.primary_id if mirror else None)

    async def _delete_in_sales(self, conn: asyncpg.Connection, outbox: Outbox, tmap: TableMap, key: str,
                               caused_by: str | None) -> None:
        mirror = await repo.sales_row(conn, tmap.sales_table, key)
        if mirror is None or mirror.deleted:
            return
        await self._write(outbox, tmap, "delete", tmap.alternate_key(_key_record(tmap, key)), caused_by)
        await repo.save_sales_row(conn, tmap.sales_table, key, mirror.record, deleted=True)

    async def _write(self, outbox: Outbox, tmap: TableMap, operation: str, record: dict[str, Any],
                     caused_by: str | None) -> None:
        write = DataverseWrite(message_id=str(uuid4()), table=tmap.sales_table, operation=operation,  # type: ignore[arg-type]
                               alternate_key=tmap.alternate_key(record), record=record, caused_by=caused_by,
                               occurred_at=utc_now())
        await outbox.append(writes_topic(tmap.sales_table), tmap.key_string(record), write,
                            message_id=write.message_id, type=f"dataverse.{operation}")

    async def feature_event(self, conn: asyncpg.Connection, outbox: Outbox, event: FeatureStateEvent,
                            force: bool = False) -> None:
        if event.kind != "feature":
            return  # parameters are not synced to Sales
        await self.write_to_sales(conn, outbox, self.maps[FEATURES], {"name": event.name, "value": event.value},
                                  await repo.features(conn), event.event_id, force=force)

    # --- refusals ------------------------------------------------------------------------------

    async def sales_result(self, conn: asyncpg.Connection, outbox: Outbox, result: SalesQuoteResult) -> None:
        """A refused Sales change: one notification, and a write that puts the row back."""
        if result.outcome != "rejected":
            return
        source = await repo.forwarded(conn, result.command_id)
        if source is None:
            log.warning("adapter.unknown_refusal", command=result.command_id)
            return
        table, key = source["sales_table"], source["alt_key"]
        tmap = self.header if table == "quote" else self.lines
        if await repo.mark_notified(conn, source["message_id"]):
            notification = DataverseNotification(
                message_id=str(uuid4()), table=table, alternate_key=tmap.alternate_key(_key_record(tmap, key)),
                code=result.code or "sync.refused", text=result.text or "The change was refused",
                refused_message_id=source["message_id"], occurred_at=utc_now())
            await outbox.append(DATAVERSE_NOTIFICATIONS, key, notification, message_id=notification.message_id,
                                type="dataverse.notification")
        await self._restore(conn, outbox, tmap, key, result, source["message_id"])

    async def _restore(self, conn: asyncpg.Connection, outbox: Outbox, tmap: TableMap, key: str,
                       result: SalesQuoteResult, caused_by: str) -> None:
        features = await repo.features(conn)
        snapshot = result.quotation.model_dump(mode="json") if result.quotation else None
        if tmap is self.header:
            scm = snapshot
        else:
            sequence = int(key.rpartition("/")[2])
            line = next((x for x in (snapshot or {}).get("lines", []) if x["LINECREATIONSEQUENCENUMBER"] == sequence),
                        None)
            scm = {**line, "SALESQUOTATIONNUMBER": snapshot["SALESQUOTATIONNUMBER"]} if line and snapshot else None
        if scm is None:
            # SCM has no such row: the Sales row goes.
            await self._write(outbox, tmap, "delete", tmap.alternate_key(_key_record(tmap, key)), caused_by)
            mirror = await repo.sales_row(conn, tmap.sales_table, key)
            await repo.save_sales_row(conn, tmap.sales_table, key, mirror.record if mirror else {}, deleted=True)
            return
        await self.write_to_sales(conn, outbox, tmap, scm, features, caused_by, force=True)


def _live(row: repo.SalesRow | None) -> repo.SalesRow | None:
    """The mirror row if Sales still has it."""
    return row if row is not None and not row.deleted else None


def _line_keys(number: str, snapshot: dict[str, Any] | None) -> set[str]:
    return {f"{number}/{line['LINECREATIONSEQUENCENUMBER']}" for line in (snapshot or {}).get("lines", [])}


def _key_record(tmap: TableMap, key: str) -> dict[str, Any]:
    """The alternate key of a write from its key string (a quote number may hold '/')."""
    parts = [key.rpartition("/")[0], key.rpartition("/")[2]] if len(tmap.sales_keys) > 1 else [key]
    values: list[Any] = [int(p) if k == "sequencenumber" else p for k, p in zip(tmap.sales_keys, parts, strict=True)]
    return dict(zip(tmap.sales_keys, values, strict=True))

