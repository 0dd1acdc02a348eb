"""The adapter's pure decisions (decisions.py) on the real maps: what a Sales change forwards,
holds or refuses, and what an SCM record writes back — no Kafka, no database. Expected values
come from the documents (docs/contract.md §1–§2, docs/domain.md §1, §2, §5, §7, §8)."""

from typing import Any

import pytest

from dual_write_adapter import decisions as core
from dual_write_adapter.decisions import (
    Forward,
    Hold,
    Mirror,
    Notify,
    RecordChange,
    ReleaseHeld,
    SaveRow,
    Skipped,
    Write,
)
from dual_write_adapter.tablemap import MappingFailed, TableMap, load_maps
from q2c_contracts.dataverse import DataverseChange

MAPS = load_maps()
QUOTE, QUOTE_LINE = MAPS["quotation-header"], MAPS["quotation-lines"]
ORDER, ORDER_LINE = MAPS["sales-order-header"], MAPS["sales-order-lines"]
INVOICE, INVOICE_LINE = MAPS["sales-invoice-header"], MAPS["sales-invoice-lines"]
FEATURES_ON = {"IntegrateQuotationLifecycle": True, "PriceMaster": False}
FEATURES_OFF = {"IntegrateQuotationLifecycle": False, "PriceMaster": False}

STATUS_IN_SCM = ("order.status-in-scm", "Order status is maintained in Supply Chain Management")
SCM_ONLY = ("invoice.scm-only", "Invoices are created in Supply Chain Management and cannot be changed in Sales")


def change(table: str, operation: str, **record: Any) -> DataverseChange:
    return DataverseChange(message_id="m-1", table=table, operation=operation, record=record)


def kinds(effects: list[core.Effect]) -> list[str]:
    return [type(e).__name__ for e in effects]


def forwards(effects: list[core.Effect]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(e.type, e.target, e.data) for e in effects if isinstance(e, Forward)]


def decide(tmap: TableMap, c: DataverseChange, mirror: Mirror | None = None, parent_known: bool = True,
           authoritative: dict[str, Any] | None = None, features: dict[str, Any] = FEATURES_ON) -> list[core.Effect]:
    return core.sales_change(tmap, c, mirror=mirror, parent_known=parent_known, authoritative=authoritative,
                             features=features)


QUOTE_ROW = {"quoteid": "q-1", "msdyn_quotenumber": "C-1", "name": "PCs", "customerid": "US-001",
             "transactioncurrencyid": "USD", "statecode": 0, "statuscode": 1}
SCM_QUOTE_SENT = {"SALESQUOTATIONNUMBER": "C-1", "SALESQUOTATIONSTATUS": "sent",
                  "SALESQUOTATIONHEADERCREATIONMETHOD": "Dynamics365Sales", "SALESQUOTATIONOWNERSHIP": "BasedOnOrigin",
                  "SALESQUOTATIONNAME": "PCs", "REQUESTINGCUSTOMERACCOUNTNUMBER": "US-001", "CURRENCYCODE": "USD",
                  "REQUESTEDSHIPPINGDATE": None, "GENERATEDSALESORDERNUMBER": None}
ORDER_ROW = {"salesorderid": "o-1", "msdyn_salesordernumber": "C-SO-1", "name": "PCs", "customerid": "US-001",
             "transactioncurrencyid": "USD", "msdyn_quotationnumber": "C-1", "ownerid": "alice",
             "statecode": 0, "statuscode": 1}
ORDER_LINE_ROW = {"salesorderdetailid": "d-1", "msdyn_salesordernumber": "C-SO-1", "sequencenumber": 1,
                  "productid": "PC-1", "quantity": "3", "priceperunit": "500.00", "manualdiscountamount": "10.00"}


# --- Sales → SCM: what is forwarded ---------------------------------------------------------------

