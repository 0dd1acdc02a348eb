"""The real table maps (maps/*.yaml) as the interpreter runs them, against the documents:
CONTRACT.md §1–§2 and §5, DOMAIN.md §1 and §4, DUALWRITE-REFERENCE §1.1, §3.3, §3.6, §4.2–4.3.

Expected values are written from the documents, not read from the maps.
"""

from typing import Any

import pytest

from dual_write_adapter.tablemap import MappingFailed, TableMap, load_maps

LIFECYCLE_ON = {"IntegrateQuotationLifecycle": True}
LIFECYCLE_OFF = {"IntegrateQuotationLifecycle": False}
PRICE_MASTER_ON = {"PriceMaster": True}
PRICE_MASTER_OFF = {"PriceMaster": False}

# DOMAIN.md §1 (Sales state) and DUALWRITE-REFERENCE §1.1 (status option values)
STATUSES = [
    # SCM status, msdyn_salesquotationstatus, statecode, statuscode
    pytest.param("created", 192350000, 0, 1, id="created"),
    pytest.param("sent", 192350001, 1, 2, id="sent"),
    pytest.param("confirmed", 192350002, 2, 4, id="confirmed"),
    pytest.param("lost", 192350003, 3, 5, id="lost"),
    pytest.param("cancelled", 192350004, 3, 6, id="cancelled"),
    pytest.param("revised", 192350009, 3, 7, id="revised"),
]
ORIGINS = [  # CONTRACT.md §2, DUALWRITE-REFERENCE §1.1
    pytest.param("SCM", 776160000, id="SCM"),
    pytest.param("Dynamics365Sales", 776160001, id="Dynamics365Sales"),
]
OWNERSHIPS = [
    pytest.param("BasedOnOrigin", 776160000, id="BasedOnOrigin"),
    pytest.param("SCM", 776160001, id="SCM"),
    pytest.param("Dynamics365Sales", 776160002, id="Dynamics365Sales"),
]


@pytest.fixture(scope="module")
def maps() -> dict[str, TableMap]:
    return load_maps()


@pytest.fixture(scope="module")
def header(maps: dict[str, TableMap]) -> TableMap:
    return maps["quotation-header"]


@pytest.fixture(scope="module")
def lines(maps: dict[str, TableMap]) -> TableMap:
    return maps["quotation-lines"]


@pytest.fixture(scope="module")
def feature_states(maps: dict[str, TableMap]) -> TableMap:
    return maps["feature-states"]


def snapshot(**overrides: Any) -> dict[str, Any]:
    """The quotation of CONTRACT.md §5, header fields only."""
    base = {
        "SALESQUOTATIONNUMBER": "C-1001", "SALESQUOTATIONSTATUS": "sent",
        "SALESQUOTATIONHEADERCREATIONMETHOD": "Dynamics365Sales", "SALESQUOTATIONOWNERSHIP": "BasedOnOrigin",
        "SALESQUOTATIONNAME": "Office PCs", "REQUESTINGCUSTOMERACCOUNTNUMBER": "US-001", "CURRENCYCODE": "USD",
        "GENERATEDSALESORDERNUMBER": None,
    }
    return {**base, **overrides}


def scm_line(**overrides: Any) -> dict[str, Any]:
    """The line of CONTRACT.md §5, with its quotation's number as the adapter maps it."""
    base = {
        "SALESQUOTATIONNUMBER": "C-1001", "LINECREATIONSEQUENCENUMBER": 1, "PRODUCTNUMBER": "PC-1",
        "REQUESTEDSALESQUANTITY": "3", "SALESPRICE": "500.00", "LINEDISCOUNTAMOUNT": "3.33",
        "TOTALCHARGESAMOUNT": "-0.01", "SHIPPINGSITEID": "1", "SHIPPINGWAREHOUSEID": "11", "LINEAMOUNT": "1490.00",
        "SALESQUOTATIONSTATUS": "sent",
    }
    return {**base, **overrides}


