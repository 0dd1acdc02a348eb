"""SQL for the adapter's own tables (migrations/), for every table map alike."""

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import asyncpg

from q2c_contracts import features as catalog
from q2c_persistence import copies, tables

from .decisions import Mirror


async def sales_row(conn: asyncpg.Connection, table: str, key: str) -> Mirror | None:
    row = await conn.fetchrow(
        "SELECT record, primary_id, deleted FROM sales_row WHERE sales_table = $1 AND alt_key = $2 FOR UPDATE",
        table, key)
    return Mirror(row["record"], row["primary_id"], row["deleted"]) if row else None


async def sales_rows(conn: asyncpg.Connection, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Mirror]:
    """Many mirrors in one query, locked as `sales_row` locks one (the initial sync's chunks,
    the rows an SCM event reads). Locked in (table, key) order, the same for every caller, so
    two transactions locking overlapping sets cannot deadlock on them."""
    mirrors, _ = await sales_rows_taking_held(conn, keys)
    return mirrors


_SALES_ROWS = """
    SELECT r.sales_table, r.alt_key, r.record, r.primary_id, r.deleted
    FROM sales_row r JOIN unnest($1::text[], $2::text[]) AS k (sales_table, alt_key)
      ON r.sales_table = k.sales_table AND r.alt_key = k.alt_key
    ORDER BY r.sales_table, r.alt_key FOR UPDATE OF r"""


async def sales_rows_taking_held(conn: asyncpg.Connection, keys: Iterable[tuple[str, str]],
                                 held_maps: Iterable[str] = (), parent_key: str | None = None,
                                 ) -> tuple[dict[tuple[str, str], Mirror], dict[str, list[dict[str, Any]]]]:
    """`sales_rows`, and in the same statement `take_held` for each of `held_maps` (children
    held for the document `parent_key`): an SCM event that releases held rows would otherwise
    pay a DELETE round trip on every event, though rows are held rarely. Held changes per map
    in the order they were held."""
    wanted = sorted(set(keys))
    tables, alt_keys = [k[0] for k in wanted], [k[1] for k in wanted]
    maps = list(held_maps)
    if not maps:
        rows = await conn.fetch(_SALES_ROWS, tables, alt_keys)
        return {(r["sales_table"], r["alt_key"]): Mirror(r["record"], r["primary_id"], r["deleted"])
                for r in rows}, {}
    rows = await conn.fetch(
        f"""WITH held AS (DELETE FROM held_change WHERE map = ANY($3::text[]) AND parent_key = $4
                          RETURNING map, seq, change),
                 mirror AS ({_SALES_ROWS})
            SELECT false AS held, sales_table, alt_key, record, primary_id, deleted, NULL::bigint AS seq FROM mirror
            UNION ALL
            SELECT true, map, NULL, change, NULL, NULL, seq FROM held""",
        tables, alt_keys, maps, parent_key)
    held: dict[str, list[tuple[int, dict[str, Any]]]] = {name: [] for name in maps}
    mirrors: dict[tuple[str, str], Mirror] = {}
    for r in rows:
        if r["held"]:
            held[r["sales_table"]].append((r["seq"], r["record"]))
        else:
            mirrors[(r["sales_table"], r["alt_key"])] = Mirror(r["record"], r["primary_id"], r["deleted"])
    return mirrors, {name: [change for _, change in sorted(changes, key=lambda c: c[0])]
                     for name, changes in held.items()}


# Whether maps are all Running, their state rows share-locked as `share_locked_map_states`
# locks them (every row: the aggregate reads them all; no row counts as Running).
_GATE = """gate AS (SELECT COALESCE(bool_and(state = 'Running'), true) AS running
                    FROM (SELECT state FROM map_state WHERE name = ANY({names}::text[]) FOR SHARE) AS s)"""


