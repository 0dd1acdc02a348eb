"""Dual-write through the running stack (issue 4): a Sales system that speaks only
CONTRACT.md sees quote-to-cash behave as the seed documents describe
(the seed document: the two scenarios and the four-step example, docs/dualwrite-reference.md §1.2–1.3)."""

from uuid import uuid4

import pytest

from .quote_clients import QUOTE_TOPICS, QuoteClients, line
from .sales_clients import DATAVERSE_TOPICS, ORIGIN, OWNERSHIP, STATUS, SalesSystem


@pytest.fixture
async def both(probe_factory) -> tuple[SalesSystem, QuoteClients]:
    probe = await probe_factory(*DATAVERSE_TOPICS, *QUOTE_TOPICS)
    return SalesSystem(probe), QuoteClients(probe)


def state(record: dict) -> tuple[int, int]:
    return record["statecode"], record["statuscode"]


async def test_scenario_1_created_and_activated_in_sales(both) -> None:
    sales, scm = both
    number = await sales.create_quote()
    await sales.add_line_and_wait(number)
    created = await sales.row_state(number, "created")
    assert state(created) == (0, 1)  # Draft / In progress
    assert created["msdyn_quotationcreationmethod"] == ORIGIN["Dynamics365Sales"]
    assert created["msdyn_quotationownership"] == OWNERSHIP["BasedOnOrigin"]
    scm_created = await scm.last_state(number, version=2)
    assert scm_created["quotation"]["SALESQUOTATIONHEADERCREATIONMETHOD"] == "Dynamics365Sales"
    # SCM may not send it
    refused = await scm.scm("quote.send", number)
    assert (refused["outcome"], refused["code"]) == ("rejected", "quote.owned-by-sales")

    await sales.activate(number)
    active = await sales.row_state(number, "sent")
    assert state(active) == (1, 2)  # Active / In progress
    sent = await scm.last_state(number, version=3)
    assert sent["quotation"]["SALESQUOTATIONSTATUS"] == "sent"
    # the line follows, with the discount split (10.00 over 3 → 3.33 and −0.01)
    [scm_line] = sent["quotation"]["lines"]
    assert (scm_line["LINEDISCOUNTAMOUNT"], scm_line["TOTALCHARGESAMOUNT"]) == ("3.33", "-0.01")
    assert scm_line["LINEAMOUNT"] == "1490.00"


async def test_scenario_2_created_and_sent_in_scm(both) -> None:
    sales, scm = both
    number = await scm.create_scm_quote()
    created = await sales.row_state(number, "created")
    assert state(created) == (0, 1)
    assert created["msdyn_quotationcreationmethod"] == ORIGIN["SCM"]
    line_write = await sales.write("quotedetail", f"{number}/1")
    assert line_write["record"]["manualdiscountamount"] == "9.99"  # 3 × 3.33 per unit, no charge
    # Sales tries to activate an SCM-owned quote: refused, told why, put back
    activation = await sales.activate(number)
    note = await sales.notification(number, activation)
    assert (note["code"], note["text"]) == ("quote.not-owned-by-sales", "This quote is not owned by Dynamics 365 Sales")
    assert note["table"] == "quote" and note["alternate_key"] == {"msdyn_quotenumber": number}
    restored = await sales.write("quote", number, lambda w: w["caused_by"] == activation["message_id"])
    assert state(restored["record"]) == (0, 1)

    assert (await scm.scm("quote.send", number))["outcome"] == "accepted"
    active = await sales.row_state(number, "sent")
    assert state(active) == (1, 2)
    closing = await sales.close(number, 5)
    note = await sales.notification(number, closing)
    assert note["code"] == "quote.read-only-not-owned-by-sales"
    assert note["text"] == "Read-only This record's status: Active\nThis quote is not owned by Dynamics 365 Sales"
    restored = await sales.write("quote", number, lambda w: w["caused_by"] == closing["message_id"])
    assert state(restored["record"]) == (1, 2)


