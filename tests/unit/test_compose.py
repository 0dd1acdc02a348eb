"""docker-compose.yml and the Dockerfile, checked without a Docker engine: the file is valid
Compose (the Compose Specification's JSON schema) and says what the local stack does
(deploy/stack.yaml, q2c_localstack), so the two cannot drift apart."""

import json
import re
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from jsonschema import Draft7Validator

from q2c_localstack import kafka, postgres, services
from q2c_localstack.config import REPO_ROOT, StackConfig, load_services

COMPOSE = REPO_ROOT / "docker-compose.yml"
DOCKERFILE = REPO_ROOT / "Dockerfile"
# Shipped by the npm package dclint (pinned in deploy/compose/package-lock.json, installed by
# `make setup`): the Compose Specification schema, compose-spec/compose-spec's compose_spec.json.
SCHEMA = REPO_ROOT / "deploy" / "compose" / "node_modules" / "dclint" / "schemas" / "compose.schema.json"
# Where the Dockerfile puts the repository inside the image.
APP = "/app"
INFRASTRUCTURE = {"kafka", "postgres", "provision", "kafka-ui"}
STACK_SERVICES = load_services()


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def compose_config(compose: dict[str, Any]) -> StackConfig:
    """The local stack's configuration as the containers see it: the provision service's
    broker and admin DSN, every other setting at its default (the compose file publishes the
    local stack's default ports)."""
    env = compose["services"]["provision"]["environment"]
    return StackConfig(home=Path("/nonexistent"), cache=Path("/nonexistent"),
                       external_kafka=env["Q2C_KAFKA_BOOTSTRAP"], external_pg_admin=env["Q2C_DATABASE_URL"])


def _env(service: dict[str, Any]) -> dict[str, str]:
    return {key: str(value) for key, value in (service.get("environment") or {}).items()}


def test_compose_file_is_valid_compose(compose: dict[str, Any]) -> None:
    if not SCHEMA.exists():
        if shutil.which("npm") is None:
            pytest.skip("npm is not installed, so the Compose Specification schema (npm package dclint) is not")
        pytest.fail(f"{SCHEMA.relative_to(REPO_ROOT)} is missing: run `make setup`")
    schema = json.loads(SCHEMA.read_text())
    assert schema["title"] == "Compose Specification"
    errors = sorted(Draft7Validator(schema).iter_errors(compose), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors)


def test_compose_runs_every_stack_service_and_nothing_unknown(compose: dict[str, Any]) -> None:
    names = set(compose["services"])
    missing = {s.name for s in STACK_SERVICES} - names
    unknown = names - {s.name for s in STACK_SERVICES} - INFRASTRUCTURE
    assert not missing, f"services of deploy/stack.yaml not in docker-compose.yml: {sorted(missing)}"
    assert not unknown, f"docker-compose.yml services unknown to deploy/stack.yaml: {sorted(unknown)}"


@pytest.mark.parametrize("spec", STACK_SERVICES, ids=lambda s: s.name)
def test_service_is_configured_as_the_local_stack_configures_it(
        compose: dict[str, Any], compose_config: StackConfig, spec: Any) -> None:
    service = compose["services"][spec.name]
    expected = services.service_env(compose_config, spec)
    expected["Q2C_TOPIC_CATALOG"] = f"{APP}/{compose_config.topic_catalog.relative_to(REPO_ROOT)}"
    expected["Q2C_HTTP_HOST"] = "0.0.0.0"  # reachable from the host and the healthcheck
    assert service["command"] == ["python", "-m", spec.module]
    assert urlsplit(_env(service)["Q2C_DB_URL"]).path == f"/{spec.database}"
    assert _env(service) == expected, f"{spec.name}: the environment should be\n{yaml.safe_dump(expected)}"
    port = compose_config.http_port(spec)
    assert service["ports"] == [f"127.0.0.1:{port}:{port}"]
    check = service["healthcheck"]["test"]
    # readiness (docs/observability.md): database, Kafka, migrations, consumers and relay
    assert check[0] == "CMD" and f"'http://127.0.0.1:{port}/health/ready'" in " ".join(check)
    assert service["depends_on"] == {"provision": {"condition": "service_completed_successfully"}}
    assert service["build"] == "." and service["image"] == compose["services"]["provision"]["image"]


