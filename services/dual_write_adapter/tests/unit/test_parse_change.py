"""A Dataverse change must name its row by alternate key (CONTRACT.md §1); one that does not
is not what the topic carries and is dead-lettered (ContractViolation), not error-logged."""

import re

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
    ("quote", change("quote", {"msdyn_quotenumber": "C-\x001"}), "alternate key must not contain"),
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


def test_a_nul_outside_a_text_column_is_a_contract_violation() -> None:
    """The e2e fuzz run (seed 854860565): the adapter saved such a record and failed on every
    attempt, as PostgreSQL holds no U+0000. A text column's NUL is refused later (DOMAIN §5)."""
    key = {"msdyn_quotenumber": "C-1"}
    for raw, where in [(change("quote", {**key, "unknown": "\x00"}), "record.unknown"),
                       (change("quote", {**key, "unknown": [{"a": "\x00"}]}), "record.unknown[0].a"),
                       (change("quote", {**key, "x\x00": 1}), "record.'x\\x00'"),
                       ({**change("quote", key), "user": "al\x00ice"}, "user")]:
        with pytest.raises(ContractViolation, match=re.escape(f"{where} must not contain U+0000")):
            parse_change(raw, MAP_OF["quote"])
    assert parse_change(change("quote", {**key, "name": "\x00"}), MAP_OF["quote"]).record["name"] == "\x00"


# CONTRACT §0, DOMAIN §5: a wrong JSON type is dead-lettered at parse time; the value itself
# (a string that is no decimal, say) is judged later and refused with a notification.
@pytest.mark.parametrize(("table", "record", "fragment"), [
    ("quotedetail", {"msdyn_quotenumber": "C-1", "sequencenumber": 1, "priceperunit": 1.5},
     "record.priceperunit must be a decimal string, got float 1.5"),
    ("quotedetail", {"msdyn_quotenumber": "C-1", "sequencenumber": 1, "quantity": 3},
     "record.quantity must be a decimal string, got int 3"),
    ("quote", {"msdyn_quotenumber": "C-1", "statecode": "one"}, "record.statecode must be an integer, got str 'one'"),
    ("quote", {"msdyn_quotenumber": "C-1", "statuscode": True}, "record.statuscode must be an integer, got bool"),
    ("quote", {"msdyn_quotenumber": "C-1", "statecode": 1.0}, "record.statecode must be an integer"),
    ("quote", {"msdyn_quotenumber": "C-1", "name": 42}, "record.name must be a string, got int 42"),
    ("quote", {"msdyn_quotenumber": "C-1", "name": ["a"]}, "record.name must be a string, got list"),
    ("salesorder", {"msdyn_salesordernumber": "C-SO-1", "msdyn_processingstatus": "active"},
     "record.msdyn_processingstatus must be an integer"),
    ("salesorderdetail", {"msdyn_salesordernumber": "C-SO-1", "sequencenumber": 1, "manualdiscountamount": {}},
     "record.manualdiscountamount must be a decimal string"),
    ("invoice", {"msdyn_invoicenumber": "F-INV-1", "ispricelocked": "false"}, "record.ispricelocked must be a boolean"),
])
def test_a_column_of_the_wrong_json_type_is_a_contract_violation(table: str, record: dict, fragment: str) -> None:
    with pytest.raises(ContractViolation, match=re.escape(fragment)):
        parse_change(change(table, record), MAP_OF[table])


@pytest.mark.parametrize(("table", "record"), [
    ("quotedetail", {"msdyn_quotenumber": "C-1", "sequencenumber": 1, "quantity": "NaN", "priceperunit": "1e400"}),
    ("quote", {"msdyn_quotenumber": "C-1", "statecode": 99, "statuscode": 99, "name": None}),
    ("quote", {"msdyn_quotenumber": "C-1", "somethingelse": 1.5}),  # columns nobody maps are ignored
    ("invoice", {"msdyn_invoicenumber": "F-INV-1", "ispricelocked": False}),
])
def test_well_typed_values_pass_the_parse_to_be_judged_later(table: str, record: dict) -> None:
    assert parse_change(change(table, record), MAP_OF[table]).record == record