def sales_quote(**overrides: Any) -> dict[str, Any]:
    """The Sales create record of CONTRACT.md §1."""
    base = {
        "quoteid": "9d6e", "msdyn_quotenumber": "C-1001", "name": "Office PCs", "customerid": "US-001",
        "transactioncurrencyid": "USD", "statecode": 0, "statuscode": 1, "revisionnumber": 0,
    }
    return {**base, **overrides}


def sales_line(**overrides: Any) -> dict[str, Any]:
    base = {
        "quotedetailid": "d-1", "quoteid": "9d6e", "msdyn_quotenumber": "C-1001", "sequencenumber": 1,
        "productid": "PC-1", "quantity": "3", "priceperunit": "500.00", "manualdiscountamount": "10.00",
        "msdyn_shippingsite": "1", "msdyn_shippingwarehouse": "11", "uomid": "pcs",
    }
    return {**base, **overrides}


# --- quotation header: SCM → Sales ---------------------------------------------------------------


def test_header_contract_example(header: TableMap) -> None:
    """CONTRACT.md §2: the example write of C-1001, sent, Sales origin, based on origin."""
    record = header.to_sales(snapshot(), LIFECYCLE_ON)

    expected = {
        "msdyn_quotenumber": "C-1001", "msdyn_salesquotationstatus": 192350001,
        "msdyn_quotationcreationmethod": 776160001, "msdyn_quotationownership": 776160000,
        "statecode": 1, "statuscode": 2,
    }
    assert {k: record.get(k) for k in expected} == expected
    assert header.alternate_key(record) == {"msdyn_quotenumber": "C-1001"}
    assert header.key_string(record) == "C-1001"


@pytest.mark.parametrize(("status", "option", "statecode", "statuscode"), STATUSES)
def test_header_status_and_sales_state(header: TableMap, status: str, option: int, statecode: int,
                                       statuscode: int) -> None:
    record = header.to_sales(snapshot(SALESQUOTATIONSTATUS=status), LIFECYCLE_ON)

    assert record["msdyn_salesquotationstatus"] == option
    assert (record["statecode"], record["statuscode"]) == (statecode, statuscode)


@pytest.mark.parametrize(("status", "option", "statecode", "statuscode"), STATUSES)
def test_header_without_lifecycle_feature_writes_no_sales_state(header: TableMap, status: str, option: int,
                                                                statecode: int, statuscode: int) -> None:
    """DOMAIN.md §1 / CONTRACT.md §2: with the lifecycle feature off, q2c writes no Sales state."""
    record = header.to_sales(snapshot(SALESQUOTATIONSTATUS=status), LIFECYCLE_OFF)

    assert "statecode" not in record
    assert "statuscode" not in record
    assert record["msdyn_salesquotationstatus"] == option


@pytest.mark.parametrize(("origin", "option"), ORIGINS)
def test_header_origin(header: TableMap, origin: str, option: int) -> None:
    record = header.to_sales(snapshot(SALESQUOTATIONHEADERCREATIONMETHOD=origin), LIFECYCLE_ON)

    assert record["msdyn_quotationcreationmethod"] == option


@pytest.mark.parametrize(("ownership", "option"), OWNERSHIPS)
def test_header_ownership(header: TableMap, ownership: str, option: int) -> None:
    record = header.to_sales(snapshot(SALESQUOTATIONOWNERSHIP=ownership), LIFECYCLE_ON)

    assert record["msdyn_quotationownership"] == option


@pytest.mark.parametrize("features", [pytest.param(LIFECYCLE_ON, id="lifecycle-on"),
                                      pytest.param(LIFECYCLE_OFF, id="lifecycle-off")])
def test_header_carries_data_columns(header: TableMap, features: dict[str, bool]) -> None:
    scm = snapshot(REQUESTEDSHIPPINGDATE="2026-12-01", GENERATEDSALESORDERNUMBER="F-SO-000001")

    record = header.to_sales(scm, features)

    assert record["name"] == "Office PCs"
    assert record["customerid"] == "US-001"
    assert record["transactioncurrencyid"] == "USD"
    assert record["requestdeliveryby"] == "2026-12-01"
    assert record["msdyn_generatedsalesordernumber"] == "F-SO-000001"


