"""Every q2c service as processes: replica 1 logs JSON to <home>/logs/<service>.log, replica r
(Q2C_REPLICAS, docs/infrastructure.md "Replicas") to <home>/logs/<service>-<r>.log."""

import os
import re
import sys
import time
from pathlib import Path

from . import kafka_security, postgres, processes
from .config import ServiceSpec, StackConfig, StackError

READY_MARK = '"event": "service.ready"'


def process_name(service: ServiceSpec, replica: int = 1) -> str:
    """`service-<name>` for replica 1 (the name before replicas existed), `service-<name>-<r>` else."""
    return f"service-{service.name}" + (f"-{replica}" if replica > 1 else "")


def log_path(config: StackConfig, service: ServiceSpec, replica: int = 1) -> Path:
    return config.logs / (f"{service.name}.log" if replica == 1 else f"{service.name}-{replica}.log")


def label(service: ServiceSpec, replica: int = 1) -> str:
    """How messages name a replica: the service's name alone for replica 1."""
    return service.name if replica == 1 else f"{service.name} replica {replica}"


def start(config: StackConfig, service: ServiceSpec, replica: int = 1) -> tuple[str, int]:
    """Start one replica of a service unless it runs; return (what happened, log offset to wait from)."""
    log = log_path(config, service, replica)
    if processes.running_pid(config.run_dir, process_name(service, replica)):
        return f"{label(service, replica)} already running", -1
    offset = log.stat().st_size if log.exists() else 0
    env = {**os.environ, **service_env(config, service, replica)}
    processes.start(config.run_dir, process_name(service, replica), [sys.executable, "-m", service.module],
                    log=log, env=env)
    return f"{label(service, replica)} started", offset


def service_env(config: StackConfig, service: ServiceSpec, replica: int = 1) -> dict[str, str]:
    """What a service process is configured with (docker-compose.yml gives its containers the
    same, with the compose hosts; a unit test holds the two together). Replicas differ only in
    their HTTP port and Q2C_REPLICA (their Kafka client ids and PostgreSQL application name)."""
    return {
        "Q2C_KAFKA_BOOTSTRAP": config.kafka_bootstrap,
        **kafka_env(config, service.name),
        "Q2C_DB_URL": postgres.service_dsn(config, service),
        "Q2C_TOPIC_CATALOG": str(config.topic_catalog),
        "Q2C_HTTP_PORT": str(config.http_port(service, replica)),
        "PYTHONUNBUFFERED": "1",
        **({"Q2C_REPLICA": str(replica)} if replica > 1 else {}),
    }


def kafka_env(config: StackConfig, principal: str) -> dict[str, str]:
    """The principal's Kafka login as environment variables (empty = what the environment
    already says: PLAINTEXT, or an external cluster's credentials)."""
    creds = kafka_security.credentials(config, principal)
    return creds.env() if creds and not config.external_kafka else {}


def wait_ready(config: StackConfig, service: ServiceSpec, offset: int, replica: int = 1) -> None:
    if offset < 0:
        return
    log = log_path(config, service, replica)
    deadline = time.monotonic() + config.start_timeout
    while time.monotonic() < deadline:
        if log.exists():
            with open(log, "rb") as f:
                f.seek(offset)
                if READY_MARK.encode() in f.read():
                    return
        if processes.running_pid(config.run_dir, process_name(service, replica)) is None:
            raise StackError(f"{label(service, replica)} exited during start-up; see {log}:\n{processes.tail(log)}")
        time.sleep(0.2)
    raise StackError(f"{label(service, replica)} not ready after {config.start_timeout:.0f}s; see {log}")


def stop(config: StackConfig, service: ServiceSpec, replica: int = 1) -> bool:
    return processes.stop(config.run_dir, process_name(service, replica))


def kill(config: StackConfig, service: ServiceSpec, replica: int = 1) -> None:
    processes.kill(config.run_dir, process_name(service, replica))


def is_running(config: StackConfig, service: ServiceSpec, replica: int = 1) -> bool:
    return processes.running_pid(config.run_dir, process_name(service, replica)) is not None


def started_replicas(config: StackConfig, service: ServiceSpec) -> list[int]:
    """The replicas of `service` that have a pid file, whatever Q2C_REPLICAS says now (a stack
    started with more replicas is stopped whole by `down`), replica 1 always included."""
    pattern = re.compile(rf"{re.escape(process_name(service))}-(\d+)\.pid")
    found = {int(m.group(1)) for p in config.run_dir.glob(f"{process_name(service)}-*.pid")
             if (m := pattern.fullmatch(p.name))}
    return sorted({1} | found)


def replicas(config: StackConfig) -> list[tuple[ServiceSpec, int]]:
    """Every (service, replica) the stack runs: Q2C_REPLICAS of each service."""
    return [(s, r) for s in config.services for r in range(1, config.replicas + 1)]


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
