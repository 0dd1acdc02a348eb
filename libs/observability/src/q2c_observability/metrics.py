"""Prometheus metrics every service exposes on /metrics (ARCHITECTURE.md "Observability"):
messages in by outcome, handler latency, messages published by the outbox, outbox lag, parked
outbox rows, dead letters and consumer-group lag."""

from prometheus_client import Counter, Gauge, Histogram

MESSAGES = Counter("q2c_messages_total", "Messages consumed, by topic and outcome "
                   "(handled, duplicate, dead-lettered, passed-over, retried)", ["service", "topic", "outcome"])
HANDLER_SECONDS = Histogram("q2c_handler_seconds", "Time to handle one message, transaction included",
                            ["service", "topic"], buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5))
# How many records share one transaction (one inbox claim, one outbox insert, one commit): the
# per-chunk statements are paid once per transaction, so small transactions under load mean
# per-message cost (docs/performance.md, "Sixth session").
TRANSACTION_RECORDS = Histogram("q2c_transaction_records", "Records handled in one database transaction "
                                "(a chunk of one topic's records of a poll)", ["service", "topic"],
                                buckets=(1, 2, 3, 4, 6, 8, 12, 16, 32, 64, 100))
PUBLISHED = Counter("q2c_outbox_published_total", "Messages the outbox relay published", ["service"])
OUTBOX_LAG = Gauge("q2c_outbox_lag", "Outbox rows waiting to be published (parked rows not counted)", ["service"])
OUTBOX_PARKED = Counter("q2c_outbox_parked_total", "Outbox rows parked after the broker refused them "
                        "max-attempts times (listed and retried by `outbox parked|retry`)", ["service", "topic"])
OUTBOX_PARKED_ROWS = Gauge("q2c_outbox_parked_rows", "Outbox rows parked now", ["service"])
OUTBOX_DEAD_ROWS = Gauge("q2c_outbox_dead_rows", "Deleted outbox rows not yet vacuumed (PostgreSQL's n_dead_tup): "
                         "the relay's read walks them", ["service"])
INBOX_PRUNED = Counter("q2c_inbox_pruned_total", "Inbox rows deleted because their record has left its topic's "
                       "log (docs/messaging.md \"Inbox pruning\")", ["service", "topic"])
DEAD_LETTERS = Counter("q2c_dead_letters_total", "Messages sent to a dead-letter topic", ["service", "topic", "code"])
# Consumer-group lag (q2c_messaging.lag), refreshed every Q2C_LAG_INTERVAL seconds off the hot
# path: per topic and partition of the service's group.
CONSUMER_LAG = Gauge("q2c_consumer_group_lag", "Records on a partition the service's consumer group has not "
                     "committed yet (end offset minus committed offset)", ["service", "topic", "partition"])
CONSUMER_COMMITTED = Gauge("q2c_consumer_group_committed_offset", "The group's committed offset "
                           "(-1: nothing committed yet)", ["service", "topic", "partition"])
CONSUMER_END = Gauge("q2c_consumer_group_end_offset", "The partition's end offset (high watermark)",
                     ["service", "topic", "partition"])