@pytest.mark.parametrize(("tmap", "c", "mirror", "expected"), [
    pytest.param(QUOTE, change("quote", "create", **QUOTE_ROW), None,
                 [("quote.create", "C-1", {"name": "PCs", "customer_account": "US-001", "currency": "USD"})],
                 id="quote-create"),
    pytest.param(QUOTE, change("quote", "update", msdyn_quotenumber="C-1", name="Laptops"), Mirror(QUOTE_ROW),
                 [("quote.update", "C-1", {"name": "Laptops"})], id="quote-data-update"),
    pytest.param(QUOTE, change("quote", "delete", msdyn_quotenumber="C-1"), Mirror(QUOTE_ROW),
                 [("quote.delete", "C-1", {})], id="quote-delete"),
    pytest.param(ORDER, change("salesorder", "create", **ORDER_ROW), None,
                 [("order.create", "C-SO-1", {"sales_order_number": "C-SO-1", "name": "PCs",
                                              "customer_account": "US-001", "currency": "USD",
                                              "quotation_number": "C-1"})], id="order-create"),
    pytest.param(ORDER, change("salesorder", "update", msdyn_salesordernumber="C-SO-1", name="Laptops"),
                 Mirror(ORDER_ROW), [("order.update", "C-SO-1", {"name": "Laptops"})], id="order-data-update"),
    pytest.param(ORDER, change("salesorder", "delete", msdyn_salesordernumber="C-SO-1"), Mirror(ORDER_ROW),
                 [("order.delete", "C-SO-1", {})], id="order-delete"),
    pytest.param(ORDER_LINE, change("salesorderdetail", "create", **ORDER_LINE_ROW), None,
                 [("order.add-line", "C-SO-1", {"sequence_number": 1, "product_number": "PC-1", "quantity": "3",
                                                "unit_price": "500.00", "line_discount_amount": "3.33",
                                                "total_charges_amount": "-0.01"})], id="order-line-create-split"),
    pytest.param(ORDER_LINE, change("salesorderdetail", "update", msdyn_salesordernumber="C-SO-1", sequencenumber=1,
                                    quantity="4"), Mirror(ORDER_LINE_ROW),
                 [("order.update-line", "C-SO-1", {"quantity": "4", "line_discount_amount": "2.50",
                                                   "total_charges_amount": "0.00", "sequence_number": 1})],
                 id="order-line-quantity-resplits-the-discount"),
    pytest.param(ORDER_LINE, change("salesorderdetail", "delete", msdyn_salesordernumber="C-SO-1", sequencenumber=1),
                 Mirror(ORDER_LINE_ROW), [("order.delete-line", "C-SO-1", {"sequence_number": 1})],
                 id="order-line-delete"),
    pytest.param(QUOTE, change("quote", "update", msdyn_quotenumber="C-1", name="PCs"), Mirror(QUOTE_ROW), [],
                 id="no-change-no-command"),
    pytest.param(QUOTE, change("quote", "delete", msdyn_quotenumber="C-1"), None, [],
                 id="delete-of-an-unknown-row"),
])
def test_sales_change_forwards(tmap: TableMap, c: DataverseChange, mirror: Mirror | None,
                               expected: list[tuple[str, str, dict[str, Any]]]) -> None:
    assert forwards(decide(tmap, c, mirror)) == expected


@pytest.mark.parametrize(("old", "new", "command"), [
    pytest.param((0, 1), (1, 2), "quote.send", id="activate"),
    pytest.param((1, 2), (2, 4), "quote.confirm", id="win"),
    pytest.param((1, 2), (3, 5), "quote.lose", id="close-lost"),
    pytest.param((1, 2), (3, 6), "quote.cancel", id="close-canceled"),
    pytest.param((1, 2), (3, 7), "quote.revise", id="close-revised"),
    # steps Sales' own rules forbid are forwarded; the ownership service refuses them
    pytest.param((0, 1), (2, 4), "quote.confirm", id="draft-to-won-forwarded"),
    pytest.param((0, 1), (3, 5), "quote.lose", id="draft-to-lost-forwarded"),
    # no change of state
    pytest.param((1, 2), (1, 3), None, id="same-state-other-reason"),
])
def test_quote_state_changes_are_lifecycle_steps(old: tuple[int, int], new: tuple[int, int],
                                                 command: str | None) -> None:
    mirror = Mirror({**QUOTE_ROW, "statecode": old[0], "statuscode": old[1]})
    effects = decide(QUOTE, change("quote", "update", msdyn_quotenumber="C-1", statecode=new[0], statuscode=new[1]),
                     mirror)

    assert forwards(effects) == ([(command, "C-1", {})] if command else [])


