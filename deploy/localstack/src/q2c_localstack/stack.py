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
    from . import processes

    say(f"home: {config.home}")
    say(f"kafka: {'external ' + config.kafka_bootstrap if config.external_kafka else ('running' if processes.running_pid(config.run_dir, kafka.NAME) else 'stopped')}")
    say(f"postgres: {'external' if config.external_pg_admin else ('running' if postgres._server_running(config.home / 'postgres' / 'data') else 'stopped')}")
    for service in config.services:
        say(f"{service.name}: {'running' if services.is_running(config, service) else 'stopped'}")
