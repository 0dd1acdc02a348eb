"""The inbox: the first statement of every handling transaction. A message id a consumer
group has already handled ends the handling there, so redelivery changes nothing."""

from q2c_persistence import Connection


async def claim(conn: Connection, consumer: str, message_id: str) -> bool:
    """True when this message id is new for this consumer (and is now recorded)."""
    status = await conn.execute(
        "INSERT INTO inbox (consumer, message_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        consumer, message_id,
    )
    return status == "INSERT 0 1"
