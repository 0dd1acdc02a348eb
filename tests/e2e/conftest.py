"""Fixtures shared by the e2e suites (the stack itself is in tests/conftest.py)."""

from collections.abc import AsyncIterator
from typing import Any

import pytest

from .quote_clients import QUOTE_TOPICS, QuoteClients


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
