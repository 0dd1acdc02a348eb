"""The engine around the maps (issue 4 §5), driven with the dual-write admin CLI as an
administrator would: pause and resume with changes queued in order in both directions, the
error log and its retries, and the initial sync."""


import pytest

from .admin_clients import admin, map_line, wait_error, wait_state
from .quote_clients import QUOTE_TOPICS, QuoteClients
from .sales_clients import DATAVERSE_TOPICS, STATUS, SalesSystem


@pytest.fixture
async def both(probe_factory) -> tuple[SalesSystem, QuoteClients]:
    probe = await probe_factory(*DATAVERSE_TOPICS, *QUOTE_TOPICS)
    return SalesSystem(probe), QuoteClients(probe)


async def test_a_paused_map_queues_sales_changes_and_replays_them_in_order(running_stack, both) -> None:
    sales, scm = both
    number = await sales.create_quote()
    await sales.row_state(number, "created")
    await admin(running_stack, "pause", "quotation-header")
    try:
        for name in ("First", "Second", "Third"):
            await sales.update_quote(number, name=name)
        await scm.probe.quiescent()
        assert [e.value["version"] for e in scm.events(number)] == [1]  # nothing reached SCM
        row = map_line(await admin(running_stack, "maps"), "quotation-header")
        assert row[1] == "Paused" and int(row[2]) >= 3
    finally:
        await admin(running_stack, "resume", "quotation-header")
    await wait_state(running_stack, "quotation-header", "Running")
    events = await scm.probe.wait_for("scm.quote.events", lambda r: r.key == number, count=4)
    # the whole sequence, in order (First → Second → Third, not straight to Third)
    assert [e.value["quotation"]["SALESQUOTATIONNAME"] for e in events][1:] == ["First", "Second", "Third"]


async def test_a_paused_map_queues_scm_changes_for_sales_and_replays_them_in_order(running_stack, both) -> None:
    sales, scm = both
    number = await scm.create_scm_quote()
    await sales.row_state(number, "created")
    await admin(running_stack, "pause", "quotation-header")
    try:
        for name in ("Alpha", "Beta"):
            assert (await scm.scm("quote.update", number, {"name": name}))["outcome"] == "accepted"
        await scm.scm("quote.send", number)
        await scm.probe.quiescent()
        assert [w.value["record"]["name"] for w in sales.writes("quote", number)] == ["Office PCs"]
    finally:
        await admin(running_stack, "resume", "quotation-header")
    await sales.row_state(number, "sent")
    names = [w.value["record"]["name"] for w in sales.writes("quote", number)]
    assert names == ["Office PCs", "Alpha", "Beta", "Beta"]
    assert sales.writes("quote", number)[-1].value["record"]["statecode"] == 1


async def test_a_change_that_cannot_be_mapped_is_logged_and_retried(running_stack, both) -> None:
    sales, scm = both
    number = f"C-late-{id(both) % 100000}"
    # an update of a quote Sales never created here: it cannot be applied yet
    await sales.update_quote(number, name="Before its create")
    error = await wait_error(running_stack, "never created", number)
    error_id = error.split()[0].lstrip("#")
    still = await admin(running_stack, "retry", error_id)
    assert "failed again" in still
    # once the quote exists, the retry succeeds and the change reaches SCM
    await sales.create_quote(number)
    await scm.last_state(number, version=1)
    assert f"#{error_id}: resolved" in await admin(running_stack, "retry", error_id)
    renamed = await scm.probe.wait_for("scm.quote.events", lambda r: r.key == number
                                       and r.value["quotation"]["SALESQUOTATIONNAME"] == "Before its create")
    assert renamed
    assert error_id not in [x.split()[0].lstrip("#") for x in (await admin(running_stack, "errors")).splitlines()]


async def test_initial_sync_writes_every_quotation_and_feature_state(running_stack, both) -> None:
    sales, scm = both
    number = await scm.create_scm_quote()
    await sales.row_state(number, "created")
    before = len(sales.writes("quote", number))
    output = await admin(running_stack, "initial-sync")
    assert "initial sync [" in output and "rows written per map: sales-order-header" in output
    # the reference's dependency order (§4.8), and the five features of DOMAIN.md §3, not the parameters
    assert output.index("sales-order-lines") < output.index("quotation-header") < output.index("sales-invoice")
    assert "feature-states 5" in output
    full = await sales.write("quote", number, lambda w: w["caused_by"] == "initial-sync")
    assert full["record"]["msdyn_salesquotationstatus"] == STATUS["created"]
    assert len(sales.writes("quote", number)) > before
    await sales.write("quotedetail", f"{number}/1", lambda w: w["caused_by"] == "initial-sync")
    feature = await sales.write("msdyn_supplychainfeaturestate", "IntegrateQuotationLifecycle",
                                lambda w: w["caused_by"] == "initial-sync")
    assert feature["record"] == {"msdyn_name": "IntegrateQuotationLifecycle", "statecode": 0}
    await sales.probe.quiescent()
    assert not sales.writes("msdyn_supplychainfeaturestate", "MessageProcessorRunning")
