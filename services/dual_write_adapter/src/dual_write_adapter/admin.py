"""The dual-write admin's commands, against the adapter's own database (Q2C_DB_URL):

  maps                 every map with its state, queued changes and open errors
  pause MAP            queue the map's changes (both directions) instead of applying them
  resume MAP           replay what was queued, in order, then run
  stop MAP / run MAP   Not running ignores the map's changes; run starts it again
  errors               the open error log
  retry ID | --all     run logged changes again
  initial-sync         write every current SCM document to Sales, map by map in the reference's
                       dependency order (orders, order lines, quotations, quotation lines,
                       invoices, invoice lines, then feature states)

Writes go to the adapter's outbox; the running adapter publishes them."""

import argparse
import asyncio
import sys
import time
from typing import Any

import asyncpg

from q2c_messaging.catalog import load_catalog
from q2c_messaging.outbox import Outbox
from q2c_messaging.settings import RuntimeSettings
from q2c_persistence import create_pool

from . import repository as repo
from .engine import NOT_RUNNING, PAUSED, RESUMING, RUNNING, Engine
from .sync import Sync
from .tablemap import load_maps

SERVICE = "dual-write-adapter"


def _outbox(conn: asyncpg.Connection, causation: str) -> Outbox:
    return Outbox(conn, SERVICE, load_catalog(), correlation_id=causation, causation_id=causation)


def _bar(done: int, total: int, width: int = 30) -> str:
    filled = width * done // total if total else width
    return f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total}"


async def maps(pool: asyncpg.Pool, engine: Engine) -> None:
    async with pool.acquire() as conn:
        states = await engine.states(conn)
        queued = dict(await conn.fetch("SELECT map, count(*) FROM queued_change GROUP BY map"))
        errors = dict(await conn.fetch("SELECT map, count(*) FROM error_log WHERE state = 'open' GROUP BY map"))
    print(f"{'map':<18} {'state':<12} {'queued':>7} {'errors':>7}  title")
    for name, tmap in engine.sync.maps.items():
        print(f"{name:<18} {states.get(name, RUNNING):<12} {queued.get(name, 0):>7} {errors.get(name, 0):>7}  "
              f"{tmap.title}")


async def set_state(pool: asyncpg.Pool, engine: Engine, name: str, state: str) -> None:
    async with pool.acquire() as conn, conn.transaction():
        current = (await engine.states(conn)).get(name)
        if state == RESUMING and current != PAUSED:
            raise ValueError(f"{name} is {current}: only a Paused map can be resumed")
        await engine.set_state(conn, name, state)
    print(f"{name}: {state}")


async def errors(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT id, map, kind, reason, attempts, created_at FROM error_log "
                                "WHERE state = 'open' ORDER BY id")
    if not rows:
        print("no open errors")
    for r in rows:
        print(f"#{r['id']:<5} {r['map']:<18} {r['kind']:<12} attempts {r['attempts']}  "
              f"{r['created_at']:%Y-%m-%d %H:%M:%S}  {r['reason']}")


async def retry(pool: asyncpg.Pool, engine: Engine, ids: list[int]) -> int:
    failed = 0
    async with pool.acquire() as conn:
        if not ids:
            ids = [r["id"] for r in await conn.fetch("SELECT id FROM error_log WHERE state = 'open' ORDER BY id")]
        for error_id in ids:
            async with conn.transaction():
                reason = await engine.retry(conn, _outbox(conn, f"retry:{error_id}"), error_id)
            print(f"#{error_id}: {'resolved' if reason is None else 'failed again: ' + reason}")
            failed += reason is not None
    return failed


INITIAL_SYNC_CHUNK = 500  # documents per transaction
PROGRESS_EVERY = 0.25  # seconds between two redraws of the progress bar


async def initial_sync(pool: asyncpg.Pool, engine: Engine, chunk: int = INITIAL_SYNC_CHUNK) -> None:
    """A full push, SCM as master, map by map in the maps' `initial_sync` order
    (DUALWRITE-REFERENCE §4.8): every current document's rows of that map, `chunk` documents
    per transaction (docs/performance.md: one transaction per document wrote ~300 rows/s).
    Per-key order holds: a key's writes go to the outbox in the order they are decided, and
    its mirror row stays locked until the chunk commits."""
    sync = engine.sync
    async with pool.acquire() as conn:
        documents = {topic: await repo.scm_documents(conn, topic) for topic in sync.by_events}
    total = sum(len(documents[m.scm.events]) for m in sync.maps.values())
    done, written = 0, dict.fromkeys(sync.maps, 0)
    drawn = 0.0
    for tmap in sync.maps.values():
        rows = documents[tmap.scm.events]
        for start in range(0, len(rows), chunk):
            part: list[dict[str, Any]] = [row["document"] for row in rows[start:start + chunk]]
            for attempt in range(1, 4):
                try:
                    async with pool.acquire() as conn, conn.transaction():
                        count = await sync.initial_sync_documents(
                            conn, _outbox(conn, "initial-sync"), tmap, part, await repo.features(conn))
                    break
                except asyncpg.exceptions.DeadlockDetectedError:
                    # the running adapter locked some of the chunk's mirrors in another order:
                    # PostgreSQL rolled one side back, and the chunk is run again whole
                    if attempt == 3:
                        raise
            written[tmap.name] += count
            done += len(part)
            if time.monotonic() - drawn >= PROGRESS_EVERY:  # a redraw per row cost more than the row
                drawn = time.monotonic()
                print(f"\rinitial sync {_bar(done, total)}", end="", flush=True)
    counts = ", ".join(f"{name} {count}" for name, count in written.items())
    print(f"\rinitial sync {_bar(done, total)}: rows written per map: {counts}")


async def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="dual-write admin", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["maps", "pause", "resume", "stop", "run", "errors", "retry",
                                            "initial-sync"])
    parser.add_argument("args", nargs="*")
    parser.add_argument("--all", action="store_true", help="retry every open error")
    options = parser.parse_args(argv)
    engine = Engine(Sync(load_maps()))
    pool = await create_pool(RuntimeSettings().db_url, min_size=1, max_size=2)  # type: ignore[call-arg]
    try:
        if options.command == "maps":
            await maps(pool, engine)
        elif options.command in ("pause", "resume", "stop", "run"):
            if len(options.args) != 1:
                parser.error(f"{options.command} needs one map name: {', '.join(engine.sync.maps)}")
            state = {"pause": PAUSED, "resume": RESUMING, "stop": NOT_RUNNING, "run": RUNNING}[options.command]
            await set_state(pool, engine, options.args[0], state)
        elif options.command == "errors":
            await errors(pool)
        elif options.command == "retry":
            if not options.all and not options.args:
                parser.error("retry needs error ids or --all")
            return 1 if await retry(pool, engine, [] if options.all else [int(a) for a in options.args]) else 0
        else:
            await initial_sync(pool, engine)
    except ValueError as exc:
        print(f"dual-write admin: {exc}", file=sys.stderr)
        return 2
    finally:
        await pool.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
