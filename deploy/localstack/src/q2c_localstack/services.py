"""Every q2c service as one process, logging JSON to <home>/logs/<service>.log."""

import os
import sys
import time

from . import kafka_security, postgres, processes
from .config import ServiceSpec, StackConfig, StackError

READY_MARK = '"event": "service.ready"'


def _name(service: ServiceSpec) -> str:
    return f"service-{service.name}"


def start(config: StackConfig, service: ServiceSpec) -> tuple[str, int]:
    """Start one service unless it runs; return (what happened, log offset to wait from)."""
    log = config.logs / f"{service.name}.log"
    if processes.running_pid(config.run_dir, _name(service)):
        return f"{service.name} already running", -1
    offset = log.stat().st_size if log.exists() else 0
    env = {**os.environ, **service_env(config, service)}
    processes.start(config.run_dir, _name(service), [sys.executable, "-m", service.module],
                    log=log, env=env)
    return f"{service.name} started", offset


def service_env(config: StackConfig, service: ServiceSpec) -> dict[str, str]:
    """What a service process is configured with (docker-compose.yml gives its containers the
    same, with the compose hosts; a unit test holds the two together)."""
    return {
        "Q2C_KAFKA_BOOTSTRAP": config.kafka_bootstrap,
        **kafka_env(config, service.name),
        "Q2C_DB_URL": postgres.service_dsn(config, service),
        "Q2C_TOPIC_CATALOG": str(config.topic_catalog),
        "Q2C_HTTP_PORT": str(config.http_port(service)),
        "PYTHONUNBUFFERED": "1",
    }


def kafka_env(config: StackConfig, principal: str) -> dict[str, str]:
    """The principal's Kafka login as environment variables (empty = what the environment
    already says: PLAINTEXT, or an external cluster's credentials)."""
    creds = kafka_security.credentials(config, principal)
    return creds.env() if creds and not config.external_kafka else {}


def wait_ready(config: StackConfig, service: ServiceSpec, offset: int) -> None:
    if offset < 0:
        return
    log = config.logs / f"{service.name}.log"
    deadline = time.monotonic() + config.start_timeout
    while time.monotonic() < deadline:
        if log.exists():
            with open(log, "rb") as f:
                f.seek(offset)
                if READY_MARK.encode() in f.read():
                    return
        if processes.running_pid(config.run_dir, _name(service)) is None:
            raise StackError(f"{service.name} exited during start-up; see {log}:\n{processes.tail(log)}")
        time.sleep(0.2)
    raise StackError(f"{service.name} not ready after {config.start_timeout:.0f}s; see {log}")


def stop(config: StackConfig, service: ServiceSpec) -> bool:
    return processes.stop(config.run_dir, _name(service))


def kill(config: StackConfig, service: ServiceSpec) -> None:
    processes.kill(config.run_dir, _name(service))


def is_running(config: StackConfig, service: ServiceSpec) -> bool:
    return processes.running_pid(config.run_dir, _name(service)) is not None


ADMIN_MODULES = {"dual-write-adapter": "dual_write_adapter.admin", "quote": "quote_service.admin"}
OUTBOX_ADMIN_MODULE = "q2c_messaging.outbox_admin"  # every service's outbox: its parked rows
INBOX_ADMIN_MODULE = "q2c_messaging.inbox_admin"  # every service's inbox: its size, pruning


def admin_command(config: StackConfig, argv: list[str], service: str = "dual-write-adapter",
                  module: str | None = None) -> tuple[list[str], dict[str, str]]:
    """How to run a service's admin CLI against this stack (the dual-write admin, or the
    message processor's): its argv and environment (the service's own database)."""
    [spec] = [s for s in config.services if s.name == service]
    env = {**os.environ, "Q2C_DB_URL": postgres.service_dsn(config, spec), **kafka_env(config, service),
           "Q2C_KAFKA_BOOTSTRAP": config.kafka_bootstrap, "Q2C_TOPIC_CATALOG": str(config.topic_catalog)}
    return [sys.executable, "-m", module or ADMIN_MODULES[service], *argv], env
