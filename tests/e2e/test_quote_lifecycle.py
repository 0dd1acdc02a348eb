"""The quote and ownership services through the running stack (issue 3): SCM users on
`scm.quote.commands`, Sales changes on the internal entry point `quote.sales-commands`,
observed only on the topics. Codes and texts are those of DOMAIN.md §5."""

import asyncio

import pytest

from .quote_clients import PRIVILEGE, QuoteClients, line

OWNED_BY_SALES = ("quote.owned-by-sales", "This quotation is owned by Dynamics 365 Sales")
READ_ONLY = ("quote.read-only", "This quotation is read-only in its current status")
NOT_OWNED_BY_SALES = ("quote.not-owned-by-sales", "This quote is not owned by Dynamics 365 Sales")
READ_ONLY_NOT_OWNED = ("quote.read-only-not-owned-by-sales",
                       "Read-only This record's status: Active\nThis quote is not owned by Dynamics 365 Sales")
NOT_ACTIVE = ("quote.not-active", "Only an active quote can be closed or turned into an order")
NOT_DRAFT = ("quote.not-draft", "Only a draft quote can be activated, edited or deleted")
COLLISION = ("number.collision", "A document with this number already exists")


@pytest.fixture
async def clients(probe_factory) -> QuoteClients:
    from .quote_clients import QUOTE_TOPICS

    return QuoteClients(await probe_factory(*QUOTE_TOPICS))


def refused(result: dict, code_and_text: tuple[str, str]) -> None:
    assert result["outcome"] == "rejected", result
    assert (result["code"], result["text"]) == code_and_text


async def test_an_scm_quotation_goes_through_its_whole_lifecycle(clients: QuoteClients) -> None:
    created = await clients.scm("quote.create", None, {"customer_account": "US-001", "currency": "USD",
                                                       "name": "Office PCs"})
    assert created["outcome"] == "accepted"
    number = created["target"]
    assert number.startswith("F-") and len(number) == len("F-000001")
    for n in (1, 2):
        assert (await clients.scm("quote.add-line", number, line(n)))["outcome"] == "accepted"
    assert (await clients.scm("quote.update-line", number, {"sequence_number": 2, "quantity": "5"}))["outcome"] \
        == "accepted"
    assert (await clients.scm("quote.delete-line", number, {"sequence_number": 1}))["outcome"] == "accepted"
    assert (await clients.scm("quote.update", number, {"name": "Office PCs 2027"}))["outcome"] == "accepted"
    assert (await clients.scm("quote.send", number))["outcome"] == "accepted"
    assert (await clients.scm("quote.confirm", number))["outcome"] == "accepted"

    final = await clients.last_state(number, version=8)
    quotation = final["quotation"]
    assert final["type"] == "quote.confirmed"
    assert quotation["SALESQUOTATIONSTATUS"] == "confirmed"
    assert quotation["SALESQUOTATIONHEADERCREATIONMETHOD"] == "SCM"
    assert quotation["SALESQUOTATIONOWNERSHIP"] == "BasedOnOrigin"
    assert quotation["SALESQUOTATIONNAME"] == "Office PCs 2027"
    assert quotation["REQUESTINGCUSTOMERACCOUNTNUMBER"] == "US-001"
    assert quotation["CURRENCYCODE"] == "USD"
    [only] = quotation["lines"]
    assert only["LINECREATIONSEQUENCENUMBER"] == 2
    assert only["REQUESTEDSALESQUANTITY"] == "5"
    assert only["SALESPRICE"] == "500.00"
    assert only["LINEDISCOUNTAMOUNT"] == "3.33"
    assert only["LINEAMOUNT"] == "2483.35"
    assert only["SALESQUOTATIONSTATUS"] == "confirmed"
    assert [j["type"] for j in quotation["journals"]] == ["quotation", "confirmation"]
    assert all(j["journal_number"] for j in quotation["journals"])
    # one event per change, version +1 each, the first `quote.created`
    versions = [e.value["version"] for e in clients.events(number)]
    assert versions == list(range(1, 9))
    assert clients.events(number)[0].value["type"] == "quote.created"
    # closed: read-only, and no further lifecycle step
    refused(await clients.scm("quote.update", number, {"name": "late"}), READ_ONLY)
    refused(await clients.scm("quote.add-line", number, line(3)), READ_ONLY)
    refused(await clients.scm("quote.lose", number),
            ("quote.invalid-transition", "The quotation cannot be lost from status confirmed"))


