"""The inbox: the first statement of every handling transaction. A message id a consumer
group has already handled ends the handling there, so redelivery changes nothing. A record
that was dead-lettered counts as handled: its message id (or its position, when it has no
id) is in the inbox too, so a replay from an earlier offset dead-letters nothing again."""

from q2c_persistence import Connection
from q2c_persistence.copies import VERSIONS_SUBQUERY, versions_of


async def claim(conn: Connection, consumer: str, message_id: str, topic: str | None = None) -> bool:
    """True when this message id is new for this consumer (and is now recorded). `topic`: the
    record's, which decides when its row may be pruned (`inbox_pruning`)."""
    status = await conn.execute(
        "INSERT INTO inbox (consumer, message_id, topic) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        consumer, message_id, topic,
    )
    return status == "INSERT 0 1"


async def claim_many(conn: Connection, consumer: str, message_ids: list[str], topic: str | None = None
                     ) -> set[str]:
    """Claim a batch's message ids (records of one topic) in one statement; return those that
    were new. Sorted, so two transactions claiming overlapping ids lock them in the same order
    (no deadlock)."""
    new, _ = await claim_many_with_versions(conn, consumer, message_ids, topic)
    return new


async def claim_many_with_versions(conn: Connection, consumer: str, message_ids: list[str],
                                   topic: str | None = None) -> tuple[set[str], dict[str, str]]:
    """`claim_many`, and in the same statement (its snapshot) the version of every copy the
    service keeps in memory (`q2c_persistence.copies`): the handlers learn whether their copy
    is current without a round trip of their own."""
    row = await conn.fetchrow(
        "WITH claimed AS (INSERT INTO inbox (consumer, message_id, topic) SELECT $1, unnest($2::text[]), $3 "
        "ON CONFLICT DO NOTHING RETURNING message_id) "
        f"SELECT ARRAY(SELECT message_id FROM claimed) AS new, v.names, v.versions FROM ({VERSIONS_SUBQUERY}) v",
        consumer, sorted(set(message_ids)), topic,
    )
    assert row is not None  # an aggregate without GROUP BY: always one row
    return set(row["new"]), versions_of(row["names"], row["versions"])


def position_key(topic: str, partition: int, offset: int) -> str:
    """The inbox key of a record that carries no message id we can read (not JSON, no id)."""
    return f"record:{topic}/{partition}/{offset}"
