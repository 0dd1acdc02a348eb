"""What every service process is configured with (environment, prefix Q2C_)."""

from datetime import timedelta

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from .inbox_pruning import Retention
from .security import DEFAULT_MECHANISM, KafkaCredentials


class RuntimeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="Q2C_", extra="ignore")

    kafka_bootstrap: str = "127.0.0.1:9092"
    # SASL/SCRAM login (docs/security.md); no username = PLAINTEXT.
    kafka_username: str = ""
    kafka_password: SecretStr = SecretStr("")
    kafka_sasl_mechanism: str = DEFAULT_MECHANISM
    # The service's own database, opened with the service's own role.
    db_url: str
    log_level: str = "INFO"
    # Consumers of the service process (each reads all its topics and owns some of their
    # partitions): order is kept within a partition (one key's messages). One consumer gets
    # every partition's records in one poll, and a poll's records of one topic share a
    # transaction (q2c_messaging.batching): fewer, larger transactions (docs/performance.md,
    # "Eighth session"). More processes (replicas) spread the partitions further.
    # 1 since the ninth session: the stalls that made the eighth session go back to 3 were
    # aiokafka's tasks dying of uvloop's RuntimeError after a broker kill, with 3 consumers too
    # (q2c_messaging.uvloop_writes, docs/messaging.md "A write on a closed connection").
    consumer_workers: int = 1
    # Records per poll of one consumer (all its partitions), and per database transaction.
    # A transaction uses savepoints only when a handler failed; PostgreSQL caches 64
    # subtransactions per transaction, more make every snapshot slower while it runs.
    consumer_batch_size: int = 200
    consumer_transaction_records: int = 100
    # How long a consumer's fetch waits at the broker (q2c_messaging.batching says why it is short).
    consumer_fetch_max_wait_ms: int = 100
    # At most one offset commit per consumer in this many ms (q2c_messaging.batching._Committer):
    # a longer interval costs only more records read again, and absorbed, after a crash.
    consumer_commit_interval_ms: int = 200
    relay_batch_size: int = 500
    relay_poll_interval: float = 1.0
    # A row the broker refuses this many times is parked (`outbox parked|retry`).
    relay_max_attempts: int = 5
    # Inbox pruning (docs/messaging.md "Inbox pruning"): seconds between two passes (0 = off),
    # rows per delete statement, the margin on top of a topic's retention (s), and the broker's
    # defaults for topics that set no retention (log.retention.ms) and for segment rolls (log.roll.ms).
    inbox_prune_interval: float = 3600.0
    inbox_prune_batch: int = 1000
    inbox_retention_margin: float = 86400.0
    inbox_retention_default_ms: int = 7 * 24 * 3600 * 1000
    inbox_segment_ms: int = 7 * 24 * 3600 * 1000
    pool_max_size: int = 10
    handler_attempts: int = 3
    # Seconds between two measures of the consumer group's lag (q2c_consumer_group_lag); 0 = off
    lag_interval: float = 10.0
    # /health, /health/live, /health/ready and /metrics; 0 = no HTTP endpoint
    http_port: int = 0
    # the address it binds: loopback by default, 0.0.0.0 in a container
    http_host: str = "127.0.0.1"
    # Which process of the service this is, when several run (Q2C_REPLICAS of the local stack):
    # only in its Kafka client ids and PostgreSQL application_name, so logs, the broker and
    # pg_stat_activity tell replicas apart. Replicas share the group, the database and the work.
    replica: int = 1

    @property
    def instance(self) -> str:
        """What follows the service's name in client ids and application_name: nothing for
        replica 1 (as before replicas), `-<r>` for replica r."""
        return "" if self.replica == 1 else f"-{self.replica}"

    @property
    def inbox_retention(self) -> Retention:
        return Retention(default_retention_ms=self.inbox_retention_default_ms, segment_ms=self.inbox_segment_ms,
                         margin=timedelta(seconds=self.inbox_retention_margin))

    @property
    def kafka_credentials(self) -> KafkaCredentials | None:
        if not self.kafka_username:
            return None
        return KafkaCredentials(self.kafka_username, self.kafka_password.get_secret_value(),
                                self.kafka_sasl_mechanism)