@pytest.mark.parametrize(("new", "text"), [
    pytest.param((0, 1), "statecode/statuscode 1/2 → 0/1 is not a lifecycle step", id="back-to-draft"),
    pytest.param((3, 99), "statecode/statuscode must be a quote state (0/1, 1/2, 1/3, 2/4, 3/5, 3/6, 3/7), got 3/99",
                 id="unknown-reason"),
    pytest.param((99, 99), "statecode/statuscode must be a quote state (0/1, 1/2, 1/3, 2/4, 3/5, 3/6, 3/7), got "
                 "99/99", id="unknown-state"),
])
def test_a_state_change_that_is_no_step_is_refused_and_restored(new: tuple[int, int], text: str) -> None:
    mirror = Mirror({**QUOTE_ROW, "statecode": 1, "statuscode": 2})
    effects = decide(QUOTE, change("quote", "update", msdyn_quotenumber="C-1", statecode=new[0], statuscode=new[1]),
                     mirror, authoritative=SCM_QUOTE_SENT)

    assert effects[:2] == [RecordChange(), Notify("command.invalid", text)]
    [write] = [e for e in effects if isinstance(e, Write)]
    assert (write.operation, write.record["statecode"], write.record["statuscode"]) == ("upsert", 1, 2)
    assert forwards(effects) == []


# --- values SCM cannot hold: command.invalid, one notification naming the column, restore ---------

QUOTE_LINE_ROW = {"quotedetailid": "l-1", "msdyn_quotenumber": "C-1", "sequencenumber": 1, "productid": "PC-1",
                  "quantity": "3", "priceperunit": "500.00", "manualdiscountamount": "10.00"}
LONG = "x" * 900_000