def test_header_always_writes_the_contract_columns(header: TableMap) -> None:
    """CONTRACT.md §2: quote columns always written (state only with the lifecycle feature)."""
    always = {"msdyn_quotenumber", "msdyn_salesquotationstatus", "msdyn_quotationcreationmethod",
              "msdyn_quotationownership"}

    assert always | {"statecode", "statuscode"} <= set(header.to_sales(snapshot(), LIFECYCLE_ON))
    assert always <= set(header.to_sales(snapshot(), LIFECYCLE_OFF))


# --- quotation header: Sales → SCM -------------------------------------------------------------


@pytest.mark.parametrize(
    ("record", "changed", "expected"),
    [
        pytest.param(sales_quote(), None,
                     {"name": "Office PCs", "customer_account": "US-001", "currency": "USD"},
                     id="create-all-columns"),
        pytest.param(sales_quote(requestdeliveryby="2026-12-01"), None,
                     {"name": "Office PCs", "customer_account": "US-001", "currency": "USD",
                      "requested_shipping_date": "2026-12-01"},
                     id="create-with-delivery-date"),
        pytest.param(sales_quote(name=None), None,
                     {"name": None, "customer_account": "US-001", "currency": "USD"},
                     id="create-name-cleared"),
        pytest.param({"msdyn_quotenumber": "C-1001", "customerid": "US-002"}, None,
                     {"customer_account": "US-002"}, id="only-present-columns"),
        pytest.param(sales_quote(), {"name"}, {"name": "Office PCs"}, id="changed-name"),
        pytest.param(sales_quote(), {"customerid", "transactioncurrencyid"},
                     {"customer_account": "US-001", "currency": "USD"}, id="changed-customer-and-currency"),
        pytest.param(sales_quote(), set(), {}, id="nothing-changed"),
        pytest.param(sales_quote(), {"revisionnumber"}, {}, id="unmapped-column-changed"),
        pytest.param(sales_quote(), {"statecode", "statuscode"}, {}, id="state-changed-is-no-data"),
    ],
)
def test_header_command_data(header: TableMap, record: dict[str, Any], changed: set[str] | None,
                             expected: dict[str, Any]) -> None:
    assert header.command_data(record, LIFECYCLE_ON, changed) == expected


SCM_OWNED_HEADER_ROW = {
    "msdyn_quotenumber": "C-1001", "msdyn_salesquotationstatus": 192350002,
    "msdyn_quotationcreationmethod": 776160000, "msdyn_quotationownership": 776160002,
    "msdyn_generatedsalesordernumber": "F-SO-000001", "statecode": 2, "statuscode": 4,
    "totalamount": "1490.00", "discountamount": "10.00",
}


@pytest.mark.parametrize("features", [pytest.param(LIFECYCLE_ON, id="lifecycle-on"),
                                      pytest.param(LIFECYCLE_OFF, id="lifecycle-off")])
@pytest.mark.parametrize("changed", [pytest.param(None, id="create"),
                                     pytest.param(set(SCM_OWNED_HEADER_ROW), id="update")])
def test_scm_owned_and_state_columns_never_produce_command_data(header: TableMap, features: dict[str, bool],
                                                                changed: set[str] | None) -> None:
    assert header.command_data(SCM_OWNED_HEADER_ROW, features, changed) == {}


@pytest.mark.parametrize("column", ["msdyn_salesquotationstatus", "msdyn_quotationcreationmethod",
                                    "msdyn_quotationownership", "msdyn_generatedsalesordernumber",
                                    "statecode", "statuscode"])
def test_each_scm_owned_column_alone_gives_no_command_data(header: TableMap, column: str) -> None:
    row = sales_quote(**{column: SCM_OWNED_HEADER_ROW[column]})

    assert header.command_data(row, LIFECYCLE_ON, {column}) == {}


