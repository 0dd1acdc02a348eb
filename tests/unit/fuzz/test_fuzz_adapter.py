"""Fuzzing the adapter's parse-and-decide path (issue 12) with Dataverse changes of every
table: each outcome is a dead letter (`ContractViolation` / `ValidationError` at parse), an
error-log entry a retry can fix (an update of a row Sales never created here), or effects
with at most one notification, which then comes with a restoring write and no command.
What the adapter forwards is then handed to the SCM service's own domain, which may refuse
it (`command.invalid`, a contract code) but never raise anything else."""

from typing import Any

from hypothesis import event, given
from hypothesis import strategies as st
from pydantic import ValidationError

from dual_write_adapter import dataverse
from dual_write_adapter import decisions as core
from dual_write_adapter.app import parse_change
from dual_write_adapter.tablemap import MappingFailed, TableMap, load_maps
from order_service import decisions as order_decisions
from order_service.domain import Features as OrderFeatures
from order_service.domain import Refused
from q2c_messaging.consumer import ContractViolation
from quote_service import domain as quote_domain

from .hostile import hostile, json_values, nearly

MAPS = {m.sales_table: m for m in load_maps().values() if m.sales.changes is not None}
ROWS: dict[str, dict[str, Any]] = {
    "quote": {"quoteid": "q-1", "msdyn_quotenumber": "C-1", "name": "PCs", "customerid": "US-001",
              "transactioncurrencyid": "USD", "statecode": 0, "statuscode": 1, "revisionnumber": 0},
    "quotedetail": {"quotedetailid": "l-1", "msdyn_quotenumber": "C-1", "sequencenumber": 1, "productid": "PC-1",
                    "quantity": "3", "priceperunit": "500.00", "manualdiscountamount": "10.00",
                    "msdyn_shippingsite": "1", "msdyn_shippingwarehouse": "11"},
    "salesorder": {"salesorderid": "o-1", "msdyn_salesordernumber": "C-SO-1", "name": "PCs", "customerid": "US-001",
                   "transactioncurrencyid": "USD", "ownerid": "alice", "statecode": 0, "statuscode": 1},
    "salesorderdetail": {"salesorderdetailid": "d-1", "msdyn_salesordernumber": "C-SO-1", "sequencenumber": 1,
                         "productid": "PC-1", "quantity": "3", "priceperunit": "500.00",
                         "manualdiscountamount": "10.00"},
    "invoice": {"invoiceid": "i-1", "msdyn_invoicenumber": "F-INV-1", "msdyn_salesordernumber": "C-SO-1"},
    "invoicedetail": {"invoicedetailid": "v-1", "msdyn_invoicenumber": "F-INV-1", "sequencenumber": 1,
                      "quantity": "1"},
}
SCM_LINE = {"LINECREATIONSEQUENCENUMBER": 1, "PRODUCTNUMBER": "PC-1", "SALESPRICE": "500.00",
            "LINEDISCOUNTAMOUNT": "3.33", "TOTALCHARGESAMOUNT": "-0.01", "SHIPPINGSITEID": "1",
            "SHIPPINGWAREHOUSEID": "11", "LINEAMOUNT": "1490.00"}
SCM: dict[str, dict[str, Any]] = {
    "quote": {"SALESQUOTATIONNUMBER": "C-1", "SALESQUOTATIONSTATUS": "created",
              "SALESQUOTATIONHEADERCREATIONMETHOD": "Dynamics365Sales", "SALESQUOTATIONOWNERSHIP": "BasedOnOrigin",
              "SALESQUOTATIONNAME": "PCs", "REQUESTINGCUSTOMERACCOUNTNUMBER": "US-001", "CURRENCYCODE": "USD"},
    "quotedetail": {**SCM_LINE, "SALESQUOTATIONNUMBER": "C-1", "REQUESTEDSALESQUANTITY": "3",
                    "SALESQUOTATIONSTATUS": "created"},
    "salesorder": {"SALESORDERNUMBER": "C-SO-1", "SALESORDERORIGIN": "Dynamics365Sales", "SALESORDERNAME": "PCs",
                   "ORDERINGCUSTOMERACCOUNTNUMBER": "US-001", "CURRENCYCODE": "USD",
                   "SALESORDERPROCESSINGSTATUS": "active", "ORDERTOTALAMOUNT": "1490.00"},
    "salesorderdetail": {**SCM_LINE, "SALESORDERNUMBER": "C-SO-1", "ORDEREDSALESQUANTITY": "3",
                         "SALESORDERLINESTATUS": "backorder"},
    "invoice": {"INVOICENUMBER": "F-INV-1", "SALESORDERNUMBER": "C-SO-1", "INVOICECUSTOMERACCOUNTNUMBER": "US-001",
                "CURRENCYCODE": "USD", "INVOICEDATE": "2026-11-23", "TOTALINVOICEAMOUNT": "1.00"},
    "invoicedetail": {"INVOICENUMBER": "F-INV-1", "LINECREATIONSEQUENCENUMBER": 1, "PRODUCTNUMBER": "PC-1",
                      "INVOICEDQUANTITY": "1", "SALESPRICE": "1.00", "LINEAMOUNT": "1.00"},
}
features = st.fixed_dictionaries({"IntegrateQuotationLifecycle": st.booleans(), "PriceMaster": st.booleans(),
                                  "CopyQuotationDataToSalesOrders": st.booleans()})


