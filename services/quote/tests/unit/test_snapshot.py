"""The quotation as `scm.quote.events` carries it (CONTRACT.md §5): SCM data-entity field names
in upper case, `lines` and `journals` in lower case, money as two-decimal strings, quantities
as minimal decimal strings, and each line's SALESQUOTATIONSTATUS equal to its header's.

`CONTRACT_QUOTATION` is the example of CONTRACT.md §5, copied verbatim.
"""

from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from quote_service.domain import Features, Journal, Line, Quotation, new_quotation, snapshot

CONTRACT_QUOTATION: dict[str, Any] = {
    "SALESQUOTATIONNUMBER": "C-1001", "SALESQUOTATIONSTATUS": "sent",
    "SALESQUOTATIONHEADERCREATIONMETHOD": "Dynamics365Sales",
    "SALESQUOTATIONOWNERSHIP": "BasedOnOrigin",
    "SALESQUOTATIONNAME": "Office PCs", "REQUESTINGCUSTOMERACCOUNTNUMBER": "US-001", "CURRENCYCODE": "USD",
    "GENERATEDSALESORDERNUMBER": None,
    "lines": [{"LINECREATIONSEQUENCENUMBER": 1, "PRODUCTNUMBER": "PC-1",
               "REQUESTEDSALESQUANTITY": "3", "SALESPRICE": "500.00",
               "LINEDISCOUNTAMOUNT": "3.33", "TOTALCHARGESAMOUNT": "-0.01",
               "SHIPPINGSITEID": "1", "SHIPPINGWAREHOUSEID": "11", "LINEAMOUNT": "1490.00",
               "SALESQUOTATIONSTATUS": "sent"}],
    "journals": [{"type": "quotation", "journal_number": "QJ-000001"}],
}
HEADER_KEYS = set(CONTRACT_QUOTATION)
LINE_KEYS = set(CONTRACT_QUOTATION["lines"][0])
JOURNAL_KEYS = set(CONTRACT_QUOTATION["journals"][0])
# REQUESTEDSHIPPINGDATE is not in the §5 example. It is an SCM entity field of the header map
# (DUALWRITE-REFERENCE §4.2, ↔ `requestdeliveryby`, a v1 column in CONTRACT §1), so §5's rule
# "field names are the SCM data-entity names" allows it; the strict key-set test below does not.
ALLOWED_EXTRA_HEADER_KEYS = {"REQUESTEDSHIPPINGDATE"}


def contract_quote(**changes: Any) -> Quotation:
    """The quotation of the CONTRACT §5 example, as the quote service holds it."""
    base = Quotation(
        number="C-1001", status="sent", origin="Dynamics365Sales", ownership="BasedOnOrigin", customer="US-001",
        currency="USD", name="Office PCs",
        lines=(Line(sequence=1, product="PC-1", quantity=Decimal("3"), unit_price=Decimal("500.00"),
                    line_discount=Decimal("3.33"), charges=Decimal("-0.01"), site="1", warehouse="11"),),
        journals=(Journal("QJ-000001", "quotation"),), version=4)
    return replace(base, **changes)


def dump(quote: Quotation) -> dict[str, Any]:
    return snapshot(quote).model_dump(mode="json")


def test_contract_example_values() -> None:
    data = dump(contract_quote())

    assert {k: v for k, v in data.items() if k in HEADER_KEYS} == CONTRACT_QUOTATION
    assert set(data) - HEADER_KEYS <= ALLOWED_EXTRA_HEADER_KEYS


def test_snapshot_has_exactly_the_contract_fields() -> None:
    """CONTRACT §5 names the fields of the quotation; the snapshot has those, plus
    REQUESTEDSHIPPINGDATE, the entity field of the v1 Sales column `requestdeliveryby`
    (CONTRACT §1; docs/decisions.md), which readers that do not know it ignore (§0)."""
    data = dump(contract_quote())

    assert set(data) == HEADER_KEYS | {"REQUESTEDSHIPPINGDATE"}
    assert set(data["lines"][0]) == LINE_KEYS
    assert set(data["journals"][0]) == JOURNAL_KEYS


def test_line_and_journal_key_sets() -> None:
    data = dump(contract_quote())

    assert [set(line) for line in data["lines"]] == [LINE_KEYS]
    assert [set(journal) for journal in data["journals"]] == [JOURNAL_KEYS]


def test_snapshot_of_a_quote_created_from_command_data() -> None:
    data = {"customer_account": "US-001", "currency": "USD", "name": "Office PCs", "lines": [
        {"product_number": "PC-1", "quantity": "3", "unit_price": "500.00", "line_discount_amount": "3.33",
         "total_charges_amount": "-0.01"}]}
    quote = new_quotation("C-1001", "sales", data, Features())

    result = dump(quote)

    expected_line = {**CONTRACT_QUOTATION["lines"][0], "SALESQUOTATIONSTATUS": "created"}
    assert result["lines"] == [expected_line]
    assert result["SALESQUOTATIONSTATUS"] == "created"
    assert result["SALESQUOTATIONHEADERCREATIONMETHOD"] == "Dynamics365Sales"
    assert result["journals"] == []