async def sales_row_if_running(conn: asyncpg.Connection, table: str, key: str,
                               parent: tuple[str, str, str] | None = None, gate: str | None = None,
                               ) -> tuple[bool, Mirror | None, bool]:
    """A Sales change's first statement: its mirror row (`sales_row`), with `parent` (table,
    topic, key) whether the parent is known (`document_known`), and with `gate` (a map) the
    map's state share-locked as `share_locked_map_states` locks it. Returns (running, mirror,
    parent known); when the map is not Running the row is neither read nor locked."""
    args: list[Any] = [table, key]
    known = "true"
    if parent is not None:
        args += parent
        known = """EXISTS (SELECT 1 FROM sales_row WHERE sales_table = $3 AND alt_key = $5 AND NOT deleted)
                   OR EXISTS (SELECT 1 FROM scm_document WHERE topic = $4 AND number = $5 AND NOT deleted)"""
    running = "true"
    ctes = ""
    if gate is not None:
        args.append([gate])
        ctes = _GATE.format(names=f"${len(args)}") + ", "
        running = "(SELECT running FROM gate)"
    row = await conn.fetchrow(
        f"""WITH {ctes}mirror AS (SELECT record, primary_id, deleted FROM sales_row
                               WHERE sales_table = $1 AND alt_key = $2 AND {running} FOR UPDATE)
            SELECT {running} AS running, {known} AS known,
                   m.record, m.primary_id, m.deleted, m.record IS NOT NULL AS found
            FROM (SELECT 1) AS one LEFT JOIN mirror m ON true""",
        *args)
    mirror = Mirror(row["record"], row["primary_id"], row["deleted"]) if row["found"] else None
    return bool(row["running"]), mirror, bool(row["known"])


async def save_sales_rows(conn: asyncpg.Connection,
                          rows: list[tuple[str, str, str | None, dict[str, Any], bool]]) -> None:
    """`save_sales_row` for many rows (table, key, primary id, record, deleted) in one statement;
    a key saved twice keeps its last save (one statement may not update a row twice)."""
    if rows:
        await conn.execute(_upsert_sales_rows(1), *_sales_row_columns(rows))


def _upsert_sales_rows(first: int) -> str:
    """`_SAVE_SALES_ROW` for many rows, given as five arrays from parameter `first` on (one
    statement may upsert a row once only: `_sales_row_columns` keeps each key's last save)."""
    tables, keys, primary_ids, records, deleted = (f"${n}" for n in range(first, first + 5))
    return f"""INSERT INTO sales_row (sales_table, alt_key, primary_id, record, deleted)
               SELECT * FROM unnest({tables}::text[], {keys}::text[], {primary_ids}::text[], {records}::jsonb[],
                                    {deleted}::boolean[])
               ON CONFLICT (sales_table, alt_key) DO UPDATE SET
                   primary_id = COALESCE(EXCLUDED.primary_id, sales_row.primary_id), record = EXCLUDED.record,
                   deleted = EXCLUDED.deleted, updated_at = now()"""


def _sales_row_columns(rows: list[tuple[str, str, str | None, dict[str, Any], bool]]) -> list[list[Any]]:
    """Rows (table, key, primary id, record, deleted) as the five arrays `_upsert_sales_rows` takes."""
    last = {(row[0], row[1]): row for row in rows}
    return [list(column) for column in zip(*last.values(), strict=True)] if last else [[], [], [], [], []]


_SAVE_SALES_ROW = """
    INSERT INTO sales_row (sales_table, alt_key, primary_id, record, deleted) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (sales_table, alt_key) DO UPDATE SET
               primary_id = COALESCE(EXCLUDED.primary_id, sales_row.primary_id), record = EXCLUDED.record,
               deleted = EXCLUDED.deleted, updated_at = now()"""


async def save_sales_row(conn: asyncpg.Connection, table: str, key: str, record: dict[str, Any],
                         primary_id: str | None = None, deleted: bool = False) -> None:
    await conn.execute(_SAVE_SALES_ROW, table, key, primary_id, record, deleted)


