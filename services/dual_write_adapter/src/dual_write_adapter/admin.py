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

--json prints maps and errors as one JSON object per line; --progress jsonl reports the initial
sync's progress as JSON lines (`q2c admin initial-sync` draws its progress bar from them).

Writes go to the adapter's outbox; the running adapter publishes them."""

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Callable
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


class Throttle:
    """Whether a progress report is due: the first and the last row always, in between at most
    one per `min_rows` rows and `min_seconds` seconds. Redrawing per row would cost more than a
    row's write on a large sync, and a terminal cannot show it anyway."""

    def __init__(self, total: int, *, min_rows: int = 1, min_seconds: float = 0.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.total, self.min_rows, self.min_seconds, self.clock = total, max(1, min_rows), min_seconds, clock
        self._rows: int | None = None
        self._at = 0.0

    def due(self, done: int) -> bool:
        now = self.clock()
        if (self._rows is None or done >= self.total
                or (done - self._rows >= self.min_rows and now - self._at >= self.min_seconds)):
            self._rows, self._at = done, now
            return True
        return False


def _progress(mode: str, total: int) -> Callable[[int], None]:
    """How the initial sync reports `done` rows: a text bar rewritten in place (at most once per
    1 % of the rows), or JSON lines for `q2c` (at most ten a second; it draws the bar)."""
    if mode == "jsonl":
        throttle = Throttle(total, min_seconds=0.1)

        def report(done: int) -> None:
            if throttle.due(done):
                print(json.dumps({"progress": done, "total": total}), flush=True)
        return report
    throttle = Throttle(total, min_rows=total // 100)

    def draw(done: int) -> None:
        if throttle.due(done):
            print(f"\rinitial sync {_bar(done, total)}", end="", flush=True)
    return draw


async def maps(pool: asyncpg.Pool, engine: Engine, as_json: bool = False) -> None:
    async with pool.acquire() as conn:
        states = await engine.states(conn)
        queued = await repo.queued_counts(conn)
        errors = await repo.open_error_counts(conn)
    if as_json:
        for name, tmap in engine.sync.maps.items():
            print(json.dumps({"map": name, "state": states.get(name, RUNNING), "queued": queued.get(name, 0),
                              "errors": errors.get(name, 0), "title": tmap.title}))
        return
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


async def errors(pool: asyncpg.Pool, as_json: bool = False) -> None:
    async with pool.acquire() as conn:
        rows = await repo.open_errors(conn)
    if as_json:
        for r in rows:
            print(json.dumps({**dict(r), "created_at": r["created_at"].isoformat()}))
        return
    if not rows:
        print("no open errors")
    for r in rows:
        print(f"#{r['id']:<5} {r['map']:<18} {r['kind']:<12} attempts {r['attempts']}  "
              f"{r['created_at']:%Y-%m-%d %H:%M:%S}  {r['reason']}")


async def retry(pool: asyncpg.Pool, engine: Engine, ids: list[int]) -> int:
    failed = 0
    async with pool.acquire() as conn:
        if not ids:
            ids = [r["id"] for r in await repo.open_errors(conn)]
        for error_id in ids:
            async with conn.transaction():
                reason = await engine.retry(conn, _outbox(conn, f"retry:{error_id}"), error_id)
            print(f"#{error_id}: {'resolved' if reason is None else 'failed again: ' + reason}")
            failed += reason is not None
    return failed


INITIAL_SYNC_CHUNK = 500  # documents per transaction


async def initial_sync(pool: asyncpg.Pool, engine: Engine, progress: str = "bar",
                       chunk: int = INITIAL_SYNC_CHUNK) -> None:
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
    report = _progress(progress, total)  # throttled: a redraw per row cost more than the row
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
            report(done)
    counts = ", ".join(f"{name} {count}" for name, count in written.items())
    if progress == "jsonl":
        print(json.dumps({"progress": done, "total": total, "written": written}))
    else:
        print(f"\rinitial sync {_bar(done, total)}: rows written per map: {counts}")


async def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="dual-write admin", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["maps", "pause", "resume", "stop", "run", "errors", "retry",
                                            "initial-sync"])
    parser.add_argument("args", nargs="*")
    parser.add_argument("--all", action="store_true", help="retry every open error")
    parser.add_argument("--json", action="store_true", help="maps, errors: one JSON object per line")
    parser.add_argument("--progress", choices=["bar", "jsonl"], default="bar",
                        help="initial-sync: a text bar, or JSON lines of progress")
    options = parser.parse_args(argv)
    engine = Engine(Sync(load_maps()))
    pool = await create_pool(RuntimeSettings().db_url, min_size=1, max_size=2)
    try:
        if options.command == "maps":
            await maps(pool, engine, options.json)
        elif options.command in ("pause", "resume", "stop", "run"):
            if len(options.args) != 1:
                parser.error(f"{options.command} needs one map name: {', '.join(engine.sync.maps)}")
            state = {"pause": PAUSED, "resume": RESUMING, "stop": NOT_RUNNING, "run": RUNNING}[options.command]
            await set_state(pool, engine, options.args[0], state)
        elif options.command == "errors":
            await errors(pool, options.json)
        elif options.command == "retry":
            if not options.all and not options.args:
                parser.error("retry needs error ids or --all")
            return 1 if await retry(pool, engine, [] if options.all else [int(a) for a in options.args]) else 0
        else:
            await initial_sync(pool, engine, options.progress)
    except ValueError as exc:
        print(f"dual-write admin: {exc}", file=sys.stderr)
        return 2
    finally:
        await pool.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
