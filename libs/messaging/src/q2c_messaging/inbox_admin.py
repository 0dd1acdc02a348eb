"""The inbox's admin commands, against one service's database (Q2C_DB_URL) and the topics the
catalog names it a consumer of (Q2C_SERVICE); run them through `python -m q2c_localstack inbox
SERVICE ...` (docs/messaging.md "Inbox pruning"):

  stats                      rows per topic, the oldest, the age after which they go and how
                             many are older than that now
  prune                      one pass of the service's own pruning, now
  prune --older-than DAYS    the rows older than DAYS instead; refused for a topic whose records
                             may still be in its log at that age, unless --force. The rows of
                             compacted topics (and topics kept forever) are never deleted."""

import argparse
import asyncio
import json
import os
import sys
from datetime import timedelta

from q2c_persistence import Connection, create_pool

from .catalog import TopicSpec, load_catalog
from .inbox_pruning import UNKNOWN, Retention, keep_for, keep_unknown_for, plan, prune, prune_topic
from .settings import RuntimeSettings

_STATS = """
SELECT topic, count(*) AS rows, min(received_at) AS oldest,
       count(*) FILTER (WHERE received_at < now() - $1::interval) AS due
FROM inbox WHERE topic IS NOT DISTINCT FROM $2 GROUP BY topic
"""


async def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="inbox", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["stats", "prune"])
    parser.add_argument("--service", default=os.environ.get("Q2C_SERVICE", ""),
                        help="the service whose inbox (default: Q2C_SERVICE)")
    parser.add_argument("--older-than", type=float, metavar="DAYS", help="prune: this age instead of the rule's")
    parser.add_argument("--force", action="store_true", help="prune --older-than: below a topic's safe age too")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    options = parser.parse_args(argv)
    if not options.service:
        parser.error("which service: --service or Q2C_SERVICE")
    settings = RuntimeSettings()
    topics = [t for t in load_catalog() if options.service in t.consumers]
    retention = settings.inbox_retention
    pool = await create_pool(settings.db_url, min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            if options.command == "stats":
                return await _stats(conn, topics, options, retention)
            if options.older_than is None:
                deleted = await prune(conn, options.service, topics, retention, settings.inbox_prune_batch)
                return _said(deleted, options.json)
            age = timedelta(days=options.older_than)
            safe = plan(topics, retention)
            kept = [t.name for t in topics if t.name not in safe]
            too_young = {topic: need for topic, need in safe.items() if age < need}
            if too_young and not options.force:
                for topic, need in too_young.items():
                    print(f"inbox: rows of {topic or 'unknown topics'} may stand for records still in the log "
                          f"before {need.total_seconds() / 86400:g} days; --force to prune them anyway",
                          file=sys.stderr)
                return 2
            deleted = {topic: await prune_topic(conn, options.service, topic, age, settings.inbox_prune_batch)
                       for topic in safe}
            if kept:
                print(f"kept for good (compacted or retention -1): {', '.join(kept)}", file=sys.stderr)
            return _said(deleted, options.json)
    finally:
        await pool.close()


async def _stats(conn: Connection, topics: list[TopicSpec], options: argparse.Namespace,
                 retention: Retention) -> int:
    ages: list[tuple[str | None, timedelta | None]] = [(t.name, keep_for(t, retention)) for t in topics]
    ages.append((UNKNOWN, keep_unknown_for(topics, retention)))
    for topic, age in ages:
        row = await conn.fetchrow(_STATS, age or timedelta(days=365_000), topic)
        if row is None and topic is UNKNOWN:
            continue
        stats = {"topic": topic or "unknown", "rows": row["rows"] if row else 0,
                 "oldest": row["oldest"].isoformat() if row else None,
                 "prune_after_days": None if age is None else round(age.total_seconds() / 86400, 3),
                 "due": (row["due"] if row and age is not None else 0)}
        if options.json:
            print(json.dumps(stats))
        else:
            after = "never" if age is None else f"after {stats['prune_after_days']:g} days"
            print(f"{stats['topic']}  {stats['rows']} rows  oldest {stats['oldest'] or '-'}  pruned {after}  "
                  f"{stats['due']} due now")
    return 0


def _said(deleted: dict[str | None, int], as_json: bool) -> int:
    for topic, count in deleted.items():
        if as_json:
            print(json.dumps({"topic": topic or "unknown", "pruned": count}))
        else:
            print(f"{topic or 'unknown'}  {count} rows pruned")
    if not as_json:
        print(f"{sum(deleted.values())} inbox row(s) pruned")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