async def live_child_keys(conn: asyncpg.Connection, table: str, parent_key: str) -> list[str]:
    rows = await conn.fetch(
        "SELECT alt_key FROM sales_row WHERE sales_table = $1 AND alt_key LIKE $2 AND NOT deleted",
        table, parent_key.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_") + "/%")
    return [r["alt_key"] for r in rows if r["alt_key"].rpartition("/")[0] == parent_key]


async def scm_document(conn: asyncpg.Connection, topic: str, number: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM scm_document WHERE topic = $1 AND number = $2 FOR UPDATE",
                               topic, number)


async def save_scm_document(conn: asyncpg.Connection, topic: str, number: str, version: int | None,
                            document: dict[str, Any], deleted: bool, caused_by: str | None = None,
                            gate: list[str] | None = None) -> tuple[bool, bool]:
    """Keep an SCM document unless the adapter has a later version of it (an event without a
    version always counts), and say whether `caused_by` names a command the adapter forwarded
    for Sales (`forwarded`): one statement for what every SCM event needs first. The
    document's row is locked either way, as a SELECT … FOR UPDATE would (ON CONFLICT DO UPDATE
    locks the row even when its WHERE keeps it unchanged), so events of one document are
    handled one at a time. With `gate` (maps) the maps' states are share-locked first, as
    `share_locked_map_states` locks them, and nothing is written unless every one is Running.
    Returns (running, caused by Sales)."""
    args: list[Any] = [topic, number, version, document, deleted, caused_by]
    ctes, running = "", "true"
    if gate is not None:
        args.append(gate)
        ctes, running = _GATE.format(names="$7") + ", ", "(SELECT running FROM gate)"
    row = await conn.fetchrow(
        f"""WITH {ctes}saved AS (
               INSERT INTO scm_document (topic, number, version, document, deleted)
               SELECT $1, $2, $3, $4, $5 WHERE {running}
               ON CONFLICT (topic, number) DO UPDATE SET version = EXCLUDED.version, document = EXCLUDED.document,
                                                        deleted = EXCLUDED.deleted
               WHERE EXCLUDED.version IS NULL OR COALESCE(scm_document.version, 0) < EXCLUDED.version)
           SELECT {running} AS running,
                  EXISTS (SELECT 1 FROM forwarded_command c JOIN sales_change s ON s.message_id = c.sales_message_id
                          WHERE c.command_id = $6) AS sales_caused""",
        *args)
    return bool(row["running"]), bool(row["sales_caused"])


@dataclass(frozen=True)
class EventChunkStart:
    """What a chunk of SCM events needs first (`save_event_chunk_documents`)."""

    running: bool  # every map of the topic is Running (else nothing was written)
    sales_caused: frozenset[str]  # the chunk's `caused_by` ids that name a command forwarded for Sales
    applied: dict[tuple[str, str], tuple[int, Any]]  # (map, number) -> (version, document) applied before
    held: bool  # a change is held for one of the chunk's documents


async def save_event_chunk_documents(conn: asyncpg.Connection, topic: str, maps: list[str],
                                     documents: list[tuple[str, int, dict[str, Any]]], caused_by: list[str],
                                     held_maps: list[str]) -> EventChunkStart:
    """`save_scm_document` (with its gate) for a whole chunk of events, and `mark_applied`'s
    read, in one statement: each document's latest version (number, version, document; one per
    number, in number order, so that rows are locked in the order every chunk locks them) kept
    unless the adapter has a later one, its row locked either way; which `caused_by` ids Sales
    caused; what each map applied before of each document; and whether a change is held for
    one of them in `held_maps`. Nothing is written unless every map is Running."""
    numbers = [number for number, _, _ in documents]
    row = await conn.fetchrow(
        f"""WITH {_GATE.format(names="$1")},
                saved AS (
                    INSERT INTO scm_document (topic, number, version, document, deleted)
                    SELECT $2, n, v, d, false FROM unnest($3::text[], $4::integer[], $5::jsonb[]) AS t (n, v, d)
                    WHERE (SELECT running FROM gate)
                    ON CONFLICT (topic, number) DO UPDATE SET version = EXCLUDED.version,
                                                             document = EXCLUDED.document, deleted = false
                    WHERE EXCLUDED.version IS NULL OR COALESCE(scm_document.version, 0) < EXCLUDED.version)
            SELECT (SELECT running FROM gate) AS running,
                   ARRAY(SELECT c.command_id FROM forwarded_command c JOIN sales_change s
                         ON s.message_id = c.sales_message_id WHERE c.command_id = ANY($6::text[])) AS sales_caused,
                   (SELECT jsonb_agg(jsonb_build_array(map, number, version, document)) FROM map_applied
                    WHERE map = ANY($1::text[]) AND number = ANY($3::text[])) AS applied,
                   EXISTS (SELECT 1 FROM held_change WHERE map = ANY($7::text[]) AND parent_key = ANY($3::text[]))
                       AS held""",
        maps, topic, numbers, [version for _, version, _ in documents], [document for _, _, document in documents],
        caused_by, held_maps)
    return EventChunkStart(bool(row["running"]), frozenset(row["sales_caused"]),
                           {(m, n): (v, d) for m, n, v, d in row["applied"] or []}, bool(row["held"]))


async def finish_event_chunk(conn: asyncpg.Connection, applied: list[tuple[str, str, int, dict[str, Any] | None]],
                             rows: list[tuple[str, str, str | None, dict[str, Any], bool]]) -> None:
    """`mark_applied`'s write for a whole chunk of events ((map, number, version, document),
    one per map and number) and `save_sales_rows`, in one statement."""
    await conn.execute(
        f"""WITH applied AS (
                INSERT INTO map_applied (map, number, version, document)
                SELECT * FROM unnest($1::text[], $2::text[], $3::integer[], $4::jsonb[])
                ON CONFLICT (map, number) DO UPDATE SET version = EXCLUDED.version, document = EXCLUDED.document
                WHERE map_applied.version < EXCLUDED.version)
            {_upsert_sales_rows(5)}""",
        [a[0] for a in applied], [a[1] for a in applied], [a[2] for a in applied], [a[3] for a in applied],
        *_sales_row_columns(rows))


async def start_change_chunk(conn: asyncpg.Connection, map_name: str, parent: tuple[str, str] | None,
                             parent_keys: list[str], message_ids: list[str],
                             ) -> tuple[frozenset[str], dict[str, int]] | None:
    """What a chunk of one map's Sales changes reads first, in one statement: the map's state,
    share-locked as `share_locked_map_states` locks it; with `parent` (table, topic) which of
    `parent_keys` name a document that exists (`document_known`); and how many commands were
    forwarded for each of `message_ids` already. None when the map is not Running."""
    table, topic = parent if parent is not None else (None, None)
    row = await conn.fetchrow(
        f"""WITH {_GATE.format(names="$1")}
            SELECT (SELECT running FROM gate) AS running,
                   ARRAY(SELECT k FROM unnest($4::text[]) AS k
                         WHERE EXISTS (SELECT 1 FROM sales_row WHERE sales_table = $2 AND alt_key = k AND NOT deleted)
                            OR EXISTS (SELECT 1 FROM scm_document WHERE topic = $3 AND number = k AND NOT deleted))
                       AS known,
                   (SELECT jsonb_object_agg(sales_message_id, n) FROM (
                        SELECT sales_message_id, count(*) AS n FROM forwarded_command
                        WHERE sales_message_id = ANY($5::text[]) GROUP BY sales_message_id) AS c) AS forwarded""",
        [map_name], table, topic, parent_keys, message_ids)
    if not row["running"]:
        return None
    return frozenset(row["known"]), dict(row["forwarded"] or {})


async def save_change_chunk(conn: asyncpg.Connection, recorded: list[tuple[str, str, str]],
                            rows: list[tuple[str, str, str | None, dict[str, Any], bool]],
                            commands: list[tuple[str, str, str]]) -> None:
    """What a chunk of Sales changes decided, in one statement: `record_sales_change` for each
    change (message id, table, key), `save_sales_rows`, and the forwarded commands (command id,
    message id, type; `record_command` with the ids counted by the chunk). The commands'
    foreign key is checked at the end of the statement, when the changes are in."""
    await conn.execute(
        f"""WITH recorded AS (
                INSERT INTO sales_change (message_id, sales_table, alt_key)
                SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) ON CONFLICT DO NOTHING),
            saved AS ({_upsert_sales_rows(4)})
            INSERT INTO forwarded_command (command_id, sales_message_id, command_type)
            SELECT * FROM unnest($9::text[], $10::text[], $11::text[])""",
        [r[0] for r in recorded], [r[1] for r in recorded], [r[2] for r in recorded], *_sales_row_columns(rows),
        [c[0] for c in commands], [c[1] for c in commands], [c[2] for c in commands])


async def scm_documents(conn: asyncpg.Connection, topic: str) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT number, document FROM scm_document WHERE topic = $1 AND NOT deleted "
                            "ORDER BY number", topic)