@pytest.mark.parametrize(("tmap", "row", "columns", "text"), [
    pytest.param(QUOTE_LINE, QUOTE_LINE_ROW, {"quantity": "0"}, 'quantity must be above 0, got "0"', id="qty-zero"),
    pytest.param(QUOTE_LINE, QUOTE_LINE_ROW, {"quantity": "-1"}, 'quantity must be above 0, got "-1"', id="qty-neg"),
    pytest.param(QUOTE_LINE, QUOTE_LINE_ROW, {"quantity": "NaN"}, 'quantity must be a finite decimal, got "NaN"',
                 id="qty-nan"),
    pytest.param(QUOTE_LINE, QUOTE_LINE_ROW, {"quantity": "-Infinity"},
                 'quantity must be a finite decimal, got "-Infinity"', id="qty-inf"),
    pytest.param(QUOTE_LINE, QUOTE_LINE_ROW, {"quantity": "1e400"},
                 'quantity must be at most 1,000,000,000, got "1e400"', id="qty-1e400"),
    pytest.param(QUOTE_LINE, QUOTE_LINE_ROW, {"quantity": "9" * 500},
                 f'quantity must be at most 1,000,000,000, got "{"9" * 39}…', id="qty-500-digits"),
    pytest.param(QUOTE_LINE, QUOTE_LINE_ROW, {"quantity": "1.000001"},
                 'quantity must have at most 5 decimals, got "1.000001"', id="qty-6-decimals"),
    pytest.param(QUOTE_LINE, QUOTE_LINE_ROW, {"quantity": "three"},
                 'quantity must be a decimal string such as "10.00", got "three"', id="qty-not-a-number"),
    pytest.param(QUOTE_LINE, QUOTE_LINE_ROW, {"priceperunit": "922337203685478"},
                 'priceperunit must be within ±922,337,203,685,477, got "922337203685478"', id="price-too-big"),
    pytest.param(QUOTE_LINE, QUOTE_LINE_ROW, {"manualdiscountamount": "-1e20"},
                 'manualdiscountamount must be within ±922,337,203,685,477, got "-1e20"', id="discount-too-small"),
    pytest.param(QUOTE_LINE, QUOTE_LINE_ROW, {"priceperunit": "1.23456"},
                 'priceperunit must have at most 4 decimals, got "1.23456"', id="price-5-decimals"),
    pytest.param(QUOTE_LINE, QUOTE_LINE_ROW, {"productid": "P" * 101},
                 "productid must be at most 100 characters, got 101", id="product-too-long"),
    pytest.param(QUOTE, QUOTE_ROW, {"name": LONG}, "name must be at most 300 characters, got 900,000",
                 id="quote-name-900k"),
    pytest.param(QUOTE, QUOTE_ROW, {"customerid": "C" * 101}, "customerid must be at most 100 characters, got 101",
                 id="customer-too-long"),
    pytest.param(QUOTE, QUOTE_ROW, {"transactioncurrencyid": "US\x00D"},
                 "transactioncurrencyid must not contain the character U+0000 (NUL)", id="currency-nul"),
    pytest.param(QUOTE_LINE, QUOTE_LINE_ROW, {"uomid": "\x00"}, "uomid must not contain the character U+0000 (NUL)",
                 id="unit-nul"),
    pytest.param(ORDER, ORDER_ROW, {"name": "n" * 301}, "name must be at most 300 characters, got 301",
                 id="order-name"),
    pytest.param(ORDER_LINE, ORDER_LINE_ROW, {"quantity": "1000000000.5"},
                 'quantity must be at most 1,000,000,000, got "1000000000.5"', id="order-line-qty"),
    pytest.param(ORDER_LINE, ORDER_LINE_ROW, {"priceperunit": "sNaN"},
                 'priceperunit must be a finite decimal, got "sNaN"', id="order-line-snan"),
])
def test_a_value_scm_cannot_hold_is_refused_naming_the_column(tmap: TableMap, row: dict[str, Any],
                                                               columns: dict[str, Any], text: str) -> None:
    table, key = tmap.sales_table, tmap.key_string(row)
    keys = tmap.alternate_key(row)
    # a create: SCM never accepted the row, so Sales deletes it
    created = decide(tmap, change(table, "create", **{**row, **columns}))
    assert created == [RecordChange(), Notify("command.invalid", text), Write("delete", keys),
                       SaveRow(key, {}, deleted=True)]
    # an update of a row SCM has: its values are written back
    updated = decide(tmap, change(table, "update", **keys, **columns), Mirror(row), authoritative=SCM_OF[tmap.name])
    assert updated[:2] == [RecordChange(), Notify("command.invalid", text)]
    [write] = [e for e in updated if isinstance(e, Write)]
    assert write.operation == "upsert" and not forwards(updated)
    assert all(write.record.get(c) != v for c, v in columns.items())


@pytest.mark.parametrize(("tmap", "row", "columns"), [
    pytest.param(QUOTE_LINE, QUOTE_LINE_ROW, {"quantity": "1000000000", "priceperunit": "922337203685477"},
                 id="at-the-limits"),
    pytest.param(QUOTE_LINE, QUOTE_LINE_ROW, {"quantity": "0.00001", "priceperunit": "-0.0001"}, id="smallest"),
    pytest.param(QUOTE_LINE, QUOTE_LINE_ROW, {"quantity": "2.5000000000"}, id="trailing-zeros-are-no-decimals"),
    pytest.param(QUOTE, QUOTE_ROW, {"name": "ü" * 300}, id="name-300-non-ascii"),
    pytest.param(ORDER_LINE, ORDER_LINE_ROW, {"quantity": "1E+3"}, id="exponent-notation"),
])
def test_values_within_the_limits_are_forwarded(tmap: TableMap, row: dict[str, Any], columns: dict[str, Any]) -> None:
    effects = decide(tmap, change(tmap.sales_table, "create", **{**row, **columns}))

    assert not any(isinstance(e, Notify) for e in effects)
    assert len(forwards(effects)) == 1


