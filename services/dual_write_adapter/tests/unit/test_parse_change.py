"""A Dataverse change must name its row by alternate key (CONTRACT.md §1); one that does not
is not what the topic carries and is dead-lettered (ContractViolation), not error-logged."""

import pytest

from dual_write_adapter.app import parse_change
from dual_write_adapter.tablemap import load_maps
from q2c_messaging.consumer import ContractViolation

MAP_OF = {m.sales_table: m for m in load_maps().values()}


def change(table: str, record: dict) -> dict:
    return {"message_id": "m-1", "table": table, "operation": "update", "record": record}


@pytest.mark.parametrize(("table", "record"), [
    ("quote", {"msdyn_quotenumber": "C-1001", "name": "x"}),
    ("quote", {"quoteid": "q", "msdyn_quotenumber": "C-1001"}),
    ("quotedetail", {"msdyn_quotenumber": "C-1001", "sequencenumber": 1}),
    ("salesorder", {"msdyn_salesordernumber": "C-SO-1"}),
    ("salesorderdetail", {"msdyn_salesordernumber": "C-SO-1", "sequencenumber": 2}),
    ("invoice", {"msdyn_invoicenumber": "F-INV-000001"}),
    ("invoicedetail", {"msdyn_invoicenumber": "F-INV-000001", "sequencenumber": 1}),
])
def test_a_change_with_its_alternate_key_is_accepted(table: str, record: dict) -> None:
    assert parse_change(change(table, record), MAP_OF[table]).record == record


@pytest.mark.parametrize(("table", "raw", "fragment"), [
    ("quote", change("quote", {"quoteid": "q"}), "msdyn_quotenumber"),
    ("quote", change("quote", {"msdyn_quotenumber": ""}), "msdyn_quotenumber"),
    ("quote", change("quote", {"msdyn_quotenumber": 1001}), "msdyn_quotenumber"),
    ("quotedetail", change("quotedetail", {"msdyn_quotenumber": "C-1"}), "sequencenumber"),
    ("quotedetail", change("quotedetail", {"msdyn_quotenumber": "C-1", "sequencenumber": "1"}), "sequencenumber"),
    ("quotedetail", change("quotedetail", {"msdyn_quotenumber": "C-1", "sequencenumber": True}), "sequencenumber"),
    ("quote", change("quotedetail", {"msdyn_quotenumber": "C-1", "sequencenumber": 1}), "quotedetail"),
    ("salesorder", change("salesorder", {"salesorderid": "o"}), "msdyn_salesordernumber"),
    ("salesorderdetail", change("salesorderdetail", {"msdyn_salesordernumber": "C-SO-1"}), "sequencenumber"),
    ("invoice", change("invoice", {"msdyn_invoicenumber": None}), "msdyn_invoicenumber"),
    ("invoicedetail", change("invoicedetail", {"msdyn_invoicenumber": "F-INV-1", "sequencenumber": 1.0}),
     "sequencenumber"),
])
def test_a_change_without_its_alternate_key_is_a_contract_violation(table: str, raw: dict, fragment: str) -> None:
    with pytest.raises(ContractViolation, match=fragment):
        parse_change(raw, MAP_OF[table])