def test_header_scm_owned_columns(header: TableMap) -> None:
    one_way = {"msdyn_salesquotationstatus", "msdyn_quotationcreationmethod", "msdyn_quotationownership",
               "msdyn_generatedsalesordernumber"}

    assert header.scm_owned_columns(LIFECYCLE_ON) == one_way | {"statecode", "statuscode"}
    assert header.scm_owned_columns(LIFECYCLE_OFF) == one_way


def test_header_round_trip_of_two_way_columns(header: TableMap) -> None:
    """What SCM writes to Sales for a two-way column comes back as the same command value."""
    scm = snapshot(REQUESTEDSHIPPINGDATE="2026-12-01")

    data = header.command_data(header.to_sales(scm, LIFECYCLE_ON), LIFECYCLE_ON)

    assert data == {"name": "Office PCs", "customer_account": "US-001", "currency": "USD",
                    "requested_shipping_date": "2026-12-01"}


# --- quotation lines: SCM → Sales --------------------------------------------------------------


def test_line_contract_example(lines: TableMap) -> None:
    """CONTRACT.md §5 line; discount joined back per DOMAIN.md §4 (3 × 3.33 − (−0.01) = 10.00)."""
    record = lines.to_sales(scm_line(), PRICE_MASTER_OFF)

    assert record == {
        "msdyn_quotenumber": "C-1001", "sequencenumber": 1, "productid": "PC-1", "quantity": "3",
        "priceperunit": "500.00", "manualdiscountamount": "10.00", "msdyn_shippingsite": "1",
        "msdyn_shippingwarehouse": "11", "extendedamount": "1490.00", "msdyn_salesquotationstatus": 192350001,
    }
    assert lines.key_string(record) == "C-1001/1"
    assert lines.alternate_key(record) == {"msdyn_quotenumber": "C-1001", "sequencenumber": 1}


@pytest.mark.parametrize(
    ("per_unit", "charge", "qty", "manual"),
    [
        pytest.param("3.33", "-0.01", "3", "10.00", id="10.00-over-3"),
        pytest.param("6.67", "0.01", "3", "20.00", id="20.00-over-3"),
        pytest.param("16.67", "0.02", "6", "100.00", id="100.00-over-6"),
        pytest.param("3.00", "0.00", "3", "9.00", id="exact"),
        pytest.param("0.00", "0.00", "3", "0.00", id="no-discount"),
    ],
)
def test_line_discount_joined_to_sales(lines: TableMap, per_unit: str, charge: str, qty: str, manual: str) -> None:
    record = lines.to_sales(scm_line(LINEDISCOUNTAMOUNT=per_unit, TOTALCHARGESAMOUNT=charge,
                                     REQUESTEDSALESQUANTITY=qty), PRICE_MASTER_OFF)

    assert record["manualdiscountamount"] == manual
    assert "msdyn_linediscountamount" not in record


@pytest.mark.parametrize(("status", "option", "statecode", "statuscode"), STATUSES)
def test_line_status(lines: TableMap, status: str, option: int, statecode: int, statuscode: int) -> None:
    record = lines.to_sales(scm_line(SALESQUOTATIONSTATUS=status), PRICE_MASTER_OFF)

    assert record["msdyn_salesquotationstatus"] == option
    assert "statecode" not in record


def test_line_price_master_writes_per_unit_discount(lines: TableMap) -> None:
    """DUALWRITE-REFERENCE §3.3 / §5.1: with SCM price master, no split; the per-unit amount."""
    record = lines.to_sales(scm_line(), PRICE_MASTER_ON)

    assert record["msdyn_linediscountamount"] == "3.33"
    assert "manualdiscountamount" not in record
    assert record["extendedamount"] == "1490.00"
    assert record["priceperunit"] == "500.00"
    assert record["quantity"] == "3"


def test_line_scm_owned_columns(lines: TableMap) -> None:
    assert lines.scm_owned_columns(PRICE_MASTER_OFF) == {"extendedamount", "msdyn_salesquotationstatus"}