def test_a_quote_created_in_a_state_that_does_not_exist_is_refused_and_deleted() -> None:
    effects = decide(QUOTE, change("quote", "create", **{**QUOTE_ROW, "statecode": 99, "statuscode": 99}))

    assert effects[1] == Notify("command.invalid", "statecode/statuscode must be a quote state (0/1, 1/2, 1/3, 2/4, "
                                                   "3/5, 3/6, 3/7), got 99/99")
    assert effects[2] == Write("delete", {"msdyn_quotenumber": "C-1"})


def test_a_delete_is_not_judged_by_its_values() -> None:
    effects = decide(QUOTE, change("quote", "delete", msdyn_quotenumber="C-1", name=LONG), Mirror(QUOTE_ROW))

    assert forwards(effects) == [("quote.delete", "C-1", {})]


def test_with_the_lifecycle_feature_off_a_state_change_does_not_reach_scm() -> None:
    effects = decide(QUOTE, change("quote", "update", msdyn_quotenumber="C-1", statecode=1, statuscode=2),
                     Mirror(QUOTE_ROW), features=FEATURES_OFF)

    assert forwards(effects) == []
    assert any(isinstance(e, Skipped) and e.reason == "lifecycle not integrated" for e in effects)


def test_an_update_of_a_header_sales_never_created_is_a_mapping_failure() -> None:
    with pytest.raises(MappingFailed, match="never created"):
        decide(ORDER, change("salesorder", "update", msdyn_salesordernumber="C-SO-9", name="x"))


@pytest.mark.parametrize(("tmap", "c"), [
    pytest.param(QUOTE_LINE, change("quotedetail", "create", msdyn_quotenumber="C-1", sequencenumber=1),
                 id="quote-line"),
    pytest.param(ORDER_LINE, change("salesorderdetail", "create", **ORDER_LINE_ROW), id="order-line"),
])
def test_a_line_before_its_header_is_held(tmap: TableMap, c: DataverseChange) -> None:
    parent = c.record[tmap.sales_keys[0]]

    assert decide(tmap, c, parent_known=False) == [Hold(parent)]


def test_a_header_create_releases_its_held_lines() -> None:
    effects = decide(ORDER, change("salesorder", "create", **ORDER_ROW))

    assert effects[-1] == ReleaseHeld("C-SO-1")
    assert kinds(effects) == ["RecordChange", "SaveRow", "Forward", "ReleaseHeld"]


def test_a_second_row_with_a_taken_number_is_forwarded_to_be_refused() -> None:
    mirror = Mirror(ORDER_ROW, primary_id="o-1")
    effects = decide(ORDER, change("salesorder", "create", **{**ORDER_ROW, "salesorderid": "o-2"}), mirror)

    assert [f[0] for f in forwards(effects)] == ["order.create"]
    assert not any(isinstance(e, SaveRow) for e in effects)  # the mirror keeps the first row


def test_sales_echoing_the_row_q2c_wrote_only_records_its_id() -> None:
    written = {k: v for k, v in ORDER_ROW.items() if k != "salesorderid"}
    effects = decide(ORDER, change("salesorder", "create", **ORDER_ROW), Mirror(written))

    assert forwards(effects) == []
    assert SaveRow("C-SO-1", ORDER_ROW, "o-1") in effects


# --- refusals the maps decide ---------------------------------------------------------------------

SCM_ORDER = {"SALESORDERNUMBER": "C-SO-1", "SALESORDERORIGIN": "Dynamics365Sales", "QUOTATIONNUMBER": "C-1",
             "SALESORDERNAME": "PCs", "ORDERINGCUSTOMERACCOUNTNUMBER": "US-001", "CURRENCYCODE": "USD",
             "REQUESTEDSHIPPINGDATE": None, "SALESORDERSTATUS": "backorder", "SALESORDERDOCUMENTSTATUS": "confirmation",
             "SALESORDERPROCESSINGSTATUS": "confirmed", "ORDERTOTALAMOUNT": "1490.00", "lines": []}
