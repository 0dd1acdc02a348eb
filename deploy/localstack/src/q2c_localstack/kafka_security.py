"""SASL/SCRAM-SHA-512 and ACLs on the local KRaft broker (docs/security.md).

- The broker's own principal (`broker`, the only super user) gets its SCRAM credential when
  the storage is formatted (`--add-scram`): KRaft keeps credentials in the metadata log, so
  it must exist before the first start. The controller listener (loopback only) logs in
  with SASL/PLAIN from the broker's JAAS line: SCRAM cannot authenticate controllers (their
  credentials would live in the log they serve), and a PLAINTEXT one would need
  `User:ANONYMOUS` as a super user.
- Every client principal (one per service, `sales-connector`, `scm-client`, `operator`) is
  upserted through the Admin API (AlterUserScramCredentials) on every `up`, so a service
  added to deploy/stack.yaml later gets its login without a reformat.
- ACLs come from q2c_messaging.acls (the topic catalog) and are created with CreateAcls.

aiokafka 0.14's admin client has neither create_acls nor SCRAM user calls, but its protocol
layer speaks both requests; two small request classes here beat a JVM start per ACL with
the Kafka CLI (~2 s each, a few hundred ACLs).

Passwords are derived from one secret per stack home, like the database roles' (postgres.py),
written only to `<home>/credentials/<principal>.env` (mode 0600) and never logged."""

import asyncio
import hashlib
import hmac
import os
import secrets
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from aiokafka.protocol.api import Request, RequestStruct, Response
from aiokafka.protocol.types import (
    Array,
    CompactArray,
    CompactBytes,
    CompactString,
    Int8,
    Int16,
    Int32,
    Schema,
    String,
    TaggedFields,
)

from q2c_messaging.acls import ALLOW, Acl, generate_acls, principals
from q2c_messaging.catalog import load_catalog
from q2c_messaging.security import DEFAULT_MECHANISM, KafkaCredentials, security_kwargs

from .config import StackConfig, StackError

if TYPE_CHECKING:
    from .kafka import KafkaNode

BROKER = "broker"  # the broker's own principal, the one super user
SCRAM_ITERATIONS = 8192
_MECHANISM_CODE = {"SCRAM-SHA-256": 1, "SCRAM-SHA-512": 2}
_HASH = {"SCRAM-SHA-256": "sha256", "SCRAM-SHA-512": "sha512"}


def _secret_path(config: StackConfig) -> Path:
    return config.home / "kafka" / "secret"


def _secret(config: StackConfig) -> str:
    path = _secret_path(config)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_private(path, secrets.token_urlsafe(24))
    return path.read_text().strip()


def password(config: StackConfig, principal: str) -> str:
    """Hex digits only: safe inside a JAAS line and the storage tool's --add-scram value."""
    return hmac.new(_secret(config).encode(), principal.encode(), hashlib.sha256).hexdigest()[:32]


def credentials(config: StackConfig, principal: str) -> KafkaCredentials | None:
    """How `principal` logs in: derived on the local broker; on an external one, what the
    environment says (None = PLAINTEXT), since its users are its owner's business."""
    if config.external_kafka:
        return KafkaCredentials.from_env()
    return KafkaCredentials(principal, password(config, principal), DEFAULT_MECHANISM)


def admin_credentials(config: StackConfig) -> KafkaCredentials | None:
    return credentials(config, BROKER)


def client_principals(config: StackConfig) -> list[str]:
    return principals([s.name for s in config.services])


def credentials_dir(config: StackConfig) -> Path:
    return config.home / "credentials"


def server_properties(config: StackConfig, node: "KafkaNode | None" = None) -> str:
    """`node`: which node of a cluster (its listeners); None = the single node's ports."""
    client_port = node.client_port if node else config.kafka_port
    controller_port = node.controller_port if node else config.controller_port
    broker_password = password(config, BROKER)
    login = f'username="{BROKER}" password="{broker_password}"'
    scram = f"org.apache.kafka.common.security.scram.ScramLoginModule required {login};"
    plain = (f"org.apache.kafka.common.security.plain.PlainLoginModule required {login} "
             f'user_{BROKER}="{broker_password}";')
    return f"""listeners=CLIENT://127.0.0.1:{client_port},CONTROLLER://127.0.0.1:{controller_port}
advertised.listeners=CLIENT://127.0.0.1:{client_port}
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:SASL_PLAINTEXT,CLIENT:SASL_PLAINTEXT
inter.broker.listener.name=CLIENT
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.client.scram-sha-512.sasl.jaas.config={scram}
# The controller listener (loopback) logs the broker in with PLAIN: SCRAM cannot serve controllers.
# In a cluster the voters log in to each other the same way (one `broker` principal).
sasl.mechanism.controller.protocol=PLAIN
listener.name.controller.sasl.enabled.mechanisms=PLAIN
listener.name.controller.plain.sasl.jaas.config={plain}
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:{BROKER}
"""


def format_arguments(config: StackConfig) -> list[str]:
    return ["--add-scram", f"{DEFAULT_MECHANISM}=[name={BROKER},password={password(config, BROKER)}]"]


def check_formatted_with_sasl(config: StackConfig, data_dir: Path) -> None:
    """Storage formatted before SASL has no broker credential: the broker would start but
    nobody could log in. Say so instead."""
    if (data_dir / "meta.properties").exists() and not _secret_path(config).exists():
        raise StackError(f"{data_dir} was formatted without SASL users (before docs/security.md): `make down`, "
                         f"remove {config.home / 'kafka'} (its topics are lost), then start again")