@pytest.mark.parametrize(
    ("overrides", "column", "expected"),
    [
        pytest.param({"REQUESTEDSALESQUANTITY": "3.000"}, "quantity", "3", id="quantity-normalised"),
        pytest.param({"REQUESTEDSALESQUANTITY": "2.5"}, "quantity", "2.5", id="quantity-fraction"),
        pytest.param({"SALESPRICE": "500"}, "priceperunit", "500.00", id="price-two-decimals"),
        pytest.param({"LINEAMOUNT": "1490"}, "extendedamount", "1490.00", id="amount-two-decimals"),
    ],
)
def test_line_number_formats(lines: TableMap, overrides: dict[str, str], column: str, expected: str) -> None:
    """CONTRACT.md §0: money and quantities are decimal strings ("10.00", "3")."""
    assert lines.to_sales(scm_line(**overrides), PRICE_MASTER_OFF)[column] == expected


# --- quotation lines: Sales → SCM --------------------------------------------------------------


def test_line_command_data_splits_the_discount(lines: TableMap) -> None:
    data = lines.command_data(sales_line(), PRICE_MASTER_OFF)

    assert data == {
        "sequence_number": 1, "product_number": "PC-1", "quantity": "3", "unit_price": "500.00",
        "site": "1", "warehouse": "11", "line_discount_amount": "3.33", "total_charges_amount": "-0.01",
    }


@pytest.mark.parametrize(
    ("row", "changed", "expected"),
    [
        pytest.param(sales_line(quantity="4"), {"quantity"},
                     {"quantity": "4", "line_discount_amount": "2.50", "total_charges_amount": "0.00"},
                     id="quantity-change-recomputes-split"),
        pytest.param(sales_line(quantity="3"), {"quantity"},
                     {"quantity": "3", "line_discount_amount": "3.33", "total_charges_amount": "-0.01"},
                     id="quantity-3"),
        pytest.param(sales_line(manualdiscountamount="20.00"), {"manualdiscountamount"},
                     {"line_discount_amount": "6.67", "total_charges_amount": "0.01"},
                     id="discount-change-20.00-over-3"),
        pytest.param(sales_line(manualdiscountamount="9.00"), {"manualdiscountamount"},
                     {"line_discount_amount": "3.00", "total_charges_amount": "0.00"},
                     id="discount-change-exact"),
        pytest.param(sales_line(manualdiscountamount=None), {"manualdiscountamount"},
                     {"line_discount_amount": "0.00", "total_charges_amount": "0.00"},
                     id="discount-cleared"),
        pytest.param(sales_line(priceperunit="450"), {"priceperunit"}, {"unit_price": "450.00"},
                     id="price-change"),
        pytest.param(sales_line(msdyn_shippingwarehouse="12"), {"msdyn_shippingwarehouse"}, {"warehouse": "12"},
                     id="warehouse-change"),
        pytest.param(sales_line(), {"uomid"}, {}, id="unmapped-column"),
        pytest.param(sales_line(), {"extendedamount", "msdyn_salesquotationstatus"}, {},
                     id="scm-owned-columns"),
    ],
)
def test_line_command_data_for_changes(lines: TableMap, row: dict[str, Any], changed: set[str],
                                       expected: dict[str, Any]) -> None:
    assert lines.command_data(row, PRICE_MASTER_OFF, changed) == expected


def test_line_scm_owned_columns_never_produce_command_data(lines: TableMap) -> None:
    row = {"msdyn_quotenumber": "C-1001", "extendedamount": "1490.00", "msdyn_salesquotationstatus": 192350001}

    assert lines.command_data(row, PRICE_MASTER_OFF) == {}