async def mark_applied(conn: asyncpg.Connection, maps: dict[str, dict[str, Any] | None], number: str,
                       version: int) -> dict[str, asyncpg.Record]:
    """Record that each of `maps` applies `version` of a document (maps of rows keep the
    document: the value per map), unless it applied that version or a later one already;
    returns what each map had applied before (version, document), the maps it skips included.
    One statement per event: the previous rows are read in the statement's snapshot, which
    its own write does not change. Only the event's transaction writes these rows: it holds
    the document's `scm_document` row lock."""
    names = list(maps)
    rows = await conn.fetch(
        """WITH before AS (SELECT map, version, document FROM map_applied WHERE map = ANY($1::text[]) AND number = $2),
                marked AS (
                    INSERT INTO map_applied (map, number, version, document)
                    SELECT m, $2, $3, d FROM unnest($1::text[], $4::jsonb[]) AS t (m, d)
                    ON CONFLICT (map, number) DO UPDATE SET version = EXCLUDED.version, document = EXCLUDED.document
                    WHERE map_applied.version < EXCLUDED.version)
           SELECT map, version, document FROM before""",
        names, number, version, [maps[name] for name in names])
    return {r["map"]: r for r in rows}


async def document_known(conn: asyncpg.Connection, table: str, topic: str, key: str) -> bool:
    """Whether a document exists for the adapter: Sales created it, or SCM published it."""
    return bool(await conn.fetchval(
        """SELECT 1 WHERE EXISTS (SELECT 1 FROM sales_row WHERE sales_table = $1 AND alt_key = $3 AND NOT deleted)
                     OR EXISTS (SELECT 1 FROM scm_document WHERE topic = $2 AND number = $3 AND NOT deleted)""",
        table, topic, key))