def test_provision_creates_topics_databases_and_roles_once_both_servers_are_healthy(
        compose: dict[str, Any]) -> None:
    provision, postgres = compose["services"]["provision"], compose["services"]["postgres"]
    assert provision["command"] == ["python", "-m", "q2c_localstack", "provision"]
    assert provision["build"] == "."
    assert provision["depends_on"] == {"kafka": {"condition": "service_healthy"},
                                       "postgres": {"condition": "service_healthy"}}
    env = _env(provision)
    assert env["Q2C_KAFKA_BOOTSTRAP"] == "kafka:9092"
    admin = urlsplit(env["Q2C_DATABASE_URL"])
    assert (admin.hostname, admin.port, admin.username) == ("postgres", 5432, "postgres")
    assert admin.password == str(postgres["environment"]["POSTGRES_PASSWORD"])


def test_kafka_is_the_local_stacks_broker_in_a_container(compose: dict[str, Any]) -> None:
    config = StackConfig(home=Path("/nonexistent"), cache=Path("/nonexistent"))
    service = compose["services"]["kafka"]
    assert service["image"] == f"apache/kafka:{config.kafka_version}"
    env = _env(service)
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"{env['KAFKA_NODE_ID']}@kafka:9093"  # one static voter
    assert "PLAINTEXT://kafka:9092" in env["KAFKA_ADVERTISED_LISTENERS"].split(",")
    assert service["healthcheck"]["test"][0] == "CMD"
    # Every other broker setting of the local stack, the same (auto-creation off among them).
    local = dict(line.split("=", 1) for line in kafka._properties(config, Path("/data")).splitlines()
                 if line and not line.startswith("#"))
    addresses = {"node.id", "process.roles", "controller.quorum.voters", "listeners", "advertised.listeners",
                 "listener.security.protocol.map", "log.dirs"}
    assert local["auto.create.topics.enable"] == "false"
    for key, value in local.items():
        if key not in addresses:
            assert env.get("KAFKA_" + key.upper().replace(".", "_")) == value, key


def test_postgres_and_kafka_ui(compose: dict[str, Any]) -> None:
    postgres, ui = compose["services"]["postgres"], compose["services"]["kafka-ui"]
    assert postgres["image"] == "postgres:18"
    assert "pg_isready" in postgres["healthcheck"]["test"]
    assert re.fullmatch(r"ghcr\.io/kafbat/kafka-ui:v[\d.]+", ui["image"])
    assert _env(ui)["KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS"] == "kafka:9092"


def test_postgres_runs_with_the_local_stacks_server_settings(compose: dict[str, Any]) -> None:
    command = compose["services"]["postgres"]["command"]
    assert command[0] == "postgres" and command[1::2] == ["-c"] * (len(command) // 2)
    assert dict(setting.split("=", 1) for setting in command[2::2]) == postgres.SERVER_SETTINGS


def test_dockerfile_builds_the_locked_environment_as_a_non_root_user() -> None:
    text = DOCKERFILE.read_text()
    make_uv = re.search(r"^UV_VERSION := (\S+)$", (REPO_ROOT / "Makefile").read_text(), re.M)
    assert make_uv and f"ARG UV_VERSION={make_uv.group(1)}\n" in text
    assert re.search(r"^FROM python:3\.11-slim$", text, re.M)
    assert re.search(r"^WORKDIR /app$", text, re.M)
    assert re.search(r"^RUN uv sync --frozen --no-dev .*$", text, re.M)
    user = re.findall(r"^USER (\S+)$", text, re.M)
    assert user and user[-1] not in ("root", "0")