SALES_ORDER_WRITE = {"msdyn_salesordernumber": "C-SO-1", "name": "PCs", "customerid": "US-001",
                     "transactioncurrencyid": "USD", "msdyn_quotationnumber": "C-1", "requestdeliveryby": None,
                     "msdyn_processingstatus": 192350001, "statecode": 0, "statuscode": 1, "totalamount": "1490.00"}


@pytest.mark.parametrize("columns", [
    pytest.param({"statecode": 3, "statuscode": 100001}, id="fulfil"),
    pytest.param({"statecode": 2, "statuscode": 4}, id="cancel"),
    pytest.param({"msdyn_processingstatus": 192350004}, id="processing-status"),
    pytest.param({"name": "Laptops", "statuscode": 2}, id="data-and-status-together"),
])
def test_a_sales_change_of_order_status_is_refused_and_restored(columns: dict[str, Any]) -> None:
    mirror = Mirror(SALES_ORDER_WRITE)
    effects = decide(ORDER, change("salesorder", "update", msdyn_salesordernumber="C-SO-1", **columns), mirror,
                     authoritative=SCM_ORDER)

    assert effects == [RecordChange(), Notify(*STATUS_IN_SCM), Write("upsert", SALES_ORDER_WRITE),
                       SaveRow("C-SO-1", SALES_ORDER_WRITE)]


@pytest.mark.parametrize(("columns", "refused"), [
    pytest.param({"statecode": 0, "statuscode": 1}, False, id="active-new"),
    pytest.param({"statecode": 0, "statuscode": 1, "msdyn_processingstatus": 192350000}, False,
                 id="active-new-processing-active"),
    pytest.param({"statecode": 3, "statuscode": 100001}, True, id="created-fulfilled"),
    pytest.param({"statecode": 0, "statuscode": 2}, True, id="created-pending"),
    pytest.param({"statecode": 0, "statuscode": 1, "msdyn_processingstatus": 192350001}, True,
                 id="created-confirmed"),
])
def test_an_order_create_may_carry_only_the_default_status(columns: dict[str, Any], refused: bool) -> None:
    effects = decide(ORDER, change("salesorder", "create", **{**ORDER_ROW, **columns}))

    if refused:  # SCM has no such order: the Sales row is deleted
        assert effects == [RecordChange(), Notify(*STATUS_IN_SCM),
                           Write("delete", {"msdyn_salesordernumber": "C-SO-1"}),
                           SaveRow("C-SO-1", {}, deleted=True)]
    else:
        assert [f[0] for f in forwards(effects)] == ["order.create"]


SCM_INVOICE = {"INVOICENUMBER": "F-INV-000001", "SALESORDERNUMBER": "C-SO-1", "INVOICECUSTOMERACCOUNTNUMBER": "US-001",
               "CURRENCYCODE": "USD", "INVOICEDATE": "2026-11-23", "TOTALINVOICEAMOUNT": "496.67"}
SALES_INVOICE = {"msdyn_invoicenumber": "F-INV-000001", "msdyn_salesordernumber": "C-SO-1", "customerid": "US-001",
                 "transactioncurrencyid": "USD", "msdyn_invoicedate": "2026-11-23", "msdyn_totalamount": "496.67",
                 "ownerid": "alice", "statecode": 0, "statuscode": 4, "ispricelocked": False}


@pytest.mark.parametrize(("operation", "authoritative", "write"), [
    pytest.param("create", None, Write("delete", {"msdyn_invoicenumber": "F-INV-000009"}),
                 id="created-in-sales-is-deleted"),
    pytest.param("update", SCM_INVOICE, Write("upsert", SALES_INVOICE), id="changed-is-restored"),
    pytest.param("delete", SCM_INVOICE, Write("upsert", SALES_INVOICE), id="deleted-is-restored"),
])
def test_every_sales_change_of_an_invoice_is_refused(operation: str, authoritative: dict[str, Any] | None,
                                                     write: Write) -> None:
    number = authoritative["INVOICENUMBER"] if authoritative else "F-INV-000009"
    effects = core.sales_change(INVOICE, change("invoice", operation, msdyn_invoicenumber=number, statuscode=1),
                                mirror=None, parent_known=True, authoritative=authoritative, features=FEATURES_ON,
                                looked_up={("salesorder", "C-SO-1"): {"ownerid": "alice"}})

    assert effects[:3] == [RecordChange(), Notify(*SCM_ONLY), write]