async def record_sales_change(conn: asyncpg.Connection, message_id: str, table: str, key: str) -> None:
    await conn.execute(
        "INSERT INTO sales_change (message_id, sales_table, alt_key) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        message_id, table, key)


async def save_sales_row_recording_change(conn: asyncpg.Connection, message_id: str, table: str, change_key: str,
                                          key: str, record: dict[str, Any], primary_id: str | None = None,
                                          deleted: bool = False) -> None:
    """`record_sales_change` (of the row `change_key`) then `save_sales_row`, in one statement:
    a Sales change records itself right before it saves its row."""
    await conn.execute(
        f"""WITH change AS (INSERT INTO sales_change (message_id, sales_table, alt_key) VALUES ($6, $1, $7)
                            ON CONFLICT DO NOTHING)
            {_SAVE_SALES_ROW}""",
        table, key, primary_id, record, deleted, message_id, change_key)


async def record_command(conn: asyncpg.Connection, message_id: str, command_type: str) -> str:
    """Record a command forwarded for a Sales change; its id (one statement). The first command
    of a change carries its message id, the next ones a suffix."""
    return str(await conn.fetchval(
        """INSERT INTO forwarded_command (command_id, sales_message_id, command_type)
           SELECT CASE WHEN taken = 0 THEN $1 ELSE $1 || '/' || (taken + 1) END, $1, $2
           FROM (SELECT count(*) AS taken FROM forwarded_command WHERE sales_message_id = $1) AS t
           RETURNING command_id""",
        message_id, command_type))


async def forwarded(conn: asyncpg.Connection, command_id: str | None) -> asyncpg.Record | None:
    if command_id is None:
        return None
    return await conn.fetchrow(
        """SELECT c.command_id, c.command_type, s.message_id, s.sales_table, s.alt_key, s.notified
           FROM forwarded_command c JOIN sales_change s ON s.message_id = c.sales_message_id
           WHERE c.command_id = $1""", command_id)


async def mark_notified(conn: asyncpg.Connection, message_id: str) -> bool:
    """True the first time only: one notification per refused Sales change."""
    return await conn.fetchval(
        "UPDATE sales_change SET notified = true WHERE message_id = $1 AND NOT notified RETURNING true",
        message_id) or False


async def hold(conn: asyncpg.Connection, map_name: str, parent_key: str, change: dict[str, Any]) -> None:
    await conn.execute("INSERT INTO held_change (map, parent_key, change) VALUES ($1, $2, $3)",
                       map_name, parent_key, change)


async def take_held(conn: asyncpg.Connection, map_name: str, parent_key: str) -> list[dict[str, Any]]:
    rows = await conn.fetch("DELETE FROM held_change WHERE map = $1 AND parent_key = $2 RETURNING seq, change",
                            map_name, parent_key)
    return [r["change"] for r in sorted(rows, key=lambda r: r["seq"])]


async def store_feature(conn: asyncpg.Connection, name: str, kind: str, value: Any) -> None:
    await conn.execute(
        "INSERT INTO feature_copy (name, kind, value) VALUES ($1, $2, $3::jsonb) "
        "ON CONFLICT (name) DO UPDATE SET kind = EXCLUDED.kind, value = EXCLUDED.value", name, kind, value)
    copies.wrote(conn, tables.FEATURE_COPY)  # this transaction's next read sees its own write


# This process's copy (docs/messaging.md "Cached copies"): from memory while the version the
# message's inbox claim read is the one cached; read-only, since one mapping is shared by
# every message while the copy does not move.
_FEATURES = tables.settings_copy(lambda heard: MappingProxyType(catalog.with_defaults(heard)))


async def features(conn: asyncpg.Connection) -> Mapping[str, Any]:
    """Every feature and parameter: the values heard over the catalog's defaults."""
    return await _FEATURES.get(conn)


# --- the engine's tables: map states, the queue behind a paused map, the error log -----------


async def ensure_map_states(conn: asyncpg.Connection, names: list[str], state: str) -> None:
    """A state row for every map that has none (new maps start in `state`)."""
    await conn.executemany("INSERT INTO map_state (name, state) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                           [(name, state) for name in names])


async def map_states(conn: asyncpg.Connection) -> dict[str, str]:
    rows = await conn.fetch("SELECT name, state FROM map_state")
    return {r["name"]: r["state"] for r in rows}


async def share_locked_map_states(conn: asyncpg.Connection, names: list[str]) -> dict[str, str]:
    """The states of `names`, share-locked (one statement: it runs for every change)."""
    rows = await conn.fetch("SELECT name, state FROM map_state WHERE name = ANY($1::text[]) FOR SHARE", names)
    return {r["name"]: r["state"] for r in rows}


async def lock_map(conn: asyncpg.Connection, name: str) -> None:
    await conn.execute("SELECT 1 FROM map_state WHERE name = $1 FOR UPDATE", name)


async def set_map_state(conn: asyncpg.Connection, name: str, state: str) -> None:
    await conn.execute("UPDATE map_state SET state = $2, updated_at = now() WHERE name = $1", name, state)


async def queue_change(conn: asyncpg.Connection, map_name: str, kind: str, payload: dict[str, Any]) -> None:
    await conn.execute("INSERT INTO queued_change (map, kind, payload) VALUES ($1, $2, $3)", map_name, kind, payload)


# One resume replay at a time across the adapter's replicas (docs/messaging.md, "Replicas").
_RESUME_LOCK_KEY = 7_204_119


async def take_resume_turn(conn: asyncpg.Connection) -> bool:
    """True when this transaction may replay queued changes: the transaction-scoped advisory
    lock that one replica holds while it replays (released at its commit or rollback)."""
    return bool(await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", _RESUME_LOCK_KEY))


async def queued_changes(conn: asyncpg.Connection, map_name: str, limit: int) -> list[asyncpg.Record]:
    """The oldest `limit` changes queued for a map, locked: (seq, kind, payload)."""
    return await conn.fetch(
        "SELECT seq, kind, payload FROM queued_change WHERE map = $1 ORDER BY seq LIMIT $2 FOR UPDATE",
        map_name, limit)


async def drop_queued_change(conn: asyncpg.Connection, seq: int) -> None:
    await conn.execute("DELETE FROM queued_change WHERE seq = $1", seq)


async def has_queued_changes(conn: asyncpg.Connection, map_name: str) -> bool:
    return bool(await conn.fetchval("SELECT 1 FROM queued_change WHERE map = $1 LIMIT 1", map_name))


async def queued_counts(conn: asyncpg.Connection) -> dict[str, int]:
    rows = await conn.fetch("SELECT map, count(*) AS n FROM queued_change GROUP BY map")
    return {r["map"]: r["n"] for r in rows}


async def log_error(conn: asyncpg.Connection, map_name: str, kind: str, payload: dict[str, Any], reason: str) -> None:
    await conn.execute("INSERT INTO error_log (map, kind, payload, reason) VALUES ($1, $2, $3, $4)",
                       map_name, kind, payload, reason)


async def open_error(conn: asyncpg.Connection, error_id: int) -> asyncpg.Record | None:
    """An open error-log row, locked for its retry."""
    return await conn.fetchrow("SELECT * FROM error_log WHERE id = $1 AND state = 'open' FOR UPDATE", error_id)


async def error_failed_again(conn: asyncpg.Connection, error_id: int, reason: str) -> None:
    await conn.execute("UPDATE error_log SET attempts = attempts + 1, retried_at = now(), reason = $2 "
                       "WHERE id = $1", error_id, reason)


async def error_resolved(conn: asyncpg.Connection, error_id: int) -> None:
    await conn.execute("UPDATE error_log SET state = 'resolved', attempts = attempts + 1, retried_at = now() "
                       "WHERE id = $1", error_id)


async def open_errors(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT id, map, kind, reason, attempts, created_at FROM error_log "
                            "WHERE state = 'open' ORDER BY id")


async def open_error_counts(conn: asyncpg.Connection) -> dict[str, int]:
    rows = await conn.fetch("SELECT map, count(*) AS n FROM error_log WHERE state = 'open' GROUP BY map")
    return {r["map"]: r["n"] for r in rows}


class Pipeline:
    """Stands in for a connection where only `execute` is called (the outbox's appends): the
    statements are kept, and `flush` runs them on the real connection in their order, each run
    of one `INSERT … VALUES ($1, …)` statement as multi-row inserts (one statement for many rows
    instead of one per row; rows keep their order, so do the outbox ids)."""

    MAX_PARAMETERS = 30_000  # PostgreSQL takes at most 65,535 per statement

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self._pending: list[tuple[str, tuple[Any, ...]]] = []

    async def execute(self, query: str, *args: Any) -> None:
        self._pending.append((query, args))

    async def flush(self) -> None:
        pending, self._pending = self._pending, []
        start = 0
        while start < len(pending):
            end = start
            while end < len(pending) and pending[end][0] == pending[start][0]:
                end += 1
            await self._run(pending[start][0], [args for _, args in pending[start:end]])
            start = end

    async def _run(self, query: str, rows: list[tuple[Any, ...]]) -> None:
        values = _ONE_ROW.search(query)
        width = len(rows[0])
        if values is None or [int(n) for n in re.findall(r"\$(\d+)", values.group())] != list(range(1, width + 1)):
            await self.conn.executemany(query, rows)
            return
        per_statement = max(1, self.MAX_PARAMETERS // width)
        for at in range(0, len(rows), per_statement):
            part = rows[at:at + per_statement]
            tuples = ", ".join("(" + ", ".join(f"${n * width + i + 1}" for i in range(width)) + ")"
                               for n in range(len(part)))
            await self.conn.execute(f"{query[:values.start()]}VALUES {tuples}",
                                    *[arg for row in part for arg in row])


_ONE_ROW = re.compile(r"VALUES\s*\(\s*\$\d+(?:\s*,\s*\$\d+)*\s*\)\s*$", re.IGNORECASE)
