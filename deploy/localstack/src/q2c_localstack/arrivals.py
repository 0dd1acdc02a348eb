"""The pace of an open loop: random (Poisson) arrivals at a rate, whatever the work started at
each arrival is doing (the bench's lifecycles and the messaging core's chain both run one)."""

import asyncio
import random
import time
from collections.abc import AsyncIterator


async def poisson_arrivals(rate: float, seconds: float, seed: int = 8) -> AsyncIterator[None]:
    """Yield at each arrival, `rate` per second on average, for `seconds`. The same seed gives
    the same pattern in every run, so two runs differ by the stack, not by their arrivals."""
    arrivals = random.Random(seed)
    deadline = time.perf_counter() + seconds
    next_start = time.perf_counter()
    while next_start < deadline:
        await asyncio.sleep(max(0.0, next_start - time.perf_counter()))
        yield
        next_start += arrivals.expovariate(rate)