def test_an_invoice_line_change_is_refused_without_waiting_for_its_invoice() -> None:
    effects = decide(INVOICE_LINE, change("invoicedetail", "create", msdyn_invoicenumber="F-INV-1", sequencenumber=1),
                     parent_known=False)

    assert kinds(effects) == ["RecordChange", "Notify", "Write", "SaveRow"]


# --- SCM → Sales: writes without echo -----------------------------------------------------------

def test_an_scm_order_is_written_in_full() -> None:
    effects = core.scm_record(ORDER, SCM_ORDER, mirror=None, features=FEATURES_ON)

    assert effects == [Write("upsert", SALES_ORDER_WRITE), SaveRow("C-SO-1", SALES_ORDER_WRITE)]


def test_an_scm_record_sales_already_has_is_not_written() -> None:
    assert core.scm_record(ORDER, SCM_ORDER, mirror=Mirror(SALES_ORDER_WRITE), features=FEATURES_ON) == []


def test_after_a_sales_change_only_scm_owned_columns_count() -> None:
    sales_edited = {**SALES_ORDER_WRITE, "name": "Laptops (newer Sales edit)"}
    # SCM's event still carries the older name; its owned columns are what Sales has: no write
    assert core.scm_record(ORDER, SCM_ORDER, mirror=Mirror(sales_edited), features=FEATURES_ON,
                           sales_caused=True) == []


def test_after_a_sales_change_sales_keeps_its_values_and_gets_the_owned_ones() -> None:
    sales_edited = {**SALES_ORDER_WRITE, "name": "Laptops", "totalamount": "1000.00"}
    [write, _] = core.scm_record(ORDER, SCM_ORDER, mirror=Mirror(sales_edited), features=FEATURES_ON,
                                 sales_caused=True)

    assert isinstance(write, Write)
    assert write.record["name"] == "Laptops"
    assert write.record["totalamount"] == "1490.00"


def test_after_a_sales_change_columns_sales_left_empty_are_filled() -> None:
    # CopyQuotationDataToSalesOrders: SCM filled the name Sales left empty
    sales_row = {**SALES_ORDER_WRITE, "name": None}
    [write, _] = core.scm_record(ORDER, SCM_ORDER, mirror=Mirror(sales_row), features=FEATURES_ON, sales_caused=True)

    assert isinstance(write, Write)
    assert write.record["name"] == "PCs"


def test_the_invoice_owner_is_the_order_owner_as_sales_sent_it() -> None:
    owner = core.scm_record(INVOICE, SCM_INVOICE, mirror=None, features=FEATURES_ON,
                            looked_up={("salesorder", "C-SO-1"): {"ownerid": "team-emea"}})
    nobody = core.scm_record(INVOICE, SCM_INVOICE, mirror=None, features=FEATURES_ON, looked_up={})

    assert isinstance(owner[0], Write) and owner[0].record["ownerid"] == "team-emea"
    assert isinstance(nobody[0], Write) and nobody[0].record["ownerid"] is None


@pytest.mark.parametrize(("document", "applies"), [
    pytest.param(SCM_INVOICE, True, id="sales-order-invoice"),
    pytest.param({**SCM_INVOICE, "SALESORDERNUMBER": None}, False, id="free-text-invoice"),
])
def test_free_text_invoices_never_go_to_sales(document: dict[str, Any], applies: bool) -> None:
    assert INVOICE.applies_to(document) is applies
    assert INVOICE_LINE.applies_to(document) is applies