@pytest.mark.parametrize(
    ("row", "changed", "expected"),
    [
        pytest.param(sales_line(msdyn_linediscountamount="3.33"), None,
                     {"sequence_number": 1, "product_number": "PC-1", "quantity": "3", "unit_price": "500.00",
                      "site": "1", "warehouse": "11", "line_discount_amount": "3.33"},
                     id="create"),
        pytest.param(sales_line(msdyn_linediscountamount="3.5"), {"msdyn_linediscountamount"},
                     {"line_discount_amount": "3.50"}, id="per-unit-discount-change"),
        pytest.param(sales_line(quantity="4", msdyn_linediscountamount="3.33"), {"quantity"},
                     {"quantity": "4"}, id="quantity-change-no-split"),
        pytest.param(sales_line(manualdiscountamount="12.00"), {"manualdiscountamount"}, {},
                     id="manual-discount-is-scm-computed"),
    ],
)
def test_line_command_data_with_price_master(lines: TableMap, row: dict[str, Any], changed: set[str] | None,
                                             expected: dict[str, Any]) -> None:
    """DUALWRITE-REFERENCE §3.3: Sales' line discount amount is per unit; no split, no charges."""
    assert lines.command_data(row, PRICE_MASTER_ON, changed) == expected


def test_line_round_trip_of_discount(lines: TableMap) -> None:
    """SCM → Sales → SCM gives back the per-unit discount and the charge."""
    data = lines.command_data(lines.to_sales(scm_line(), PRICE_MASTER_OFF), PRICE_MASTER_OFF)

    assert data["line_discount_amount"] == "3.33"
    assert data["total_charges_amount"] == "-0.01"


# --- feature states ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "statecode"),
    [
        pytest.param("PriceMaster", True, 0, id="enabled"),
        pytest.param("PriceMaster", False, 1, id="disabled"),
        pytest.param("IntegrateQuotationLifecycle", True, 0, id="lifecycle-enabled"),
        pytest.param("UseMessageProcessor", False, 1, id="processor-disabled"),
    ],
)
def test_feature_state(feature_states: TableMap, name: str, value: bool, statecode: int) -> None:
    """DUALWRITE-REFERENCE §3.6, CONTRACT.md §2: yes → 0 (active), no → 1 (inactive)."""
    record = feature_states.to_sales({"name": name, "value": value}, {})

    assert record == {"msdyn_name": name, "statecode": statecode}
    assert feature_states.key_string(record) == name
    assert feature_states.alternate_key(record) == {"msdyn_name": name}


def test_feature_states_never_produce_command_data(feature_states: TableMap) -> None:
    """DOMAIN.md §3: SCM is master of feature states."""
    assert feature_states.command_data({"msdyn_name": "PriceMaster", "statecode": 1}, {}) == {}


# --- same() ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "columns", "expected"),
    [
        pytest.param({"quantity": "3"}, {"quantity": "3.00"}, {"quantity"}, True, id="decimal-by-value"),
        pytest.param({"priceperunit": "500"}, {"priceperunit": "500.00"}, {"priceperunit"}, True,
                     id="money-by-value"),
        pytest.param({"manualdiscountamount": "10.00"}, {"manualdiscountamount": "10.01"},
                     {"manualdiscountamount"}, False, id="decimal-differs"),
        pytest.param({"name": "Office PCs"}, {"name": "Office PCs"}, {"name"}, True, id="text-equal"),
        pytest.param({"name": "Office PCs"}, {"name": "office pcs"}, {"name"}, False, id="text-case-differs"),
        pytest.param({"name": "Office PCs"}, {"name": "Office PCs "}, {"name"}, False, id="text-space-differs"),
        pytest.param({"statecode": 1}, {"statecode": 1}, {"statecode"}, True, id="int-equal"),
        pytest.param({"statecode": 1}, {"statecode": 2}, {"statecode"}, False, id="int-differs"),
        pytest.param({"name": None}, {}, {"name"}, True, id="none-and-absent"),
        pytest.param({"name": None}, {"name": "x"}, {"name"}, False, id="none-and-value"),
        pytest.param({"name": "a", "customerid": "US-001"}, {"name": "b", "customerid": "US-001"},
                     {"customerid"}, True, id="only-listed-columns"),
        pytest.param({"name": "a"}, {"name": "b"}, set(), True, id="no-columns"),
        pytest.param({"quantity": "3", "name": "a"}, {"quantity": "3.0", "name": "b"}, {"quantity", "name"},
                     False, id="all-columns-must-agree"),
    ],
)
def test_same(lines: TableMap, a: dict[str, Any], b: dict[str, Any], columns: set[str], expected: bool) -> None:
    # the lines map: it has typed (money, quantity) columns as well as text and codes
    assert lines.same(a, b, columns) is expected


