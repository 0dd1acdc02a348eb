"""SASL/SCRAM and the catalog's ACLs on the real broker (docs/security.md): a principal may
write and read only what the catalog grants it, and a wrong password gets nobody in."""

import stat
from uuid import uuid4

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaConnectionError, TopicAuthorizationFailedError

from q2c_localstack import kafka_security
from q2c_localstack.config import StackConfig
from q2c_localstack.probe import TopicProbe
from q2c_messaging.security import KafkaCredentials, security_kwargs

TOPIC_AUTHORIZATION_FAILED = 29


@pytest.fixture(scope="module")
def secured(running_stack: StackConfig) -> StackConfig:
    if running_stack.external_kafka:
        pytest.skip("an external broker's users and ACLs are its owner's")
    return running_stack


def login(config: StackConfig, principal: str) -> KafkaCredentials:
    creds = kafka_security.credentials(config, principal)
    assert creds is not None
    return creds


async def write(config: StackConfig, principal: str, topic: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=config.kafka_bootstrap, enable_idempotence=True, acks="all",
                                **security_kwargs(login(config, principal)))
    await producer.start()
    try:
        await producer.send_and_wait(topic, b'{"probe": "acl"}', key=f"acl-{uuid4().hex[:6]}".encode())
    finally:
        await producer.stop()


async def topic_error(config: StackConfig, principal: str, topic: str) -> int:
    """The metadata error the broker answers `principal` with for `topic`: 0, or 29 when it
    may not even see the topic (no Read or Write on it, so no Describe)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=config.kafka_bootstrap, **security_kwargs(login(config, principal)))
    await admin.start()
    try:
        [description] = await admin.describe_topics([topic])
        return int(description["error_code"])
    finally:
        await admin.close()


@pytest.mark.parametrize(("principal", "topic"), [
    ("order", "scm.quote.events"),  # another service's topic
    ("dual-write-adapter", "scm.order.events"),
    ("quote", "dataverse.quote.writes"),
    ("sales-connector", "scm.quote.events"),  # an outside party on an SCM event topic
    ("scm-client", "scm.quote.events"),
    ("sales-connector", "scm.quote.commands"),  # the other party's input
    ("scm-client", "dataverse.quote.changes"),
    ("operator", "scm.quote.events"),  # reads everything, writes only external inputs
])
async def test_a_principal_cannot_write_a_topic_the_catalog_does_not_give_it(
        secured: StackConfig, principal: str, topic: str) -> None:
    with pytest.raises(TopicAuthorizationFailedError):
        await write(secured, principal, topic)


@pytest.mark.parametrize(("principal", "topic"), [
    ("sales-connector", "dataverse.quote.changes"),
    ("scm-client", "scm.quote.commands"),
    ("operator", "dataverse.quotedetail.changes"),
    ("dual-write-adapter", "dataverse.quote.changes.dlq"),
])
async def test_a_principal_writes_what_the_catalog_gives_it(secured: StackConfig, principal: str,
                                                             topic: str) -> None:
    probe = await TopicProbe(secured.kafka_bootstrap, [topic], credentials=login(secured, "operator")).__aenter__()
    try:
        await write(secured, principal, topic)
        [record] = await probe.wait_for(topic, lambda r: r.value == {"probe": "acl"})
        assert record.topic == topic
    finally:
        await probe.__aexit__(None, None, None)


@pytest.mark.parametrize(("principal", "topic", "visible"), [
    ("sales-connector", "dataverse.quote.writes", True),
    ("sales-connector", "dataverse.notifications", True),
    ("sales-connector", "scm.quote.events", False),
    ("sales-connector", "quote.sales-commands", False),
    ("scm-client", "scm.command.results", True),
    ("scm-client", "scm.quote.events", True),
    ("scm-client", "dataverse.quote.writes", False),
    ("invoice", "scm.quote.events", False),
    ("operator", "ownership.decisions", True),
    ("operator", "dataverse.quote.changes.dlq", True),
])
async def test_a_principal_sees_only_the_topics_it_reads_or_writes(secured: StackConfig, principal: str, topic: str,
                                                                   visible: bool) -> None:
    assert await topic_error(secured, principal, topic) == (0 if visible else TOPIC_AUTHORIZATION_FAILED)


async def test_the_operator_reads_a_dead_letter_queue(secured: StackConfig) -> None:
    topic = "dataverse.quote.changes.dlq"
    await write(secured, "dual-write-adapter", topic)  # the topic's reader dead-letters
    async with TopicProbe(secured.kafka_bootstrap, [topic], from_beginning=True,
                          credentials=login(secured, "operator")) as probe:
        # the DLQ holds other tests' poison too (not JSON, say): compare the raw value
        [record, *_] = await probe.wait_for(topic, lambda r: r.raw == b'{"probe": "acl"}')
    assert record.topic == topic


async def test_a_wrong_password_is_refused(secured: StackConfig) -> None:
    wrong = KafkaCredentials("sales-connector", "not-the-password")
    admin = AIOKafkaAdminClient(bootstrap_servers=secured.kafka_bootstrap, **security_kwargs(wrong))
    try:
        with pytest.raises(KafkaConnectionError):
            await admin.start()
    finally:
        await admin.close()


async def test_no_login_is_refused(secured: StackConfig) -> None:
    """The listener speaks SASL only: a PLAINTEXT client is not let in as ANONYMOUS."""
    admin = AIOKafkaAdminClient(bootstrap_servers=secured.kafka_bootstrap, request_timeout_ms=3000,
                                **security_kwargs(None, from_env=False))
    try:
        with pytest.raises(KafkaConnectionError):
            await admin.start()
    finally:
        await admin.close()


def test_every_principal_has_a_private_credentials_file(secured: StackConfig) -> None:
    folder = kafka_security.credentials_dir(secured)
    for principal in kafka_security.client_principals(secured):
        path = folder / f"{principal}.env"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert KafkaCredentials.from_file(path) == login(secured, principal)
    assert not (folder / f"{kafka_security.BROKER}.env").exists()  # the super user's stays the stack's