@st.composite
def changes(draw: st.DrawFn, table: str) -> dict[str, Any]:
    """A Dataverse change envelope (CONTRACT §1), nearly valid."""
    record = draw(nearly(ROWS[table], dict(dataverse.COLUMN_TYPES[table])))
    envelope = {"message_id": "m-1", "table": table, "operation": draw(st.sampled_from(["create", "update", "delete"])),
                "occurred_at": "2026-11-22T14:00:00Z", "user": "alice", "record": record}
    if draw(st.integers(0, 19)) == 0:  # the envelope itself goes wrong
        envelope[draw(st.sampled_from(sorted(envelope)))] = draw(json_values)
    if draw(st.integers(0, 19)) == 0:
        envelope["operation"] = draw(hostile("text"))
    return envelope


QUOTE = quote_domain.new_quotation("C-1", "sales", {"customer_account": "US-001", "currency": "USD", "lines": [
    {"product_number": "PC-1", "quantity": "3", "unit_price": "500.00"}]}, quote_domain.Features())
ORDER = order_decisions.new_order("C-SO-1", "Dynamics365Sales", {"customer_account": "US-001", "currency": "USD",
                                                                  "lines": [{"product_number": "PC-1", "quantity": "3",
                                                                             "unit_price": "500.00"}]},
                                  OrderFeatures())
QUOTE_EDITS = {"quote.create": lambda t, d: quote_domain.new_quotation(t, "sales", d, quote_domain.Features()),
               "quote.update": lambda t, d: quote_domain.update_header(QUOTE, d),
               "quote.add-line": lambda t, d: quote_domain.add_line(QUOTE, d, quote_domain.Features()),
               "quote.update-line": lambda t, d: quote_domain.update_line(QUOTE, d, quote_domain.Features())}
ORDER_EDITS = {"order.create": lambda t, d: order_decisions.new_order(t, "Dynamics365Sales", d, OrderFeatures()),
               "order.update": lambda t, d: order_decisions.update_header(ORDER, d),
               "order.add-line": lambda t, d: order_decisions.add_line(ORDER, d, OrderFeatures()),
               "order.update-line": lambda t, d: order_decisions.update_line(ORDER, d)}


def the_scm_service_answers(forward: core.Forward) -> None:
    """The command reaches the SCM service's domain: accepted, or refused with a code."""
    if forward.type in QUOTE_EDITS:
        try:
            quote_domain.snapshot(QUOTE_EDITS[forward.type](forward.target, forward.data))
            event("quote service: accepted")
        except quote_domain.InvalidCommand:
            event("quote service: command.invalid")
    elif forward.type in ORDER_EDITS:
        try:
            ORDER_EDITS[forward.type](forward.target, forward.data)
            event("order service: accepted")
        except Refused as refused:
            assert refused.code == "command.invalid"
            event("order service: command.invalid")


def decide(tmap: TableMap, raw: dict[str, Any], data: st.DataObject) -> None:
    try:
        change = parse_change(raw, tmap)
    except (ContractViolation, ValidationError):
        event("dead letter")
        return  # the topic's DLQ
    table = tmap.sales_table
    mirror = data.draw(st.sampled_from([None, core.Mirror(ROWS[table]), core.Mirror(ROWS[table], deleted=True)]))
    try:
        effects = core.sales_change(tmap, change, mirror=mirror, parent_known=data.draw(st.booleans()),
                                    authoritative=data.draw(st.sampled_from([None, SCM[table]])),
                                    features=data.draw(features), looked_up={})
    except MappingFailed as failed:  # the error log: only what a retry can fix
        assert "never created" in str(failed)
        event("error log")
        return
    notes = [e for e in effects if isinstance(e, core.Notify)]
    assert len(notes) <= 1
    event(f"refused {notes[0].code}" if notes else " + ".join(sorted({type(e).__name__ for e in effects})) or "nothing")
    if notes:
        assert any(isinstance(e, core.Write) for e in effects), "a refusal puts the row back"
        assert not any(isinstance(e, core.Forward) for e in effects)
        assert len(notes[0].text) < 400
    for effect in effects:
        if isinstance(effect, core.Forward):
            the_scm_service_answers(effect)


@given(raw=changes("quote"), data=st.data())
def test_quote_changes(raw: dict[str, Any], data: st.DataObject) -> None:
    decide(MAPS["quote"], raw, data)


@given(raw=changes("quotedetail"), data=st.data())
def test_quote_line_changes(raw: dict[str, Any], data: st.DataObject) -> None:
    decide(MAPS["quotedetail"], raw, data)


@given(raw=changes("salesorder"), data=st.data())
def test_sales_order_changes(raw: dict[str, Any], data: st.DataObject) -> None:
    decide(MAPS["salesorder"], raw, data)


@given(raw=changes("salesorderdetail"), data=st.data())
def test_sales_order_line_changes(raw: dict[str, Any], data: st.DataObject) -> None:
    decide(MAPS["salesorderdetail"], raw, data)


@given(raw=changes("invoice"), data=st.data())
def test_invoice_changes(raw: dict[str, Any], data: st.DataObject) -> None:
    decide(MAPS["invoice"], raw, data)


@given(raw=changes("invoicedetail"), data=st.data())
def test_invoice_line_changes(raw: dict[str, Any], data: st.DataObject) -> None:
    decide(MAPS["invoicedetail"], raw, data)
