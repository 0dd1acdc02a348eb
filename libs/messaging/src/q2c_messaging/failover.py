"""How q2c's Kafka clients ride out a broker's death (docs/scaling.md, "Failover").

When a broker dies, the cluster moves the leadership of its partitions to the survivors
(seconds: the controller fences it first). A client learns the new leaders from a metadata
refresh, which aiokafka triggers on most errors: a produce or fetch answered "not leader", a
dead connection. One path does not: a consumer that must look up where to start reading
(ListOffsets, for a partition with no committed offset, say after a restart or a rebalance)
and is told "not leader" retries against the same stale leader, and only the periodic refresh
(`metadata_max_age_ms`, 5 minutes by default) ends it. On the local cluster it held a service
for 5 minutes (`make soak` with Q2C_KAFKA_BROKERS=3). Kafka's Java client had the same gap
and refreshes there since KAFKA-9535; aiokafka's is reported as robinhood/aiokafka#9.

A second gap is shorter and hits every kill: once a connection to the dead broker is refused,
the producer's and the fetcher's retries fail with NodeNotReadyError, which aiokafka does not
count as stale metadata (`invalid_metadata` is False), so they retry the dead leader until the
next periodic refresh. The refresh that the broken connection triggered came too early: the
cluster had not yet fenced the dead broker and still named it leader. With a 3 s age a broker
kill held steps 3-5 s; at 1 s, the new leader is known at most a second after the cluster
has elected it.

So every q2c client refreshes its metadata every second: one small request per client and
second (a few dozen on the local stack), and no stale leader outlives it."""

from typing import Any

METADATA_MAX_AGE_MS = 1_000


def client_kwargs() -> dict[str, Any]:
    """aiokafka keyword arguments for every producer and consumer of q2c."""
    return {"metadata_max_age_ms": METADATA_MAX_AGE_MS}