@pytest.mark.parametrize(("steps", "action", "status", "expected"), [
    ((), "quote.lose", "created", "The quotation cannot be lost from status created"),
    ((), "quote.cancel", "created", "The quotation cannot be cancelled from status created"),
    (("quote.send",), "quote.send", "sent", "The quotation cannot be sent from status sent"),
    (("quote.send",), "quote.delete", "sent", "The quotation cannot be deleted from status sent"),
    (("quote.send", "quote.lose"), "quote.confirm", "lost", "The quotation cannot be confirmed from status lost"),
])
async def test_native_scm_transitions_are_enforced(clients: QuoteClients, steps, action, status, expected) -> None:
    number = await clients.create_scm_quote()
    for step in steps:
        assert (await clients.scm(step, number))["outcome"] == "accepted"
    refused(await clients.scm(action, number), ("quote.invalid-transition", expected))


@pytest.mark.parametrize(("action", "status"), [("quote.lose", "lost"), ("quote.cancel", "cancelled")])
async def test_a_sent_scm_quotation_can_be_lost_or_cancelled(clients: QuoteClients, action, status) -> None:
    number = await clients.create_scm_quote()
    await clients.scm("quote.send", number)
    assert (await clients.scm(action, number, {"reason": "price"}))["outcome"] == "accepted"
    state = await clients.last_state(number, version=4)
    assert state["quotation"]["SALESQUOTATIONSTATUS"] == status


async def test_deleting_a_created_quotation_ends_with_quote_deleted(clients: QuoteClients) -> None:
    number = await clients.create_scm_quote()
    assert (await clients.scm("quote.delete", number))["outcome"] == "accepted"
    final = await clients.last_state(number, version=3)
    assert final["type"] == "quote.deleted"
    refused(await clients.scm("quote.send", number), ("quote.not-found", f"Quotation {number} does not exist"))


async def test_numbers_collide_and_unknown_quotations_are_not_found(clients: QuoteClients) -> None:
    number = await clients.create_scm_quote()
    refused(await clients.scm("quote.create", None, {"customer_account": "US-001", "currency": "USD",
                                                     "quotation_number": number}), COLLISION)
    refused(await clients.scm("quote.send", "F-999999"), ("quote.not-found", "Quotation F-999999 does not exist"))
    refused(await clients.scm("quote.update", "F-999999", {"name": "x"}),
            ("quote.not-found", "Quotation F-999999 does not exist"))
    refused(await clients.scm("quote.send", None), ("command.invalid", "target is required: the quotation number"))


@pytest.mark.parametrize(("type_", "data", "fragment"), [
    ("quote.create", {"currency": "USD"}, "customer_account"),
    ("quote.add-line", {"sequence_number": 9, "product_number": "PC-9", "quantity": 2.5, "unit_price": "1"},
     "quantity"),
    ("quote.add-line", {"sequence_number": 0, "product_number": "PC-9", "quantity": "1", "unit_price": "1"},
     "sequence_number"),
    ("quote.update-line", {"sequence_number": 42, "quantity": "1"}, "line 42"),
    ("quote.frobnicate", {}, "quote.frobnicate"),
    ("quote.revise", {}, "quote.revise"),  # not an SCM command in contract v1
])
async def test_invalid_commands_are_rejected_with_command_invalid(clients, type_, data, fragment) -> None:
    number = await clients.create_scm_quote()
    result = await clients.scm(type_, None if type_ == "quote.create" else number, data)
    assert (result["outcome"], result["code"]) == ("rejected", "command.invalid")
    assert fragment in result["text"]


