"""Bring the whole stack up or down, idempotently, failing with a clear message."""

import os
import signal
import time
from collections.abc import Callable

from . import kafka, kafka_security, postgres, processes, services
from .config import ServiceSpec, StackConfig, StackError

Say = Callable[[str], None]


def up(config: StackConfig, say: Say = print) -> None:
    started = time.monotonic()
    config.logs.mkdir(parents=True, exist_ok=True)
    say(kafka.start(config))
    say(postgres.start(config))
    provision(config, say)
    start_replicas(config, say)
    say(f"stack up in {time.monotonic() - started:.1f}s: Kafka {config.kafka_bootstrap}, "
        f"logs in {config.logs}")


def provision(config: StackConfig, say: Say = print) -> None:
    """Once Kafka and PostgreSQL answer: the catalog's topics, and every service's database and
    role (idempotent). `up` runs it after starting both; `provision` (the compose stack's init
    container) runs it alone against external servers."""
    kafka.wait_ready(config)
    created = kafka.create_topics(config)
    say(f"topics: {len(created)} created from deploy/kafka/topics.yaml" if created else "topics: all present")
    say(kafka_security.provision(config))
    postgres.wait_ready(config)
    postgres.provision(config)
    say(f"databases: {', '.join(s.database for s in config.services)} (one role each)")


def provision_external(config: StackConfig, say: Say = print) -> None:
    """`python -m q2c_localstack provision`: only against the servers named by
    Q2C_KAFKA_BOOTSTRAP and Q2C_DATABASE_URL (it starts nothing)."""
    missing = [name for name, value in (("Q2C_KAFKA_BOOTSTRAP", config.external_kafka),
                                        ("Q2C_DATABASE_URL", config.external_pg_admin)) if not value]
    if missing:
        raise StackError(f"provision needs {' and '.join(missing)} (the broker, and an admin DSN of "
                         f"the PostgreSQL server); `make up` provisions the local stack itself")
    provision(config, say)
    say("provisioned")


def down(config: StackConfig, say: Say = print) -> None:
    for service in reversed(config.services):
        for replica in reversed(services.started_replicas(config, service)):
            if services.stop(config, service, replica):
                say(f"{services.label(service, replica)} stopped")
    if kafka.stop(config):
        say("Kafka stopped")
    if postgres.stop(config):
        say("PostgreSQL stopped")
    say("stack down")


def status(config: StackConfig, say: Say = print) -> None:
    def state(running: bool) -> str:
        return "running" if running else "stopped"

    say(f"home: {config.home}")
    if config.external_kafka:
        say(f"kafka: external {config.kafka_bootstrap}")
    else:
        up_nodes = kafka.running_nodes(config)
        for node in kafka.nodes(config):
            say(f"{node.name}: {state(node in up_nodes)} (127.0.0.1:{node.client_port})")
    if config.external_pg_admin:
        say("postgres: external")
    else:
        say(f"postgres: {state(postgres.is_running(config))} (127.0.0.1:{config.pg_port})")
    for service, replica in status_replicas(config):
        say(f"{services.label(service, replica)}: {state(services.is_running(config, service, replica))} "
            f"(http://127.0.0.1:{config.http_port(service, replica)}/health, /metrics)")


# --- replicas (Q2C_REPLICAS) ---------------------------------------------------------------------

def start_replicas(config: StackConfig, say: Say = print) -> None:
    """Start every replica of every service that is not running (Q2C_REPLICAS each), all
    at once, then wait until each is ready."""
    pending = [(s, r, *services.start(config, s, r)) for s, r in services.replicas(config)]
    for service, replica, what, offset in pending:
        services.wait_ready(config, service, offset, replica)
        say(what)


def scale(config: StackConfig, say: Say = print) -> None:
    """Run exactly `config.replicas` replicas of every service: start the missing ones, stop
    those above (the bench's scale figures go from one replica to two and back)."""
    for service in config.services:
        for replica in services.started_replicas(config, service):
            if replica > config.replicas and services.stop(config, service, replica):
                say(f"{service.name} replica {replica} stopped")
    start_replicas(config, say)


def status_replicas(config: StackConfig) -> list[tuple[ServiceSpec, int]]:
    """What `status` lists: Q2C_REPLICAS of each service, and any other replica still running."""
    wanted = services.replicas(config)
    extra = [(s, r) for s in config.services for r in services.started_replicas(config, s)
             if r > config.replicas and services.is_running(config, s, r)]
    return sorted(wanted + extra, key=lambda sr: (config.services.index(sr[0]), sr[1]))


# --- chaos (`make soak`) -------------------------------------------------------------------------

def process_names(config: StackConfig) -> list[str]:
    """Every process of the local stack by name: the broker or each node of the cluster,
    PostgreSQL, each replica of each service (`service-<name>`, `service-<name>-<r>`:
    services.process_name)."""
    names = [node.name for node in kafka.nodes(config)]
    names += [] if config.external_pg_admin else [postgres.NAME]
    return names + [services.process_name(s, r) for s, r in services.replicas(config)]


def kill(config: StackConfig, name: str) -> None:
    """SIGKILL one process of the stack (a name of `process_names`): no shutdown hook runs.
    PostgreSQL: the postmaster; its backends notice its death and exit on their own."""
    if name == postgres.NAME:
        pid = postgres.postmaster_pid(config)
        if pid is None:
            return
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while not processes.is_zombie(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        return
    processes.kill(config.run_dir, name)


def restart(config: StackConfig, name: str, timeout: float = 300.0) -> None:
    """Start one process of the stack that was killed, as `up` starts it, and wait until it is
    ready. Tried again until `timeout`: a killed PostgreSQL may refuse to start while its
    orphaned backends still hold the old shared memory, and a service cannot get ready while
    the broker or PostgreSQL is away (killed too, and restarting)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if (node := kafka.node_named(config, name)) is not None:
                kafka.start_node(config, node)
                kafka.wait_ready(config)
            elif name == postgres.NAME:
                postgres.start(config)
                postgres.wait_ready(config)
            else:
                [(service, replica)] = [(s, r) for s, r in services.replicas(config)
                                        if services.process_name(s, r) == name]
                _, offset = services.start(config, service, replica)
                services.wait_ready(config, service, offset, replica)
            return
        except StackError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1.0)
