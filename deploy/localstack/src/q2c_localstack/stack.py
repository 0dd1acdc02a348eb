"""Bring the whole stack up or down, idempotently, failing with a clear message."""

import time
from collections.abc import Callable

from . import kafka, postgres, services
from .config import StackConfig

Say = Callable[[str], None]


def up(config: StackConfig, say: Say = print) -> None:
    started = time.monotonic()
    config.logs.mkdir(parents=True, exist_ok=True)
    say(kafka.start(config))
    say(postgres.start(config))
    kafka.wait_ready(config)
    created = kafka.create_topics(config)
    say(f"topics: {len(created)} created from deploy/kafka/topics.yaml" if created else "topics: all present")
    postgres.wait_ready(config)
    postgres.provision(config)
    say(f"databases: {', '.join(s.database for s in config.services)} (one role each)")
    pending = [(s, *services.start(config, s)) for s in config.services]
    for service, what, offset in pending:
        services.wait_ready(config, service, offset)
        say(what)
    say(f"stack up in {time.monotonic() - started:.1f}s: Kafka {config.kafka_bootstrap}, "
        f"logs in {config.logs}")


def down(config: StackConfig, say: Say = print) -> None:
    for service in reversed(config.services):
        if services.stop(config, service):
            say(f"{service.name} stopped")
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
        say(f"kafka: {state(kafka.is_running(config))} ({config.kafka_bootstrap})")
    if config.external_pg_admin:
        say("postgres: external")
    else:
        say(f"postgres: {state(postgres.is_running(config))} (127.0.0.1:{config.pg_port})")
    for service in config.services:
        say(f"{service.name}: {state(services.is_running(config, service))} "
            f"(http://127.0.0.1:{config.http_port(service)}/health, /metrics)")