async def test_lines_get_the_default_site_and_warehouse(clients: QuoteClients) -> None:
    number = await clients.create_scm_quote(lines=0)
    data = {k: v for k, v in line(1).items() if k not in ("site", "warehouse")}
    assert (await clients.scm("quote.add-line", number, data))["outcome"] == "accepted"
    [added] = (await clients.last_state(number, version=2))["quotation"]["lines"]
    assert (added["SHIPPINGSITEID"], added["SHIPPINGWAREHOUSEID"]) == ("1", "11")


async def test_changing_ownership_needs_the_privilege_and_is_applied(clients: QuoteClients) -> None:
    number = await clients.create_scm_quote()
    refused(await clients.scm("quote.change-ownership", number, {"ownership": "Dynamics365Sales"}),
            ("ownership.missing-privilege", "You need the privilege ChangeDefaultedSalesQuotationOwnership"))
    result = await clients.scm("quote.change-ownership", number, {"ownership": "Dynamics365Sales"}, (PRIVILEGE,))
    assert result["outcome"] == "accepted"
    state = await clients.last_state(number, version=3)
    assert state["type"] == "quote.ownership-changed"
    assert state["quotation"]["SALESQUOTATIONOWNERSHIP"] == "Dynamics365Sales"
    # now Sales owns it: SCM may still edit while created, but not run its lifecycle
    refused(await clients.scm("quote.send", number), OWNED_BY_SALES)
    assert (await clients.scm("quote.update", number, {"name": "edited in SCM"}))["outcome"] == "accepted"
    # and Sales may activate it
    assert (await clients.sales("quote.send", number))["outcome"] == "accepted"


async def test_a_sales_quotation_is_run_from_sales_and_refused_to_scm(clients: QuoteClients) -> None:
    number = await clients.create_sales_quote()
    created = await clients.last_state(number, version=2)
    assert created["quotation"]["SALESQUOTATIONHEADERCREATIONMETHOD"] == "Dynamics365Sales"
    assert created["quotation"]["SALESQUOTATIONOWNERSHIP"] == "BasedOnOrigin"
    # SCM, not the owner: may edit while created, no lifecycle step
    for action in ("quote.send", "quote.confirm", "quote.lose", "quote.cancel", "quote.delete"):
        refused(await clients.scm(action, number), OWNED_BY_SALES)
    assert (await clients.scm("quote.update-line", number, {"sequence_number": 1, "quantity": "4"}))["outcome"] \
        == "accepted"
    # Sales: close before activating is refused with the quote put back (snapshot in the answer)
    lose = await clients.sales("quote.lose", number)
    refused(lose, NOT_ACTIVE)
    assert lose["refused_message_id"] == lose["command_id"]
    assert lose["quotation"]["SALESQUOTATIONSTATUS"] == "created"
    # activate: sent, with its quotation journal
    assert (await clients.sales("quote.send", number))["outcome"] == "accepted"
    sent = await clients.last_state(number, version=4)
    assert sent["quotation"]["SALESQUOTATIONSTATUS"] == "sent"
    assert [j["type"] for j in sent["quotation"]["journals"]] == ["quotation"]
    # sent: read-only for both (an SCM data edit answers quote.read-only whoever owns it, DOMAIN §2),
    # no second activation, no delete
    refused(await clients.scm("quote.update", number, {"name": "x"}), READ_ONLY)
    refused(await clients.sales("quote.update", number, {"name": "x"}), NOT_DRAFT)
    refused(await clients.sales("quote.send", number), NOT_DRAFT)
    refused(await clients.sales("quote.delete", number), NOT_DRAFT)
    # win
    assert (await clients.sales("quote.confirm", number, {"sales_order_number": "C-SO-1"}))["outcome"] == "accepted"
    won = await clients.last_state(number, version=5)
    assert won["quotation"]["SALESQUOTATIONSTATUS"] == "confirmed"
    assert won["quotation"]["GENERATEDSALESORDERNUMBER"] == "C-SO-1"
    assert [j["type"] for j in won["quotation"]["journals"]] == ["quotation", "confirmation"]