@pytest.mark.parametrize("status", ["created", "sent", "confirmed", "lost", "cancelled", "revised"])
def test_every_line_carries_the_header_status(status: str) -> None:
    lines = tuple(Line(sequence=n, product=f"P-{n}", quantity=Decimal("1"), unit_price=Decimal("1"),
                       line_discount=Decimal("0"), charges=Decimal("0"), site="1", warehouse="11") for n in (1, 2, 3))

    data = dump(contract_quote(status=status, lines=lines))

    assert data["SALESQUOTATIONSTATUS"] == status
    assert [line["SALESQUOTATIONSTATUS"] for line in data["lines"]] == [status] * 3


@pytest.mark.parametrize(
    ("qty", "price", "discount", "charges", "expected"),
    [
        pytest.param("3", "500.00", "3.33", "-0.01",
                     {"REQUESTEDSALESQUANTITY": "3", "SALESPRICE": "500.00", "LINEDISCOUNTAMOUNT": "3.33",
                      "TOTALCHARGESAMOUNT": "-0.01", "LINEAMOUNT": "1490.00"}, id="contract-example"),
        pytest.param("3.000", "500", "0", "0",
                     {"REQUESTEDSALESQUANTITY": "3", "SALESPRICE": "500.00", "LINEDISCOUNTAMOUNT": "0.00",
                      "TOTALCHARGESAMOUNT": "0.00", "LINEAMOUNT": "1500.00"}, id="integers-padded-trailing-zeros-cut"),
        pytest.param("2.50", "3.33", "0", "0",
                     {"REQUESTEDSALESQUANTITY": "2.5", "SALESPRICE": "3.33", "LINEDISCOUNTAMOUNT": "0.00",
                      "TOTALCHARGESAMOUNT": "0.00", "LINEAMOUNT": "8.33"}, id="fractional-quantity"),
        pytest.param("100.00", "0.5", "0.1", "0.01",
                     {"REQUESTEDSALESQUANTITY": "100", "SALESPRICE": "0.50", "LINEDISCOUNTAMOUNT": "0.10",
                      "TOTALCHARGESAMOUNT": "0.01", "LINEAMOUNT": "40.01"}, id="hundred-no-exponent"),
    ],
)
def test_line_numbers_as_decimal_strings(qty: str, price: str, discount: str, charges: str,
                                         expected: dict[str, str]) -> None:
    line = Line(sequence=1, product="PC-1", quantity=Decimal(qty), unit_price=Decimal(price),
                line_discount=Decimal(discount), charges=Decimal(charges), site="1", warehouse="11")

    (result,) = dump(contract_quote(lines=(line,)))["lines"]

    assert {k: result[k] for k in expected} == expected
    assert all(isinstance(result[k], str) for k in expected)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        pytest.param({"origin": "SCM", "number": "F-000007"},
                     {"SALESQUOTATIONHEADERCREATIONMETHOD": "SCM", "SALESQUOTATIONNUMBER": "F-000007"},
                     id="scm-origin"),
        pytest.param({"ownership": "Dynamics365Sales"}, {"SALESQUOTATIONOWNERSHIP": "Dynamics365Sales"},
                     id="ownership-sales"),
        pytest.param({"ownership": "SCM"}, {"SALESQUOTATIONOWNERSHIP": "SCM"}, id="ownership-scm"),
        pytest.param({"name": None}, {"SALESQUOTATIONNAME": None}, id="no-name"),
        pytest.param({"status": "confirmed", "generated_sales_order": "SO-1"},
                     {"SALESQUOTATIONSTATUS": "confirmed", "GENERATEDSALESORDERNUMBER": "SO-1"},
                     id="generated-sales-order"),
        pytest.param({"customer": "US-002", "currency": "EUR"},
                     {"REQUESTINGCUSTOMERACCOUNTNUMBER": "US-002", "CURRENCYCODE": "EUR"}, id="customer-and-currency"),
        pytest.param({"lines": ()}, {"lines": []}, id="no-lines"),
        pytest.param({"journals": ()}, {"journals": []}, id="no-journals"),
        pytest.param({"journals": (Journal("QJ-000001", "quotation"), Journal("CJ-000001", "confirmation"))},
                     {"journals": [{"type": "quotation", "journal_number": "QJ-000001"},
                                   {"type": "confirmation", "journal_number": "CJ-000001"}]},
                     id="journals-in-order"),
    ],
)
def test_header_fields(changes: dict[str, Any], expected: dict[str, Any]) -> None:
    data = dump(contract_quote(**changes))

    assert {k: data[k] for k in expected} == expected


def test_lines_in_the_snapshot_follow_the_quotation() -> None:
    lines = tuple(Line(sequence=n, product=f"P-{n}", quantity=Decimal("1"), unit_price=Decimal("1"),
                       line_discount=Decimal("0"), charges=Decimal("0"), site="1", warehouse="11") for n in (1, 2, 5))

    data = dump(contract_quote(lines=lines))

    assert [(x["LINECREATIONSEQUENCENUMBER"], x["PRODUCTNUMBER"]) for x in data["lines"]] == \
        [(1, "P-1"), (2, "P-2"), (5, "P-5")]
