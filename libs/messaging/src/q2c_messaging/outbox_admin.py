"""The outbox's admin commands, against one service's database (Q2C_DB_URL); run them through
`python -m q2c_localstack outbox SERVICE ...` (or `make outbox ARGS="SERVICE ..."`):

  parked               the parked rows, oldest first: refused by the broker max-attempts times
                       (larger than the topic's max.message.bytes, say); the rows of their topic
                       and key wait behind them
  retry ID|--all       a parked row (or every one) goes back to the relay, attempts from zero;
                       retry once the cause is mended (the topic's limit raised, say)"""

import argparse
import asyncio
import json
import sys

from q2c_persistence import create_pool

from .settings import RuntimeSettings

_PARKED = """
SELECT o.id, o.topic, o.key, o.attempts, o.parked_at, o.last_error, length(o.value) AS bytes,
       (SELECT count(*) FROM outbox w WHERE w.parked_at IS NULL AND w.topic = o.topic AND w.key = o.key) AS waiting
FROM outbox o WHERE o.parked_at IS NOT NULL ORDER BY o.id
"""


async def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="outbox", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["parked", "retry"])
    parser.add_argument("id", nargs="?", help="retry: the row id, or --all")
    parser.add_argument("--all", action="store_true", help="retry: every parked row")
    parser.add_argument("--json", action="store_true", help="parked: one JSON object per line")
    options = parser.parse_args(argv)
    if options.command == "retry" and (options.id is None) == (not options.all):
        parser.error("retry needs a row id or --all")
    pool = await create_pool(RuntimeSettings().db_url, min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            if options.command == "parked":
                rows = await conn.fetch(_PARKED)
                if options.json:
                    for r in rows:
                        print(json.dumps({**{k: r[k] for k in ("id", "topic", "key", "bytes", "attempts", "waiting",
                                                               "last_error")},
                                          "parked_at": r["parked_at"].isoformat()}))
                    return 0
                for r in rows:
                    print(f"{r['id']}  {r['topic']}  {r['key']}  {r['bytes']} B  attempts {r['attempts']}  "
                          f"parked {r['parked_at']:%Y-%m-%d %H:%M:%S}  {r['waiting']} waiting behind  "
                          f"{r['last_error']}")
                print(f"{len(rows)} parked row(s)")
                return 0
            row_id = None if options.all else _row_id(parser, options.id)
            async with conn.transaction():
                retried = await conn.fetch(
                    "UPDATE outbox SET parked_at = NULL, attempts = 0, last_error = NULL "
                    "WHERE parked_at IS NOT NULL AND ($1::bigint IS NULL OR id = $1) RETURNING id", row_id)
                await conn.execute("SELECT pg_notify('outbox', '')")  # wake the relay now
            if row_id is not None and not retried:
                print(f"outbox: row {row_id} is not parked", file=sys.stderr)
                return 2
            print(f"{len(retried)} row(s) back to the relay: {', '.join(str(r['id']) for r in retried)}")
            return 0
    finally:
        await pool.close()


def _row_id(parser: argparse.ArgumentParser, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        parser.error(f"not a row id: {text!r}")


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
