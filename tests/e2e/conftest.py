"""Fixtures shared by the e2e suites (the stack itself is in tests/conftest.py)."""

from collections.abc import AsyncIterator
from typing import Any

import pytest

from q2c_localstack import kafka_security
from q2c_localstack.config import StackConfig
from q2c_localstack.probe import TopicProbe, stack_watch
from q2c_messaging.acls import PARTY_PRINCIPALS
from q2c_messaging.catalog import load_catalog
from q2c_messaging.security import KafkaCredentials

from .quote_clients import QUOTE_TOPICS, QuoteClients


@pytest.fixture
async def probe_factory(running_stack: StackConfig) -> AsyncIterator[Any]:
    """The e2e suites' black-box probes (docs/security.md): they watch as the `operator` (every
    topic, nothing written but the external inputs), send a Sales change as `sales-connector`
    and an SCM command as `scm-client`, the outside parties' own principals, so the ACLs are
    what every suite runs under. A message on another topic is a test impersonating a
    service (an ownership decision, an order event): that goes as the broker principal."""
    catalog = load_catalog(running_stack.topic_catalog)

    def publish_as(topic: str) -> KafkaCredentials | None:
        spec = catalog.topics.get(topic)
        parties = [PARTY_PRINCIPALS[w] for w in sorted(spec.writers) if w in PARTY_PRINCIPALS] if spec else []
        return kafka_security.credentials(running_stack, parties[0] if parties else kafka_security.BROKER)

    opened: list[TopicProbe] = []

    async def open_probe(*topics: str, from_beginning: bool = False) -> TopicProbe:
        probe = TopicProbe(running_stack.kafka_bootstrap, list(topics), from_beginning=from_beginning,
                           watch=stack_watch(running_stack),
                           credentials=kafka_security.credentials(running_stack, "operator"), publish_as=publish_as)
        await probe.__aenter__()
        opened.append(probe)
        # one topic of each principal: its producer logged in before the test races the services
        await probe.open_publishers("dataverse.quote.changes", "scm.quote.commands", "quote.sales-commands")
        return probe

    yield open_probe
    for probe in opened:
        await probe.__aexit__(None, None, None)


@pytest.fixture
async def stopped_processor(probe_factory: Any) -> AsyncIterator[None]:
    """UseMessageProcessor on and the processor's batch job not running, for one test; the
    defaults are restored afterwards, so later tests see the stack as it was."""
    admin = QuoteClients(await probe_factory(*QUOTE_TOPICS))
    await admin.set_feature("UseMessageProcessor", True)
    await admin.set_parameter("MessageProcessorRunning", False)
    yield
    await admin.set_parameter("MessageProcessorRunning", True)
    await admin.set_feature("UseMessageProcessor", False)