async def test_sales_changes_to_an_scm_quotation_are_refused(clients: QuoteClients) -> None:
    number = await clients.create_scm_quote()
    result = await clients.sales("quote.send", number)
    refused(result, NOT_OWNED_BY_SALES)
    assert result["quotation"]["SALESQUOTATIONNUMBER"] == number
    # the non-owner may edit lines while Draft
    assert (await clients.sales("quote.add-line", number, line(2)))["outcome"] == "accepted"
    await clients.scm("quote.send", number)
    for action in ("quote.lose", "quote.cancel", "quote.revise", "quote.confirm"):
        refused(await clients.sales(action, number), READ_ONLY_NOT_OWNED)
    refused(await clients.sales("quote.update", number, {"name": "x"}), READ_ONLY_NOT_OWNED)


@pytest.mark.parametrize(("action", "status"), [("quote.lose", "lost"), ("quote.cancel", "cancelled"),
                                                ("quote.revise", "revised")])
async def test_sales_closes_an_active_quote(clients: QuoteClients, action, status) -> None:
    number = await clients.create_sales_quote()
    await clients.sales("quote.send", number)
    assert (await clients.sales(action, number))["outcome"] == "accepted"
    closed = await clients.last_state(number, version=4)
    assert closed["quotation"]["SALESQUOTATIONSTATUS"] == status
    refused(await clients.scm("quote.update", number, {"name": "x"}), READ_ONLY)


async def test_a_sales_create_with_an_existing_number_collides(clients: QuoteClients) -> None:
    number = await clients.create_sales_quote(lines=0)
    result = await clients.sales("quote.create", number, {"customer_account": "US-002", "currency": "EUR"})
    refused(result, COLLISION)
    # the answer carries the quotation that has the number
    assert result["quotation"]["SALESQUOTATIONNUMBER"] == number
    assert result["quotation"]["CURRENCYCODE"] == "USD"


async def test_a_command_delivered_again_changes_nothing(clients: QuoteClients) -> None:
    number = await clients.create_scm_quote()
    command = clients.scm_command("quote.send", number)
    for _ in range(4):
        await clients.publish_scm(command)
    assert (await clients.result(command))["outcome"] == "accepted"
    await clients.last_state(number, version=3)
    # Sentinel: a later send of the same quotation (read after the copies, same key) whose
    # result lands on the partition of the copies' results, after any second one of them.
    sentinel = clients.scm_command("quote.send", number)
    sentinel["command_id"] = clients.probe.key_like("scm.command.results", command["command_id"])
    await clients.publish_scm(sentinel)
    assert (await clients.result(sentinel))["code"] == "quote.invalid-transition"
    assert len(clients.probe.matching("scm.command.results", lambda r: r.key == command["command_id"])) == 1
    assert [e.value["version"] for e in clients.events(number)] == [1, 2, 3]


async def test_two_lifecycle_commands_at_once_one_wins_the_other_is_decided_again(clients: QuoteClients) -> None:
    number = await clients.create_scm_quote()
    first, second = clients.scm_command("quote.send", number), clients.scm_command("quote.send", number)
    await asyncio.gather(clients.publish_scm(first), clients.publish_scm(second))
    results = [await clients.result(first), await clients.result(second)]
    outcomes = sorted(r["outcome"] for r in results)
    assert outcomes == ["accepted", "rejected"]
    [loser] = [r for r in results if r["outcome"] == "rejected"]
    # decided again on the new version, where the quotation is already sent
    assert (loser["code"], loser["text"]) == ("quote.invalid-transition",
                                              "The quotation cannot be sent from status sent")
    await clients.probe.quiescent()
    assert [e.value["version"] for e in clients.events(number)] == [1, 2, 3]
    assert len((await clients.last_state(number))["quotation"]["journals"]) == 1
