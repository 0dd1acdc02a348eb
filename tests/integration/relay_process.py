"""A bare outbox relay in its own process, so a test can SIGKILL it mid-batch.
Usage: python relay_process.py <database dsn> <kafka bootstrap> <batch size>"""

import asyncio
import sys

from q2c_messaging.outbox import OutboxRelay
from q2c_messaging.producer import make_producer
from q2c_persistence import create_pool


async def main(dsn: str, bootstrap: str, batch_size: int) -> None:
    pool = await create_pool(dsn)
    relay = OutboxRelay(pool, lambda: make_producer(bootstrap, "relay-under-test"),
                        batch_size=batch_size, poll_interval=0.2)
    await relay.start()
    print("relay.started", flush=True)
    await asyncio.Event().wait()  # until killed


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
