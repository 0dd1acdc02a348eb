"""Features and parameters that shape quotations (DOMAIN.md §2–§3), through the stack."""

from collections.abc import AsyncIterator

import pytest

from .quote_clients import QUOTE_TOPICS, QuoteClients


@pytest.fixture
async def clients(probe_factory) -> AsyncIterator[QuoteClients]:
    clients = QuoteClients(await probe_factory(*QUOTE_TOPICS))
    yield clients
    # back to the defaults of DOMAIN.md §3 for the tests that follow
    await clients.set_feature("IntegrateQuotationLifecycle", True)
    await clients.set_feature("DefaultQuotationOwnership", True)
    await clients.set_parameter("DefaultOwnership", "BasedOnOrigin")
    await clients.set_parameter("ScmQuotationNumberPrefix", "F-")


async def test_default_ownership_applies_to_new_quotations(clients: QuoteClients) -> None:
    await clients.set_parameter("DefaultOwnership", "Dynamics365Sales")
    number = await clients.create_scm_quote()
    state = await clients.last_state(number, version=2)
    assert state["quotation"]["SALESQUOTATIONHEADERCREATIONMETHOD"] == "SCM"
    assert state["quotation"]["SALESQUOTATIONOWNERSHIP"] == "Dynamics365Sales"
    # Sales owns it now: SCM may not send it
    result = await clients.scm("quote.send", number)
    assert (result["outcome"], result["code"]) == ("rejected", "quote.owned-by-sales")


async def test_without_the_default_ownership_feature_ownership_is_based_on_origin(clients: QuoteClients) -> None:
    await clients.set_parameter("DefaultOwnership", "Dynamics365Sales")
    await clients.set_feature("DefaultQuotationOwnership", False)
    number = await clients.create_scm_quote()
    state = await clients.last_state(number, version=2)
    assert state["quotation"]["SALESQUOTATIONOWNERSHIP"] == "BasedOnOrigin"


async def test_with_the_lifecycle_feature_off_everything_is_scm_origin_and_unrestricted(clients: QuoteClients) -> None:
    await clients.set_feature("IntegrateQuotationLifecycle", False)
    number = await clients.create_sales_quote()
    created = await clients.last_state(number, version=2)
    assert created["quotation"]["SALESQUOTATIONHEADERCREATIONMETHOD"] == "SCM"
    assert created["quotation"]["SALESQUOTATIONOWNERSHIP"] == "BasedOnOrigin"
    # Sales lifecycle changes do not reach SCM status
    refused = await clients.sales("quote.send", number)
    assert (refused["outcome"], refused["code"]) == ("rejected", "quote.lifecycle-not-integrated")
    # SCM runs it natively
    assert (await clients.scm("quote.send", number))["outcome"] == "accepted"
    assert (await clients.last_state(number, version=3))["quotation"]["SALESQUOTATIONSTATUS"] == "sent"


async def test_the_number_prefix_parameter_shapes_new_numbers(clients: QuoteClients) -> None:
    await clients.set_parameter("ScmQuotationNumberPrefix", "QT-")
    result = await clients.scm("quote.create", None, {"customer_account": "US-001", "currency": "USD"})
    assert result["outcome"] == "accepted"
    assert result["target"].startswith("QT-") and len(result["target"]) == len("QT-000001")