@pytest.mark.parametrize(("reason", "scm_status"), [(5, "lost"), (6, "cancelled")])
async def test_four_step_example_create_activate_revise_close(both, reason: int, scm_status: str) -> None:
    sales, scm = both
    # 1. create
    old = await sales.create_quote()
    await sales.add_line_and_wait(old)
    assert state(await sales.row_state(old, "created")) == (0, 1)
    # 2. activate
    await sales.activate(old)
    assert state(await sales.row_state(old, "sent")) == (1, 2)
    # 3. revise: the old quote is closed as revised, a copy is created with revision + 1
    await sales.close(old, 7)
    new = await sales.create_quote(revisionnumber=1)
    await sales.add_line_and_wait(new)
    revised = await sales.row_state(old, "revised")
    assert state(revised) == (3, 7)
    assert (await scm.last_state(old, version=4))["quotation"]["SALESQUOTATIONSTATUS"] == "revised"
    assert state(await sales.row_state(new, "created")) == (0, 1)
    # the revised quotation is read-only in SCM
    refused = await scm.scm("quote.update", old, {"name": "late"})
    assert (refused["outcome"], refused["code"]) == ("rejected", "quote.read-only")
    # 4. activate the new one and close it
    await sales.activate(new)
    await sales.row_state(new, "sent")
    await sales.close(new, reason)
    closed = await sales.row_state(new, scm_status)
    assert state(closed) == (3, reason)
    assert (await scm.last_state(new, version=4))["quotation"]["SALESQUOTATIONSTATUS"] == scm_status


async def test_four_step_variation_win_confirms_the_quotation(both) -> None:
    sales, scm = both
    number = await sales.create_quote()
    await sales.add_line_and_wait(number)
    await sales.activate(number)
    await sales.row_state(number, "sent")
    await sales.win(number)
    won = await sales.row_state(number, "confirmed")
    assert state(won) == (2, 4)  # Won / Won
    confirmed = await scm.last_state(number, version=4)
    assert confirmed["quotation"]["SALESQUOTATIONSTATUS"] == "confirmed"
    assert [j["type"] for j in confirmed["quotation"]["journals"]] == ["quotation", "confirmation"]


@pytest.mark.parametrize(("steps", "action", "code"), [
    ((), "close-lost", "quote.not-active"),
    ((), "win", "quote.not-active"),
    (("activate",), "delete", "quote.not-draft"),
    (("activate",), "rename", "quote.not-draft"),
])
async def test_sales_steps_out_of_order_are_refused_and_put_back(both, steps, action, code) -> None:
    sales, scm = both
    number = await sales.create_quote()
    await sales.add_line_and_wait(number)
    await sales.row_state(number, "created")
    for _ in steps:
        await sales.activate(number)
        await sales.row_state(number, "sent")
    if action == "close-lost":
        change = await sales.close(number, 5)
    elif action == "win":
        change = await sales.win(number)
    elif action == "delete":
        change = await sales.delete_quote(number)
    else:
        change = await sales.update_quote(number, name="renamed while active")
    note = await sales.notification(number, change)
    assert note["code"] == code
    restored = await sales.write("quote", number, lambda w: w["caused_by"] == change["message_id"])
    assert restored["operation"] == "upsert"
    expected = "sent" if steps else "created"
    assert restored["record"]["msdyn_salesquotationstatus"] == STATUS[expected]
    assert restored["record"]["name"] == "Office PCs"
    # Sentinel: the same change again (a new message, same row), refused after the first: its
    # notification, on the same key, follows any second one for the first change
    sentinel = await sales.send({**change, "message_id": str(uuid4())})
    await sales.notification(number, sentinel)
    assert len(scm.probe.matching("dataverse.notifications",
                                  lambda r: r.value["refused_message_id"] == change["message_id"])) == 1


async def test_a_sales_create_with_an_existing_number_is_refused(both) -> None:
    sales, scm = both
    number = await scm.create_scm_quote()
    await sales.row_state(number, "created")
    change = await sales.send(sales.change("quote", "create", {
        "quoteid": "another-row", "msdyn_quotenumber": number, "name": "Clash", "customerid": "US-009",
        "transactioncurrencyid": "EUR", "statecode": 0, "statuscode": 1}))
    note = await sales.notification(number, change)
    assert (note["code"], note["text"]) == ("number.collision", "A document with this number already exists")
    restored = await sales.write("quote", number, lambda w: w["caused_by"] == change["message_id"])
    assert restored["record"]["transactioncurrencyid"] == "USD"


