"""The message processor's admin commands, as SCM's Message processor messages page offers
them (DUALWRITE-REFERENCE §3.2), against the quote service's database (Q2C_DB_URL):

  messages [STATE]     the messages, oldest first (Queued, Processed, Failed, Canceled)
  cancel ID            a Queued or Failed message will not be processed
  requeue ID           a Failed or Canceled message is Queued again (processed by the next run)

Every state change is published on scm.processor.events through the outbox."""

import argparse
import asyncio
import json
import sys

from q2c_contracts.quote import ProcessorState
from q2c_messaging.catalog import load_catalog
from q2c_messaging.outbox import Outbox
from q2c_messaging.settings import RuntimeSettings
from q2c_persistence import create_pool

from . import repository as repo
from .processor import publish_state
from .service import SERVICE

ALLOWED: dict[str, tuple[set[str], ProcessorState]] = {
    "cancel": ({"Queued", "Failed"}, "Canceled"), "requeue": ({"Failed", "Canceled"}, "Queued")}


async def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="processor admin", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["messages", "cancel", "requeue"])
    parser.add_argument("arg", nargs="?")
    parser.add_argument("--json", action="store_true", help="messages: one JSON object per line")
    options = parser.parse_args(argv)
    pool = await create_pool(RuntimeSettings().db_url, min_size=1, max_size=2)
    try:
        async with pool.acquire() as conn:
            if options.command == "messages":
                rows = await repo.processor_messages(conn, options.arg)
                if options.json:
                    for r in rows:
                        print(json.dumps({k: r[k] for k in ("message_id", "type", "document", "state",
                                                            "depends_on", "error")}))
                    return 0
                for r in rows:
                    print(f"{r['message_id']}  {r['type']:<38} {r['document']:<12} {r['state']:<9} "
                          f"{r['depends_on'] or '-':<36} {r['error'] or ''}")
                print(f"{len(rows)} message(s)")
                return 0
            if not options.arg:
                parser.error(f"{options.command} needs a message id")
            sources, target = ALLOWED[options.command]
            async with conn.transaction():
                row = await repo.processor_message(conn, options.arg)
                if row is None or row["state"] not in sources:
                    state = row["state"] if row else "unknown"
                    print(f"processor admin: message {options.arg} is {state}; {options.command} needs "
                          f"{' or '.join(sorted(sources))}", file=sys.stderr)
                    return 2
                await repo.set_message_state(conn, options.arg, target)
                outbox = Outbox(conn, SERVICE, load_catalog(), causation_id=f"admin:{options.command}")
                await publish_state(outbox, row, target)
            print(f"{options.arg}: {target}")
            return 0
    finally:
        await pool.close()


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
