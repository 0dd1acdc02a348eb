"""Each service's role opens its own database and no other (ARCHITECTURE.md: no service
reads another's tables). Provisioned by the same code as `make up`."""

import dataclasses

import asyncpg
import pytest

from q2c_localstack import postgres
from q2c_localstack.config import ServiceSpec, StackConfig


async def test_a_service_role_is_refused_by_another_service_database(running_stack: StackConfig) -> None:
    # Given the stack's services plus a second one, provisioned like `make up` does
    other = ServiceSpec(name="isolation-probe", module="-", database="q2c_isolation_probe")
    config = dataclasses.replace(running_stack, services=[*running_stack.services, other])
    await postgres.provision_async(config)
    feature_state = next(s for s in running_stack.services if s.name == "feature-state")
    own_dsn = postgres.service_dsn(config, feature_state)
    other_dsn = postgres.service_dsn(config, other)

    # Then each role opens its own database...
    for dsn in (own_dsn, other_dsn):
        conn = await asyncpg.connect(dsn)
        assert await conn.fetchval("SELECT current_user") == conn._params.user  # noqa: SLF001
        await conn.close()

    # ...and is refused by the other's, whatever it tries
    crossings = [
        own_dsn.rsplit("/", 1)[0] + f"/{other.database}",
        other_dsn.rsplit("/", 1)[0] + f"/{feature_state.database}",
    ]
    for dsn in crossings:
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied for database"):
            await asyncpg.connect(dsn)


@pytest.mark.parametrize("database", postgres.MAINTENANCE_DATABASES)
async def test_a_service_role_is_refused_by_the_maintenance_databases(running_stack: StackConfig,
                                                                      database: str) -> None:
    for service in running_stack.services:
        dsn = postgres.service_dsn(running_stack, service).rsplit("/", 1)[0] + f"/{database}"
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied for database"):
            await asyncpg.connect(dsn)
    # the admin still can (provisioning, scratch databases)
    conn = await asyncpg.connect(postgres.admin_dsn(running_stack, database))
    assert await conn.fetchval("SELECT current_database()") == database
    await conn.close()


async def test_a_wrong_password_is_refused(running_stack: StackConfig) -> None:
    feature_state = running_stack.services[0]
    dsn = postgres.service_dsn(running_stack, feature_state)
    user_part, host_part = dsn.split("@", 1)
    wrong = user_part.rsplit(":", 1)[0] + ":not-the-password@" + host_part
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(wrong)