async def test_no_echo_of_what_sales_sent(both) -> None:
    sales, scm = both
    number = await sales.create_quote()
    await sales.row_state(number, "created")
    writes_before = len(sales.writes("quote", number))
    await sales.update_quote(number, name="Renamed in Sales")
    renamed = await scm.probe.wait_for("scm.quote.events", lambda r: r.key == number
                                       and r.value["quotation"]["SALESQUOTATIONNAME"] == "Renamed in Sales")
    assert renamed
    # but a change made in SCM is written to Sales, whole; on the same key after the Sales
    # rename, so when it is written any echo of the rename would already be there
    await scm.scm("quote.update", number, {"name": "Renamed in SCM"})
    written = await sales.write("quote", number, lambda w: w["record"]["name"] == "Renamed in SCM")
    assert len(sales.writes("quote", number)) == writes_before + 1
    assert {"msdyn_quotenumber", "msdyn_salesquotationstatus", "msdyn_quotationcreationmethod",
            "msdyn_quotationownership", "statecode", "statuscode", "name", "customerid"} <= set(written["record"])
    assert written["alternate_key"] == {"msdyn_quotenumber": number}


async def test_a_line_that_arrives_before_its_quote_is_held(both) -> None:
    sales, scm = both
    number = f"C-early-{id(both) % 10000}"
    await sales.taken(await sales.add_line(number))  # taken (and held) before its quote exists
    await sales.create_quote(number)
    line_added = await scm.last_state(number, version=2)
    assert [x["PRODUCTNUMBER"] for x in line_added["quotation"]["lines"]] == ["PC-1"]


async def test_duplicate_sales_messages_change_nothing(both) -> None:
    sales, scm = both
    number = await sales.create_quote()
    await sales.row_state(number, "created")
    change = sales.change("quote", "update", {"quoteid": sales.ids[number], "msdyn_quotenumber": number,
                                              "name": "Once"})
    for _ in range(4):
        await sales.send(change)
    await scm.probe.wait_for("scm.quote.events", lambda r: r.key == number
                             and r.value["quotation"]["SALESQUOTATIONNAME"] == "Once")
    # Sentinel: a later change of the same row, applied after every copy (same key throughout)
    await sales.update_quote(number, name="Sentinel")
    await scm.probe.wait_for("scm.quote.events", lambda r: r.key == number
                             and r.value["quotation"]["SALESQUOTATIONNAME"] == "Sentinel")
    assert [e.value["version"] for e in scm.events(number)] == [1, 2, 3]


async def test_poison_sales_messages_go_to_the_dlq(both, probe_factory) -> None:
    sales, _ = both
    dlq = await probe_factory("dataverse.quote.changes.dlq")
    await sales.probe.publish("dataverse.quote.changes", "q-1", b"{broken")
    await sales.probe.publish("dataverse.quote.changes", "q-2", {"message_id": "m", "table": "quote",
                                                                  "operation": "merge", "record": {}})
    await sales.probe.publish("dataverse.quote.changes", "q-3", sales.change("quote", "update", {"name": "no key"}))
    letters = await dlq.wait_for("dataverse.quote.changes.dlq", count=3)
    # different keys, different partitions: no order between them
    by_key = {letter.key: letter.headers for letter in letters}
    assert by_key["q-1"]["error.code"] == "message.not-json"
    assert by_key["q-2"]["error.code"] == "message.invalid"
    assert "operation" in by_key["q-2"]["error.text"]
    assert by_key["q-3"]["error.code"] == "message.invalid"
    assert "msdyn_quotenumber" in by_key["q-3"]["error.text"]


async def test_feature_states_reach_sales(both) -> None:
    sales, scm = both
    await scm.set_feature("PriceMaster", True)
    on = await sales.write("msdyn_supplychainfeaturestate", "PriceMaster", lambda w: w["record"]["statecode"] == 0)
    assert on["record"] == {"msdyn_name": "PriceMaster", "statecode": 0}
    await scm.set_feature("PriceMaster", False)
    off = await sales.write("msdyn_supplychainfeaturestate", "PriceMaster", lambda w: w["record"]["statecode"] == 1)
    assert off["alternate_key"] == {"msdyn_name": "PriceMaster"}


async def test_an_scm_line_change_reaches_sales_with_the_whole_line_discount(both) -> None:
    sales, scm = both
    number = await scm.create_scm_quote(lines=0)
    await scm.scm("quote.add-line", number, line(1, line_discount_amount="3.33", total_charges_amount="-0.01"))
    written = await sales.write("quotedetail", f"{number}/1")
    assert written["record"]["manualdiscountamount"] == "10.00"  # 3 × 3.33 − (−0.01)
    assert written["alternate_key"] == {"msdyn_quotenumber": number, "sequencenumber": 1}


