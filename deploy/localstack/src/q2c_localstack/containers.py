"""Kafka and PostgreSQL as containers (the `testcontainers` package) for the test stack's
`containers` backend (docs/operations.md, "The test stack's backends"); the services still run
as local processes against them. Their settings are those of docker-compose.yml, so the two
container set-ups cannot drift; only the host ports differ (the test ports).

Not run against a live Docker engine on our machines (there is none): `docker_problem` and the
backend's selection are tested, starting the containers is not."""

from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from typing import Any

import yaml

from .config import REPO_ROOT, StackConfig

COMPOSE = REPO_ROOT / "docker-compose.yml"
KAFKA_HOST_LISTENER = 9094  # docker-compose.yml: the listener the host reaches
ADMIN_PASSWORD_KEY = "POSTGRES_PASSWORD"


def docker_problem() -> str | None:
    """Why no container can be started here (no client library, no engine answering), or None."""
    try:
        import docker
    except ImportError as exc:  # testcontainers (and its docker client) is a dev dependency
        return f"the docker client library is not installed ({exc})"
    try:
        client = docker.from_env(timeout=5)
        try:
            client.ping()
        finally:
            client.close()
    except Exception as exc:  # noqa: BLE001 - any failure means: no engine to use
        return f"no Docker engine answers ({type(exc).__name__}: {exc})"
    return None


def _compose_service(name: str) -> dict[str, Any]:
    service: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())["services"][name]
    return service


def kafka_environment(port: int) -> dict[str, str]:
    """docker-compose.yml's broker, advertising the host listener on the test port."""
    environment = {k: str(v) for k, v in _compose_service("kafka")["environment"].items()}
    environment["KAFKA_ADVERTISED_LISTENERS"] = f"PLAINTEXT://localhost:9092,HOST://127.0.0.1:{port}"
    return environment


@contextmanager
def container_servers(config: StackConfig) -> Iterator[StackConfig]:
    """Start Kafka and PostgreSQL containers on `config`'s Kafka and PostgreSQL ports; yield
    the config that points the stack at them (it then starts no server of its own)."""
    from testcontainers.core.container import DockerContainer

    kafka_service, postgres_service = _compose_service("kafka"), _compose_service("postgres")
    password = str(postgres_service["environment"][ADMIN_PASSWORD_KEY])
    with ExitStack() as stack:
        kafka = (DockerContainer(kafka_service["image"]).with_envs(**kafka_environment(config.kafka_port))
                 .with_bind_ports(KAFKA_HOST_LISTENER, config.kafka_port))
        stack.enter_context(kafka)
        postgres = (DockerContainer(postgres_service["image"]).with_envs(**{ADMIN_PASSWORD_KEY: password})
                    .with_command(" ".join(postgres_service.get("command", ["postgres"])))
                    .with_bind_ports(5432, config.pg_port))
        stack.enter_context(postgres)
        # stack.up waits for both to answer (kafka.wait_ready, postgres.wait_ready), as for any
        # external server.
        yield StackConfig.from_env(
            home=config.home, kafka_port=config.kafka_port, controller_port=config.controller_port,
            pg_port=config.pg_port, http_base_port=config.http_base_port,
            external_kafka=f"127.0.0.1:{config.kafka_port}",
            external_pg_admin=f"postgresql://postgres:{password}@127.0.0.1:{config.pg_port}/postgres")


# --- the test stack's backend ---------------------------------------------------------------------

BACKEND_ENV = "Q2C_TEST_STACK"
BACKENDS = ("processes", "containers")


class Unavailable(RuntimeError):
    """The backend asked for cannot run here; the message says why (the tests skip with it)."""


def backend(env: Mapping[str, str]) -> str:
    """`processes` (the default, what CI runs) or `containers`; anything else is a mistake."""
    chosen = env.get(BACKEND_ENV, "").strip() or "processes"
    if chosen not in BACKENDS:
        raise ValueError(f"{BACKEND_ENV}={chosen!r}: expected one of {', '.join(BACKENDS)}")
    return chosen


@contextmanager
def stack_servers(config: StackConfig, env: Mapping[str, str]) -> Iterator[StackConfig]:
    """The config the test stack runs with: as it is (servers as local processes), or pointed
    at containers. Unavailable when containers are asked for and no engine answers."""
    if backend(env) == "processes":
        yield config
        return
    problem = docker_problem()
    if problem:
        raise Unavailable(f"{BACKEND_ENV}=containers: {problem}")
    with container_servers(config) as servers:
        yield servers