def test_lines_scm_no_longer_has_are_gone() -> None:
    line = {"LINECREATIONSEQUENCENUMBER": 1}
    before = {"SALESORDERNUMBER": "C-SO-1", "lines": [line, {"LINECREATIONSEQUENCENUMBER": 2}]}
    after = {"SALESORDERNUMBER": "C-SO-1", "lines": [line]}

    assert core.gone_rows(ORDER_LINE, before, after) == ["C-SO-1/2"]
    assert core.gone_rows(ORDER_LINE, None, after) == []


def test_a_restore_without_an_scm_row_deletes_the_sales_row() -> None:
    assert core.restore(ORDER_LINE, "C-SO-1/2", None, Mirror(ORDER_LINE_ROW), FEATURES_ON) == [
        Write("delete", {"msdyn_salesordernumber": "C-SO-1", "sequencenumber": 2}),
        SaveRow("C-SO-1/2", ORDER_LINE_ROW, deleted=True)]


def test_the_record_of_a_line_within_its_document() -> None:
    document = {"SALESORDERNUMBER": "C-SO/1", "lines": [{"LINECREATIONSEQUENCENUMBER": 2, "PRODUCTNUMBER": "PC-1"}]}

    assert core.record_of(ORDER_LINE, document, "C-SO/1/2") == {"LINECREATIONSEQUENCENUMBER": 2,
                                                                "PRODUCTNUMBER": "PC-1", "SALESORDERNUMBER": "C-SO/1"}
    assert core.record_of(ORDER_LINE, document, "C-SO/1/3") is None


SCM_OF = {
    "quotation-header": SCM_QUOTE_SENT,
    "quotation-lines": {"SALESQUOTATIONNUMBER": "C-1", "LINECREATIONSEQUENCENUMBER": 1, "PRODUCTNUMBER": "PC-1",
                        "REQUESTEDSALESQUANTITY": "3", "SALESPRICE": "500.00", "LINEDISCOUNTAMOUNT": "3.33",
                        "TOTALCHARGESAMOUNT": "-0.01", "SHIPPINGSITEID": "1", "SHIPPINGWAREHOUSEID": "11",
                        "LINEAMOUNT": "1490.00", "SALESQUOTATIONSTATUS": "created"},
    "sales-order-header": SCM_ORDER,
    "sales-order-lines": {"SALESORDERNUMBER": "C-SO-1", "LINECREATIONSEQUENCENUMBER": 1, "PRODUCTNUMBER": "PC-1",
                          "ORDEREDSALESQUANTITY": "3", "SALESPRICE": "500.00", "LINEDISCOUNTAMOUNT": "3.33",
                          "TOTALCHARGESAMOUNT": "-0.01", "LINEAMOUNT": "1490.00", "DELIVEREDQUANTITY": "0",
                          "INVOICEDQUANTITY": "0", "SALESORDERLINESTATUS": "backorder", "SHIPPINGSITEID": "1",
                          "SHIPPINGWAREHOUSEID": "11"},
}


def test_a_refusal_before_the_adapter_saw_scm_s_row_puts_back_sales_last_good_values() -> None:
    # The line was created in Sales and forwarded; its SCM event has not reached the adapter
    # yet, so the adapter's copy of SCM has no such line: Sales gets its last values back.
    mirror = Mirror({**ORDER_LINE_ROW, "salesorderid": "o-1"})
    effects = decide(ORDER, change("salesorder", "update", msdyn_salesordernumber="C-SO-1", statuscode=2),
                     Mirror(ORDER_ROW), authoritative=None)
    line = core.refuse(ORDER_LINE, "C-SO-1/1", "order.status-in-scm", None, mirror, FEATURES_ON)

    # only the columns the maps write (not Sales' own ids or the owner)
    assert effects == [RecordChange(), Notify(*STATUS_IN_SCM), Write("upsert", {
        k: v for k, v in ORDER_ROW.items() if k not in ("salesorderid", "ownerid")})]
    assert line == [Notify(*STATUS_IN_SCM), Write("upsert", {
        k: v for k, v in ORDER_LINE_ROW.items() if k != "salesorderdetailid"})]