@pytest.mark.parametrize(
    ("column", "a", "b"),
    [
        pytest.param("msdyn_shippingwarehouse", "11", "011", id="warehouse-leading-zero"),
        pytest.param("msdyn_shippingsite", "1", "1.0", id="site-decimal-looking"),
        pytest.param("productid", "1000", "1E3", id="product-number-exponent"),
    ],
)
def test_same_compares_identifiers_exactly(lines: TableMap, column: str, a: str, b: str) -> None:
    """Only decimal columns (money, quantities) compare by value; identifiers that happen to look
    like numbers are different values when their text differs."""
    assert lines.same({column: a}, {column: b}, {column}) is False


# --- bad values ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "changed"),
    [
        pytest.param({"manualdiscountamount": 1.5}, None, id="discount-float"),
        pytest.param({"manualdiscountamount": True}, None, id="discount-bool"),
        pytest.param({"manualdiscountamount": "ten"}, None, id="discount-not-a-number"),
        pytest.param({"quantity": "abc"}, None, id="quantity-not-a-number"),
        pytest.param({"quantity": 3.0}, None, id="quantity-float"),
        pytest.param({"quantity": "abc"}, {"quantity"}, id="quantity-not-a-number-changed"),
        pytest.param({"priceperunit": 500.0}, {"priceperunit"}, id="price-float"),
        pytest.param({"priceperunit": "1,5"}, {"priceperunit"}, id="price-decimal-comma"),
        pytest.param({"priceperunit": "NaN"}, {"priceperunit"}, id="price-nan"),
        pytest.param({"priceperunit": "Infinity"}, {"priceperunit"}, id="price-infinity"),
        pytest.param({"quantity": "NaN"}, {"quantity"}, id="quantity-nan"),
        pytest.param({"manualdiscountamount": "NaN"}, {"manualdiscountamount"}, id="discount-nan"),
    ],
)
def test_bad_sales_line_values_fail_the_mapping(lines: TableMap, overrides: dict[str, Any],
                                                changed: set[str] | None) -> None:
    with pytest.raises(MappingFailed):
        lines.command_data(sales_line(**overrides), PRICE_MASTER_OFF, changed)


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"REQUESTEDSALESQUANTITY": "abc"}, id="quantity-not-a-number"),
        pytest.param({"SALESPRICE": 500.0}, id="price-float"),
        pytest.param({"LINEDISCOUNTAMOUNT": 3.33}, id="line-discount-float"),
        pytest.param({"TOTALCHARGESAMOUNT": "x"}, id="charge-not-a-number"),
        pytest.param({"LINEAMOUNT": "NaN"}, id="line-amount-nan"),
        pytest.param({"SALESPRICE": "Infinity"}, id="price-infinity"),
    ],
)
def test_bad_scm_line_values_fail_the_mapping(lines: TableMap, overrides: dict[str, Any]) -> None:
    with pytest.raises(MappingFailed):
        lines.to_sales(scm_line(**overrides), PRICE_MASTER_OFF)


def test_bad_price_master_discount_fails_the_mapping(lines: TableMap) -> None:
    with pytest.raises(MappingFailed):
        lines.command_data(sales_line(msdyn_linediscountamount=3.33), PRICE_MASTER_ON)


def test_without_a_quantity_the_discount_is_not_split_and_the_service_refuses_the_line(lines: TableMap) -> None:
    data = lines.command_data(sales_line(quantity=None), PRICE_MASTER_OFF)

    assert "line_discount_amount" not in data and "total_charges_amount" not in data
    assert data["quantity"] is None


def test_mapping_failed_is_a_value_error() -> None:
    assert issubclass(MappingFailed, ValueError)