def _write_private(path: Path, text: str) -> None:
    """Mode 0600 from the first byte (no window in which others may read it)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    path.chmod(0o600)  # an older file keeps its mode through O_CREAT


def provision(config: StackConfig) -> str:
    """Users, ACLs and credential files on the local broker (idempotent); a summary line."""
    if config.external_kafka:
        return "Kafka users and ACLs: external broker, left to its owner"
    names = client_principals(config)
    acls = generate_acls(load_catalog(config.topic_catalog), [s.name for s in config.services])
    users = {name: password(config, name) for name in names}
    asyncio.run(_apply(config.kafka_bootstrap, admin_credentials(config), users, acls))
    asyncio.run(_wait_for_login(config, names[-1], config.start_timeout))
    folder = credentials_dir(config)
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    for name in names:
        creds = credentials(config, name)
        assert creds is not None
        _write_private(folder / f"{name}.env", creds.env_file_text())
    return f"Kafka: {len(names)} SCRAM users, {len(acls)} ACLs, credentials in {folder}"


async def _apply(bootstrap: str, admin_creds: KafkaCredentials | None, users: dict[str, str],
                 acls: list[Acl]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=30000,
                                **security_kwargs(admin_creds, from_env=False))
    await admin.start()
    try:
        response = await admin._send_request(UpsertScramUsers(users))  # noqa: SLF001
        failed = [(name, code, message) for name, code, message, _ in response.results if code]
        if failed:
            raise StackError(f"Kafka refused SCRAM users: {failed}")
        response = await admin._send_request(CreateAcls(acls))  # noqa: SLF001
        failed = [(acl, code, message) for acl, (code, message) in zip(acls, response.creation_responses,
                                                                        strict=True) if code]
        if failed:
            raise StackError(f"Kafka refused ACLs: {failed[:5]}")
    finally:
        await admin.close()


async def _wait_for_login(config: StackConfig, principal: str, timeout: float) -> None:
    """The controller has committed the users when the upsert returns; the broker applies
    them from the metadata log a moment later. Services start only once a login works (all
    users went in one request, so one principal stands for all)."""
    deadline = time.monotonic() + timeout
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=config.kafka_bootstrap, request_timeout_ms=5000,
                                    **security_kwargs(credentials(config, principal), from_env=False))
        try:
            await admin.start()
            return
        except KafkaError as exc:
            if time.monotonic() > deadline:
                raise StackError(f"Kafka does not accept {principal}'s login: {exc!r}") from exc
            await asyncio.sleep(0.2)
        finally:
            await admin.close()


# --- the two requests aiokafka's admin client lacks (Kafka protocol, API keys 51 and 30) ---


class _UpsertScramResponse_v0(Response):
    API_KEY = 51
    API_VERSION = 0
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        ("results", CompactArray(("user_name", CompactString("utf-8")), ("error_code", Int16),
                                 ("error_message", CompactString("utf-8")), ("tags", TaggedFields))),
        ("tags", TaggedFields),
    )


class _UpsertScramRequest_v0(RequestStruct):
    FLEXIBLE_VERSION = True
    API_KEY = 51
    API_VERSION = 0
    RESPONSE_TYPE = _UpsertScramResponse_v0
    SCHEMA = Schema(
        ("deletions", CompactArray(("name", CompactString("utf-8")), ("mechanism", Int8), ("tags", TaggedFields))),
        ("upsertions", CompactArray(("name", CompactString("utf-8")), ("mechanism", Int8), ("iterations", Int32),
                                    ("salt", CompactBytes), ("salted_password", CompactBytes),
                                    ("tags", TaggedFields))),
        ("tags", TaggedFields),
    )


class UpsertScramUsers(Request[_UpsertScramRequest_v0]):
    """AlterUserScramCredentials with upsertions only. The client salts and hashes
    (RFC 5802 SaltedPassword = PBKDF2(password, salt, iterations)); the password itself
    never crosses the wire."""

    API_KEY = 51

    def __init__(self, users: dict[str, str], mechanism: str = DEFAULT_MECHANISM) -> None:
        self._upsertions = []
        for name, secret in users.items():
            salt = os.urandom(32)
            salted = hashlib.pbkdf2_hmac(_HASH[mechanism], secret.encode(), salt, SCRAM_ITERATIONS)
            self._upsertions.append((name, _MECHANISM_CODE[mechanism], SCRAM_ITERATIONS, salt, salted, {}))

    def build(self, request_struct_class: type[_UpsertScramRequest_v0]) -> _UpsertScramRequest_v0:
        return request_struct_class([], self._upsertions, {})


class _CreateAclsResponse_v1(Response):
    API_KEY = 30
    API_VERSION = 1
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        ("creation_responses", Array(("error_code", Int16), ("error_message", String("utf-8")))),
    )


class _CreateAclsRequest_v1(RequestStruct):
    API_KEY = 30
    API_VERSION = 1
    RESPONSE_TYPE = _CreateAclsResponse_v1
    SCHEMA = Schema(
        ("creations", Array(("resource_type", Int8), ("resource_name", String("utf-8")),
                            ("resource_pattern_type", Int8), ("principal", String("utf-8")),
                            ("host", String("utf-8")), ("operation", Int8), ("permission_type", Int8))),
    )


_CreateAclsStruct: TypeAlias = _CreateAclsRequest_v1


class CreateAcls(Request[_CreateAclsStruct]):
    """Every binding in one request (aiokafka's own CreateAclsRequest carries one). Creating
    a binding that exists is a no-op for Kafka, so this is idempotent."""

    API_KEY = 30

    def __init__(self, acls: list[Acl]) -> None:
        self._creations: list[tuple[Any, ...]] = [
            (int(a.resource), a.name, int(a.pattern), a.kafka_principal, "*", int(a.operation), ALLOW)
            for a in acls
        ]

    def build(self, request_struct_class: type[_CreateAclsStruct]) -> _CreateAclsStruct:
        return request_struct_class(self._creations)