async def test_activate_and_close_sent_back_to_back_are_decided_step_by_step(both) -> None:
    sales, scm = both
    number = await sales.create_quote()
    await sales.row_state(number, "created")
    await sales.activate(number)
    await sales.close(number, 5)  # before the activation has been applied in SCM
    lost = await sales.row_state(number, "lost")
    assert state(lost) == (3, 5)
    assert [e.value["quotation"]["SALESQUOTATIONSTATUS"] for e in scm.events(number)] == ["created", "sent", "lost"]


async def test_a_refused_line_change_is_put_back(both) -> None:
    sales, scm = both
    number = await scm.create_scm_quote()
    await sales.write("quotedetail", f"{number}/1")
    await scm.scm("quote.send", number)
    await sales.row_state(number, "sent")
    # Sales learns the line's id from its own row; then edits the line of an SCM-owned, sent quote
    sales.ids[f"{number}/1"] = "line-id-in-sales"
    change = await sales.update_line(number, 1, quantity="7")
    note = await sales.notification(number + "/1", change)
    assert note["code"] == "quote.read-only-not-owned-by-sales"
    assert note["table"] == "quotedetail"
    assert note["alternate_key"] == {"msdyn_quotenumber": number, "sequencenumber": 1}
    restored = await sales.write("quotedetail", f"{number}/1", lambda w: w["caused_by"] == change["message_id"])
    assert restored["record"]["quantity"] == "3"


async def test_with_the_lifecycle_feature_off_only_data_syncs(both) -> None:
    sales, scm = both
    await scm.set_feature("IntegrateQuotationLifecycle", False)
    try:
        number = await sales.create_quote()
        created = await sales.write("quote", number)
        # DOMAIN.md §1: no Sales state is written, and the quotation is SCM-origin
        assert "statecode" not in created["record"] and "statuscode" not in created["record"]
        assert created["record"]["msdyn_quotationcreationmethod"] == ORIGIN["SCM"]
        activation = await sales.activate(number)
        # Sentinels: a later Sales change of the row reaches SCM only after the adapter has
        # handled the activation; a change made in SCM after that is written to the same Sales
        # row after any write (refusal: a notification and a write back) the activation caused.
        await sales.update_quote(number, name="Sentinel")
        await scm.probe.wait_for("scm.quote.events", lambda r: r.key == number
                                 and r.value["quotation"]["SALESQUOTATIONNAME"] == "Sentinel")
        await scm.scm("quote.update", number, {"name": "Renamed in SCM"})
        await sales.write("quote", number, lambda w: w["record"].get("name") == "Renamed in SCM")
        assert not [w for w in sales.writes("quote", number) if w.value.get("caused_by") == activation["message_id"]]
        # Sales lifecycle changes do not reach SCM status, and are not refused either
        assert {e.value["quotation"]["SALESQUOTATIONSTATUS"] for e in scm.events(number)} == {"created"}
        assert not scm.probe.matching("dataverse.notifications",
                                      lambda r: r.value["refused_message_id"] == activation["message_id"])
    finally:
        await scm.set_feature("IntegrateQuotationLifecycle", True)


async def test_with_scm_as_price_master_the_line_discount_is_per_unit(both) -> None:
    sales, scm = both
    await scm.set_feature("PriceMaster", True)
    try:
        number = await sales.create_quote()
        await sales.row_state(number, "created")
        await sales.add_line_and_wait(number, manualdiscountamount=None, msdyn_linediscountamount="3.33")
        [line] = (await scm.last_state(number, version=2))["quotation"]["lines"]
        # no split: the per-unit discount is taken as it is, no charge (DUALWRITE-REFERENCE §3.3)
        assert (line["LINEDISCOUNTAMOUNT"], line["TOTALCHARGESAMOUNT"]) == ("3.33", "0.00")
        written = await sales.write("quotedetail", f"{number}/1")
        assert written["record"]["msdyn_linediscountamount"] == "3.33"
        assert "manualdiscountamount" not in written["record"]
    finally:
        await scm.set_feature("PriceMaster", False)
