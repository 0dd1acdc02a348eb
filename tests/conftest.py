"""The real stack for integration and end-to-end tests: a Kafka broker, a PostgreSQL server
and every service, on their own ports with state in .q2c/test, so a stack started by
`make up` is never disturbed. Started once per session, fresh, and stopped at the end.
Q2C_KAFKA_BOOTSTRAP / Q2C_DATABASE_URL point the tests at external servers instead;
Q2C_TEST_STACK=containers runs Kafka and PostgreSQL in containers (q2c_localstack.containers)."""

import logging
import os
import shutil
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import ExitStack, contextmanager
from uuid import uuid4

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from q2c_localstack import containers, kafka_security, postgres, stack
from q2c_localstack.config import REPO_ROOT, StackConfig
from q2c_localstack.probe import TopicProbe, stack_watch
from q2c_messaging.security import security_kwargs

TEST_HOME = REPO_ROOT / ".q2c" / "test"
# Two test runs on one machine (two clones, say) keep apart by shifting every port. Every
# port stays below Linux's ephemeral range (32768 and up), where an outgoing connection of
# any process may hold it just when a server wants to bind it.
PORT_OFFSET = int(os.environ.get("Q2C_TEST_PORT_OFFSET", "0"))
# The services' HTTP ports: 28100 + offset while that stays below 32768, else 14100 + offset.
HTTP_BASE_PORT = 28100 + PORT_OFFSET if 28100 + PORT_OFFSET + 100 < 32768 else 14100 + PORT_OFFSET


@pytest.fixture(scope="session")
def stack_config() -> StackConfig:
    return StackConfig.from_env(home=TEST_HOME, kafka_port=19092 + PORT_OFFSET,
                                controller_port=19093 + PORT_OFFSET, pg_port=25433 + PORT_OFFSET,
                                http_base_port=HTTP_BASE_PORT)


@pytest.fixture(scope="session")
def running_stack(stack_config: StackConfig) -> Iterator[StackConfig]:
    """Q2C_TEST_STACK picks where Kafka and PostgreSQL run: `processes` (default, CI) or
    `containers` (testcontainers; skipped with the reason when no Docker engine answers).
    The services are local processes either way (docs/operations.md)."""
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    warnings.filterwarnings("ignore", module="platformdirs")
    stack.down(stack_config, say=lambda _: None)  # leftovers of an interrupted run
    shutil.rmtree(stack_config.home, ignore_errors=True)
    with ExitStack() as servers:
        try:
            config = servers.enter_context(containers.stack_servers(stack_config, os.environ))
        except containers.Unavailable as exc:
            pytest.skip(str(exc))
        try:
            stack.up(config)
        except BaseException:
            stack.down(config, say=lambda _: None)  # a failed start leaves nothing running
            raise
        # The test process itself is harness and cluster admin (scratch topics, impersonating a
        # service, rewinding a group): it logs in as the broker principal, every Kafka client of
        # ours picks that up from the environment. The services log in as themselves; the
        # security tests and the black-box clients name the outside parties' principals.
        with harness_login(config):
            yield config
        stack.down(config)


@contextmanager
def harness_login(config: StackConfig) -> Iterator[None]:
    """The test process logs in as the broker principal while the block runs (every Kafka
    client of ours reads the login from the environment), and the environment is put back."""
    admin = kafka_security.admin_credentials(config)
    saved = {k: os.environ.get(k) for k in (admin.env() if admin else {})}
    if admin and not config.external_kafka:
        os.environ.update(admin.env())
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def stack_command_env(config: StackConfig) -> dict[str, str]:
    """The environment in which `python -m q2c_localstack …` finds this stack."""
    return {**os.environ, "Q2C_HOME": str(config.home), "Q2C_PG_PORT": str(config.pg_port),
            "Q2C_KAFKA_PORT": str(config.kafka_port), "Q2C_HTTP_BASE_PORT": str(config.http_base_port),
            "Q2C_KAFKA_CONTROLLER_PORT": str(config.controller_port),
            "Q2C_KAFKA_BROKERS": str(config.kafka_brokers)}


@pytest.fixture(scope="session")
def bootstrap(running_stack: StackConfig) -> str:
    return running_stack.kafka_bootstrap


@pytest.fixture
async def scratch_db(running_stack: StackConfig) -> AsyncIterator[str]:
    """A throwaway database (admin-owned) for testing one mechanism; its DSN."""
    name = f"q2c_it_{uuid4().hex[:10]}"
    admin = await asyncpg.connect(postgres.admin_dsn(running_stack))
    await admin.execute(f'CREATE DATABASE "{name}"')
    yield postgres.admin_dsn(running_stack, name)
    await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    await admin.close()


@pytest.fixture
async def scratch_pool(scratch_db: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on the scratch database with the messaging tables (inbox, outbox) in place."""
    from q2c_messaging.runtime import MESSAGING_MIGRATIONS
    from q2c_persistence import apply_migrations, create_pool, load_migrations

    pool = await create_pool(scratch_db)
    await apply_migrations(pool, load_migrations("messaging", MESSAGING_MIGRATIONS))
    yield pool
    await pool.close()


async def create_topic(bootstrap: str, partitions: int = 3, name: str | None = None) -> str:
    """A fresh topic for one test (broker auto-creation is off)."""
    name = name or f"it.{uuid4().hex[:12]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **security_kwargs())
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        await admin.close()
    return name


@pytest.fixture
async def probe_factory(running_stack: StackConfig) -> AsyncIterator[Callable[..., Awaitable[TopicProbe]]]:
    """Open TopicProbes that are closed after the test; their `quiescent()` watches the stack."""
    opened: list[TopicProbe] = []
    watch = stack_watch(running_stack)

    async def open_probe(*topics: str, from_beginning: bool = False) -> TopicProbe:
        probe = TopicProbe(running_stack.kafka_bootstrap, list(topics), from_beginning=from_beginning, watch=watch)
        await probe.__aenter__()
        opened.append(probe)
        return probe

    yield open_probe
    for probe in opened:
        await probe.__aexit__(None, None, None)
