"""Where the stack lives and what it listens on; every value can come from the environment."""

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[4]
DEPLOY = REPO_ROOT / "deploy"


class StackError(RuntimeError):
    """A piece of the stack cannot start; the message says which and where to look."""


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    module: str
    database: str


def load_services() -> list[ServiceSpec]:
    document = yaml.safe_load((DEPLOY / "stack.yaml").read_text())
    return [ServiceSpec(**entry) for entry in document["services"]]


def _kafka_version() -> str:
    pom = (DEPLOY / "kafka" / "pom.xml").read_text()
    match = re.search(r"<kafka.version>([^<]+)</kafka.version>", pom)
    if not match:
        raise StackError("deploy/kafka/pom.xml does not pin kafka.version")
    return match.group(1)


# The HTTP ports of replica r of every service: a block of this many ports per replica.
REPLICA_PORT_STRIDE = 20


@dataclass(frozen=True)
class StackConfig:
    home: Path  # state and logs: <home>/logs, <home>/kafka, <home>/postgres, <home>/run
    cache: Path  # downloads, shared by every stack on the machine
    kafka_port: int = 9092
    controller_port: int = 9093
    # Q2C_KAFKA_BROKERS: nodes of the local KRaft cluster, each broker + controller; node n
    # (1-based) listens on kafka_port + 2(n-1) and controller_port + 2(n-1) (kafka.py).
    kafka_brokers: int = 1
    pg_port: int = 55432
    http_base_port: int = 8100  # service n (1-based, deploy/stack.yaml order) serves /health on base + n
    external_kafka: str | None = None  # Q2C_KAFKA_BOOTSTRAP: use it, start none
    external_pg_admin: str | None = None  # Q2C_DATABASE_URL: admin DSN, start none
    services: list[ServiceSpec] = field(default_factory=load_services)
    kafka_version: str = field(default_factory=_kafka_version)
    start_timeout: float = 90.0
    replicas: int = 1  # Q2C_REPLICAS: processes of every service (docs/infrastructure.md, "Replicas")

    @classmethod
    def from_env(cls, **overrides: object) -> "StackConfig":
        env = os.environ
        values: dict[str, object] = {
            "home": Path(env.get("Q2C_HOME", REPO_ROOT / ".q2c")),
            "cache": Path(env.get("Q2C_CACHE", Path.home() / ".cache" / "q2c")),
            "kafka_port": int(env.get("Q2C_KAFKA_PORT", 9092)),
            "controller_port": int(env.get("Q2C_KAFKA_CONTROLLER_PORT", 9093)),
            "kafka_brokers": int(env.get("Q2C_KAFKA_BROKERS", 1)),
            "pg_port": int(env.get("Q2C_PG_PORT", 55432)),
            "http_base_port": int(env.get("Q2C_HTTP_BASE_PORT", 8100)),
            "external_kafka": env.get("Q2C_KAFKA_BOOTSTRAP") or None,
            "external_pg_admin": env.get("Q2C_DATABASE_URL") or None,
            "replicas": int(env.get("Q2C_REPLICAS") or 1),
        }
        values.update(overrides)
        # Why the ignore: the values are typed per field above; a dict of them is only `object` to mypy.
        return cls(**values)  # type: ignore[arg-type]

    def __post_init__(self) -> None:
        if self.kafka_brokers < 1:
            raise StackError(f"Q2C_KAFKA_BROKERS={self.kafka_brokers}: a cluster needs at least one node")

    @property
    def kafka_bootstrap(self) -> str:
        """Every node's client listener: a client that finds its first address dead tries the next."""
        return self.external_kafka or ",".join(
            f"127.0.0.1:{self.kafka_port + 2 * n}" for n in range(self.kafka_brokers))

    @property
    def replication_factor(self) -> int:
        """Of every topic the stack creates: 3 on a cluster of three or more, else every node."""
        return min(self.kafka_brokers, 3)

    @property
    def min_insync_replicas(self) -> int:
        """acks=all waits for this many copies: with 3, one node may be down and nothing acknowledged is lost."""
        return max(1, self.replication_factor - 1)

    def http_port(self, service: "ServiceSpec", replica: int = 1) -> int:
        """Replica 1 of the n-th service (deploy/stack.yaml order) on base + n, replica r on
        base + n + REPLICA_PORT_STRIDE * (r - 1): a block of ports per replica, so no replica's
        port is another service's while the stack has fewer services than the stride."""
        index = [s.name for s in self.services].index(service.name)
        if len(self.services) >= REPLICA_PORT_STRIDE or replica < 1:
            raise StackError(f"replica {replica} of {service.name}: replicas count from 1, and the port scheme "
                             f"holds at most {REPLICA_PORT_STRIDE - 1} services")
        return self.http_base_port + 1 + index + REPLICA_PORT_STRIDE * (replica - 1)

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    @property
    def run_dir(self) -> Path:
        return self.home / "run"

    @property
    def topic_catalog(self) -> Path:
        return DEPLOY / "kafka" / "topics.yaml"
