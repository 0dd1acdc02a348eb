"""The raw producer used by the outbox relay and the dead-letter path."""

from aiokafka import AIOKafkaProducer

from .failover import client_kwargs
from .security import KafkaCredentials, security_kwargs


def make_producer(bootstrap: str, client_id: str, credentials: KafkaCredentials | None = None) -> AIOKafkaProducer:
    """Idempotent (no duplicates from producer retries, order kept per partition) and
    acks=all (a record counts as sent once every in-sync replica has it)."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id=client_id,
        enable_idempotence=True,
        acks="all",
        linger_ms=0,
        max_batch_size=256 * 1024,
        request_timeout_ms=30_000,
        **client_kwargs(),
        **security_kwargs(credentials),
    )
