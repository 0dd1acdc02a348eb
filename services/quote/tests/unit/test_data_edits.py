"""Creating a quotation and editing its data (CONTRACT.md §4 command data, DOMAIN.md §1, §3,
§4): line amounts, `quote.create`, `quote.update`, `quote.add-line` / `update-line` /
`delete-line`. Wrong data is refused with `InvalidCommand` (answered `command.invalid`,
DOMAIN.md §5) and never half-applied: the functions return a new quotation, the old one is
unchanged.
"""

from decimal import Decimal
from typing import Any

import pytest

from quote_service.domain import (
    Features,
    InvalidCommand,
    Line,
    Quotation,
    add_line,
    delete_line,
    new_quotation,
    update_header,
    update_line,
)

SCM = "SCM"
SALES = "Dynamics365Sales"
BASED_ON_ORIGIN = "BasedOnOrigin"


def make_line(sequence: int = 1, product: str = "PC-1", qty: str = "3", price: str = "500.00",
              discount: str = "0", charges: str = "0", site: str = "1", warehouse: str = "11") -> Line:
    return Line(sequence=sequence, product=product, quantity=Decimal(qty), unit_price=Decimal(price),
                line_discount=Decimal(discount), charges=Decimal(charges), site=site, warehouse=warehouse)


def make_quote(*lines: Line, status: str = "created") -> Quotation:
    return Quotation(number="F-000007", status=status, origin=SCM, ownership=BASED_ON_ORIGIN, customer="US-001",
                     currency="USD", name="Office PCs", lines=lines)


LINE_DATA = {"sequence_number": 1, "product_number": "PC-1", "quantity": "3", "unit_price": "500.00"}


# --- Line.amount (CONTRACT §5, DOMAIN §4) -------------------------------------------------------


@pytest.mark.parametrize(
    ("qty", "price", "discount", "charges", "expected"),
    [
        # CONTRACT §5 / DOMAIN §4: 10.00 whole-line discount over 3 → 3.33 per unit, −0.01 charge.
        pytest.param("3", "500.00", "3.33", "-0.01", "1490.00", id="contract-example"),
        pytest.param("2", "10.00", "0", "0", "20.00", id="no-discount"),
        pytest.param("1", "0.00", "0", "0", "0.00", id="free"),
        # 1.00 over 3 → 0.33 per unit, charge 3 × 0.33 − 1.00 = −0.01: 6.00 − 1.00.
        pytest.param("3", "2.00", "0.33", "-0.01", "5.00", id="split-negative-residue"),
        # 2.00 over 3 → 0.67 per unit, charge 3 × 0.67 − 2.00 = +0.01: 15.00 − 2.00.
        pytest.param("3", "5.00", "0.67", "0.01", "13.00", id="split-positive-residue"),
        pytest.param("4", "25.00", "2.50", "1.25", "91.25", id="discount-and-charge"),
        pytest.param("2.5", "3.33", "0", "0", "8.33", id="fractional-quantity-rounds-half-up"),  # 8.325
        pytest.param("1.5", "0.01", "0", "0", "0.02", id="half-cent-rounds-up"),  # 0.015
        pytest.param("0.333", "1.00", "0", "0", "0.33", id="below-half-rounds-down"),  # 0.333
    ],
)
def test_line_amount(qty: str, price: str, discount: str, charges: str, expected: str) -> None:
    amount = make_line(qty=qty, price=price, discount=discount, charges=charges).amount

    assert isinstance(amount, Decimal)
    assert str(amount) == expected


# --- new_quotation (quote.create) ----------------------------------------------------------------


def test_new_quotation_minimal() -> None:
    quote = new_quotation("F-000007", "scm", {"customer_account": "US-001", "currency": "USD"}, Features())

    assert quote == Quotation(number="F-000007", status="created", origin=SCM, ownership=BASED_ON_ORIGIN,
                              customer="US-001", currency="USD", name=None, lines=(), journals=(), version=1)


@pytest.mark.parametrize(
    ("issuer", "features", "origin", "ownership"),
    [
        pytest.param("scm", Features(), SCM, BASED_ON_ORIGIN, id="scm"),
        pytest.param("sales", Features(), SALES, BASED_ON_ORIGIN, id="sales"),
        pytest.param("sales", Features(lifecycle_integration=False), SCM, BASED_ON_ORIGIN, id="sales-lifecycle-off"),
        pytest.param("scm", Features(default_ownership=SALES), SCM, SALES, id="scm-default-ownership-sales"),
    ],
)
def test_new_quotation_origin_and_ownership(issuer: str, features: Features, origin: str, ownership: str) -> None:
    quote = new_quotation("C-1001", issuer, {"customer_account": "US-001", "currency": "USD"}, features)

    assert (quote.status, quote.version, quote.origin, quote.ownership) == ("created", 1, origin, ownership)


@pytest.mark.parametrize(
    ("data", "name"),
    [
        pytest.param({"name": "Office PCs"}, "Office PCs", id="with-name"),
        pytest.param({}, None, id="without-name"),
        pytest.param({"name": None}, None, id="name-null"),
    ],
)
def test_new_quotation_name_is_optional(data: dict[str, Any], name: str | None) -> None:
    quote = new_quotation("F-000007", "scm", {"customer_account": "US-001", "currency": "USD", **data}, Features())

    assert quote.name == name


@pytest.mark.parametrize(
    ("data", "field"),
    [
        pytest.param({"currency": "USD"}, "customer_account", id="customer-missing"),
        pytest.param({"customer_account": "", "currency": "USD"}, "customer_account", id="customer-empty"),
        pytest.param({"customer_account": "  ", "currency": "USD"}, "customer_account", id="customer-blank"),
        pytest.param({"customer_account": None, "currency": "USD"}, "customer_account", id="customer-null"),
        pytest.param({"customer_account": 1001, "currency": "USD"}, "customer_account", id="customer-not-text"),
        pytest.param({"customer_account": "US-001"}, "currency", id="currency-missing"),
        pytest.param({"customer_account": "US-001", "currency": ""}, "currency", id="currency-empty"),
        pytest.param({"customer_account": "US-001", "currency": 840}, "currency", id="currency-not-text"),
        pytest.param({}, "customer_account", id="nothing"),
        pytest.param({"customer_account": "US-001", "currency": "USD", "name": 5}, "name", id="name-not-text"),
        pytest.param({"customer_account": "US-001", "currency": "USD", "lines": "PC-1"}, "lines",
                     id="lines-not-a-list"),
        pytest.param({"customer_account": "US-001", "currency": "USD", "lines": {"product_number": "PC-1"}}, "lines",
                     id="lines-an-object"),
        # CONTRACT §0: data of a wrong type is never dropped silently, also when it is "empty".
        pytest.param({"customer_account": "US-001", "currency": "USD", "lines": {}}, "lines",
                     id="lines-an-empty-object"),
        pytest.param({"customer_account": "US-001", "currency": "USD", "lines": ""}, "lines",
                     id="lines-an-empty-string"),
        pytest.param({"customer_account": "US-001", "currency": "USD", "lines": ["PC-1"]}, "lines",
                     id="line-not-an-object"),
        pytest.param({"customer_account": "US-001", "currency": "USD", "lines": [{"quantity": "1", "unit_price": "1"}]},
                     "product_number", id="line-without-product"),
        pytest.param({"customer_account": "US-001", "currency": "USD",
                      "lines": [{**LINE_DATA, "quantity": "0"}]}, "quantity", id="line-with-zero-quantity"),
        pytest.param({"customer_account": "US-001", "currency": "USD",
                      "lines": [{**LINE_DATA, "unit_price": 500.0}]}, "unit_price", id="line-with-float-price"),
        pytest.param({"customer_account": "US-001", "currency": "USD",
                      "lines": [{**LINE_DATA, "sequence_number": 1}, {**LINE_DATA, "sequence_number": 1}]},
                     "already exists", id="lines-with-duplicate-sequence"),
    ],
)
def test_new_quotation_refuses_invalid_data(data: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidCommand, match=field):
        new_quotation("F-000007", "scm", data, Features())


def test_new_quotation_numbers_lines_in_order_when_not_given() -> None:
    lines = [{"product_number": p, "quantity": "1", "unit_price": "10.00"} for p in ("A", "B", "C")]

    quote = new_quotation("F-000007", "scm", {"customer_account": "US-001", "currency": "USD", "lines": lines},
                          Features())

    assert [(line.sequence, line.product) for line in quote.lines] == [(1, "A"), (2, "B"), (3, "C")]


def test_new_quotation_keeps_given_sequence_numbers() -> None:
    lines = [{**LINE_DATA, "sequence_number": 10, "product_number": "A"},
             {**LINE_DATA, "sequence_number": 20, "product_number": "B"}]

    quote = new_quotation("F-000007", "scm", {"customer_account": "US-001", "currency": "USD", "lines": lines},
                          Features())

    assert [(line.sequence, line.product) for line in quote.lines] == [(10, "A"), (20, "B")]


@pytest.mark.parametrize(
    ("features", "line_data", "site", "warehouse"),
    [
        pytest.param(Features(), {}, "1", "11", id="parameter-defaults"),
        pytest.param(Features(default_site="2", default_warehouse="21"), {}, "2", "21", id="parameters-changed"),
        pytest.param(Features(), {"site": "3", "warehouse": "31"}, "3", "31", id="given-on-line"),
        pytest.param(Features(), {"site": None, "warehouse": None}, "1", "11", id="null-means-default"),
    ],
)
def test_new_quotation_line_site_and_warehouse(features: Features, line_data: dict[str, Any], site: str,
                                               warehouse: str) -> None:
    data = {"customer_account": "US-001", "currency": "USD",
            "lines": [{"product_number": "PC-1", "quantity": "3", "unit_price": "500.00", **line_data}]}

    (line,) = new_quotation("F-000007", "scm", data, features).lines

    assert (line.site, line.warehouse) == (site, warehouse)


def test_new_quotation_line_values() -> None:
    data = {"customer_account": "US-001", "currency": "USD", "lines": [
        {"product_number": "PC-1", "quantity": "3", "unit_price": "500.00", "line_discount_amount": "3.33",
         "total_charges_amount": "-0.01"}]}

    (line,) = new_quotation("C-1001", "sales", data, Features()).lines

    assert line == make_line(1, "PC-1", "3", "500.00", "3.33", "-0.01", "1", "11")
    assert line.amount == Decimal("1490.00")


# --- update_header (quote.update) ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "changes"),
    [
        pytest.param({"name": "Servers"}, {"name": "Servers"}, id="name"),
        pytest.param({"name": None}, {"name": None}, id="name-cleared"),
        pytest.param({"customer_account": "US-002"}, {"customer": "US-002"}, id="customer"),
        pytest.param({"currency": "EUR"}, {"currency": "EUR"}, id="currency"),
        pytest.param({"name": "Servers", "customer_account": "US-002", "currency": "EUR"},
                     {"name": "Servers", "customer": "US-002", "currency": "EUR"}, id="all-three"),
        pytest.param({"name": "Servers", "unknown": 1}, {"name": "Servers"}, id="unknown-field-ignored"),
    ],
)
def test_update_header(data: dict[str, Any], changes: dict[str, Any]) -> None:
    before = make_quote(make_line())
    after = update_header(before, data)

    expected = {"name": "Office PCs", "customer": "US-001", "currency": "USD", **changes}
    assert {k: getattr(after, k) for k in expected} == expected
    assert after.lines == before.lines
    assert (after.number, after.status, after.origin, after.ownership) == \
        (before.number, before.status, before.origin, before.ownership)
    assert before.name == "Office PCs"  # the old state is untouched


@pytest.mark.parametrize(
    ("data", "field"),
    [
        pytest.param({}, "name", id="empty-data"),  # the text names what may be updated
        pytest.param({"unknown": "x"}, "name", id="only-unknown-fields"),
        pytest.param({"customer_account": ""}, "customer_account", id="customer-empty"),
        pytest.param({"customer_account": None}, "customer_account", id="customer-null"),
        pytest.param({"currency": ""}, "currency", id="currency-empty"),
        pytest.param({"currency": 978}, "currency", id="currency-not-text"),
        pytest.param({"name": 5}, "name", id="name-not-text"),
    ],
)
def test_update_header_refuses_invalid_data(data: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidCommand, match=field):
        update_header(make_quote(), data)


# --- add_line (quote.add-line) --------------------------------------------------------------------


def test_add_line_with_every_field() -> None:
    data = {"sequence_number": 2, "product_number": "MON-1", "quantity": "2.50", "unit_price": "120.00",
            "line_discount_amount": "5.00", "total_charges_amount": "0.01", "site": "2", "warehouse": "21"}

    quote = add_line(make_quote(make_line(1)), data, Features())

    assert quote.line(1) == make_line(1)
    assert quote.line(2) == make_line(2, "MON-1", "2.50", "120.00", "5.00", "0.01", "2", "21")


@pytest.mark.parametrize(
    ("features", "site", "warehouse"),
    [
        pytest.param(Features(), "1", "11", id="parameter-defaults"),
        pytest.param(Features(default_site="7", default_warehouse="71"), "7", "71", id="parameters-changed"),
    ],
)
def test_add_line_defaults(features: Features, site: str, warehouse: str) -> None:
    quote = add_line(make_quote(), LINE_DATA, features)

    assert quote.line(1) == make_line(1, "PC-1", "3", "500.00", discount="0", charges="0", site=site,
                                      warehouse=warehouse)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        pytest.param({**LINE_DATA}, "already exists", id="duplicate-sequence"),
        pytest.param({k: v for k, v in LINE_DATA.items() if k != "sequence_number"}, "sequence_number",
                     id="sequence-missing"),
        pytest.param({**LINE_DATA, "sequence_number": 0}, "sequence_number", id="sequence-zero"),
        pytest.param({**LINE_DATA, "sequence_number": -1}, "sequence_number", id="sequence-negative"),
        pytest.param({**LINE_DATA, "sequence_number": "2"}, "sequence_number", id="sequence-string"),
        pytest.param({**LINE_DATA, "sequence_number": 2.0}, "sequence_number", id="sequence-float"),
        pytest.param({**LINE_DATA, "sequence_number": True}, "sequence_number", id="sequence-bool-true"),
        pytest.param({**LINE_DATA, "sequence_number": False}, "sequence_number", id="sequence-bool-false"),
        pytest.param({**LINE_DATA, "sequence_number": None}, "sequence_number", id="sequence-null"),
        pytest.param({k: v for k, v in LINE_DATA.items() if k != "product_number"} | {"sequence_number": 2},
                     "product_number", id="product-missing"),
        pytest.param({**LINE_DATA, "sequence_number": 2, "product_number": ""}, "product_number", id="product-empty"),
        pytest.param({**LINE_DATA, "sequence_number": 2, "product_number": "  "}, "product_number",
                     id="product-blank"),
        pytest.param({**LINE_DATA, "sequence_number": 2, "product_number": 42}, "product_number",
                     id="product-not-text"),
        pytest.param({k: v for k, v in LINE_DATA.items() if k != "quantity"} | {"sequence_number": 2}, "quantity",
                     id="quantity-missing"),
        pytest.param({**LINE_DATA, "sequence_number": 2, "quantity": "0"}, "quantity", id="quantity-zero"),
        pytest.param({**LINE_DATA, "sequence_number": 2, "quantity": "-1"}, "quantity", id="quantity-negative"),
        pytest.param({**LINE_DATA, "sequence_number": 2, "quantity": 0}, "quantity", id="quantity-int-zero"),
        pytest.param({**LINE_DATA, "sequence_number": 2, "quantity": 1.5}, "quantity", id="quantity-float"),
        pytest.param({**LINE_DATA, "sequence_number": 2, "quantity": "abc"}, "quantity", id="quantity-not-decimal"),
        pytest.param({**LINE_DATA, "sequence_number": 2, "quantity": "NaN"}, "quantity", id="quantity-nan"),
        pytest.param({k: v for k, v in LINE_DATA.items() if k != "unit_price"} | {"sequence_number": 2},
                     "unit_price", id="price-missing"),
        pytest.param({**LINE_DATA, "sequence_number": 2, "unit_price": "-0.01"}, "unit_price", id="price-negative"),
        pytest.param({**LINE_DATA, "sequence_number": 2, "unit_price": 500.0}, "unit_price", id="price-float"),
        pytest.param({**LINE_DATA, "sequence_number": 2, "unit_price": True}, "unit_price", id="price-bool"),
        pytest.param({**LINE_DATA, "sequence_number": 2, "unit_price": "Infinity"}, "unit_price",
                     id="price-infinite"),
        pytest.param({**LINE_DATA, "sequence_number": 2, "line_discount_amount": 3.33}, "line_discount_amount",
                     id="discount-float"),
        pytest.param({**LINE_DATA, "sequence_number": 2, "total_charges_amount": -0.01}, "total_charges_amount",
                     id="charges-float"),
        pytest.param({**LINE_DATA, "sequence_number": 2, "site": ""}, "site", id="site-empty"),
        pytest.param({**LINE_DATA, "sequence_number": 2, "site": 1}, "site", id="site-not-text"),
        pytest.param({**LINE_DATA, "sequence_number": 2, "warehouse": " "}, "warehouse", id="warehouse-blank"),
    ],
)
def test_add_line_refuses_invalid_data(data: dict[str, Any], field: str) -> None:
    before = make_quote(make_line(1))

    with pytest.raises(InvalidCommand, match=field):
        add_line(before, data, Features())
    assert before.lines == (make_line(1),)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param({**LINE_DATA, "sequence_number": 2, "unit_price": "0"}, make_line(2, price="0"),
                     id="price-zero-allowed"),
        pytest.param({**LINE_DATA, "sequence_number": 2, "quantity": "0.5"}, make_line(2, qty="0.5"),
                     id="fractional-quantity"),
        pytest.param({**LINE_DATA, "sequence_number": 2, "quantity": 4, "unit_price": 10},
                     make_line(2, qty="4", price="10"), id="integers-accepted"),
        pytest.param({**LINE_DATA, "sequence_number": 2, "line_discount_amount": None}, make_line(2),
                     id="discount-null-is-zero"),
    ],
)
def test_add_line_accepts(data: dict[str, Any], expected: Line) -> None:
    assert add_line(make_quote(make_line(1)), data, Features()).line(2) == expected


# --- update_line (quote.update-line) --------------------------------------------------------------

CURRENT = make_line(1, "PC-1", "3", "500.00", "3.33", "-0.01", "2", "21")
OTHER = make_line(2, "MON-1", "1", "100.00")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param({"sequence_number": 1, "quantity": "5"},
                     make_line(1, "PC-1", "5", "500.00", "3.33", "-0.01", "2", "21"), id="quantity-only"),
        pytest.param({"sequence_number": 1, "unit_price": "450.00"},
                     make_line(1, "PC-1", "3", "450.00", "3.33", "-0.01", "2", "21"), id="price-only"),
        pytest.param({"sequence_number": 1, "line_discount_amount": "0", "total_charges_amount": "0"},
                     make_line(1, "PC-1", "3", "500.00", "0", "0", "2", "21"), id="discount-and-charges"),
        pytest.param({"sequence_number": 1, "product_number": "PC-2"},
                     make_line(1, "PC-2", "3", "500.00", "3.33", "-0.01", "2", "21"), id="product-only"),
        pytest.param({"sequence_number": 1, "site": "3", "warehouse": "31"},
                     make_line(1, "PC-1", "3", "500.00", "3.33", "-0.01", "3", "31"), id="site-and-warehouse"),
        pytest.param({"sequence_number": 1, "quantity": None, "unit_price": None},
                     CURRENT, id="nulls-keep-current-values"),
    ],
)
def test_update_line_changes_given_fields_and_keeps_the_rest(data: dict[str, Any], expected: Line) -> None:
    # Parameters other than the line's own site/warehouse must not overwrite them.
    features = Features(default_site="9", default_warehouse="99")

    quote = update_line(make_quote(CURRENT, OTHER), data, features)

    assert quote.line(1) == expected
    assert quote.line(2) == OTHER
    assert len(quote.lines) == 2


@pytest.mark.parametrize(
    ("data", "field"),
    [
        pytest.param({"sequence_number": 9, "quantity": "1"}, "does not exist", id="missing-line"),
        pytest.param({"sequence_number": 1}, "nothing to update", id="nothing-to-update"),
        pytest.param({"quantity": "1"}, "sequence_number", id="sequence-missing"),
        pytest.param({"sequence_number": 0}, "sequence_number", id="sequence-zero"),
        pytest.param({"sequence_number": "1"}, "sequence_number", id="sequence-string"),
        pytest.param({"sequence_number": True}, "sequence_number", id="sequence-bool"),
        pytest.param({"sequence_number": 1.0}, "sequence_number", id="sequence-float"),
        pytest.param({"sequence_number": 1, "quantity": "0"}, "quantity", id="quantity-zero"),
        pytest.param({"sequence_number": 1, "quantity": "-2"}, "quantity", id="quantity-negative"),
        pytest.param({"sequence_number": 1, "quantity": 2.0}, "quantity", id="quantity-float"),
        pytest.param({"sequence_number": 1, "unit_price": "-1"}, "unit_price", id="price-negative"),
        pytest.param({"sequence_number": 1, "unit_price": 450.5}, "unit_price", id="price-float"),
        pytest.param({"sequence_number": 1, "product_number": ""}, "product_number", id="product-empty"),
        pytest.param({"sequence_number": 1, "line_discount_amount": "x"}, "line_discount_amount",
                     id="discount-not-decimal"),
    ],
)
def test_update_line_refuses_invalid_data(data: dict[str, Any], field: str) -> None:
    before = make_quote(CURRENT, OTHER)

    with pytest.raises(InvalidCommand, match=field):
        update_line(before, data, Features())
    assert before.lines == (CURRENT, OTHER)


# --- delete_line (quote.delete-line) --------------------------------------------------------------


@pytest.mark.parametrize(
    ("sequence", "remaining"),
    [
        pytest.param(1, (OTHER,), id="first"),
        pytest.param(2, (CURRENT,), id="second"),
    ],
)
def test_delete_line(sequence: int, remaining: tuple[Line, ...]) -> None:
    quote = delete_line(make_quote(CURRENT, OTHER), {"sequence_number": sequence})

    assert quote.lines == remaining


def test_delete_the_only_line() -> None:
    assert delete_line(make_quote(CURRENT), {"sequence_number": 1}).lines == ()


@pytest.mark.parametrize(
    ("data", "field"),
    [
        pytest.param({"sequence_number": 9}, "does not exist", id="missing-line"),
        pytest.param({}, "sequence_number", id="sequence-missing"),
        pytest.param({"sequence_number": -1}, "sequence_number", id="sequence-negative"),
        pytest.param({"sequence_number": "1"}, "sequence_number", id="sequence-string"),
        pytest.param({"sequence_number": True}, "sequence_number", id="sequence-bool"),
    ],
)
def test_delete_line_refuses_invalid_data(data: dict[str, Any], field: str) -> None:
    before = make_quote(CURRENT, OTHER)

    with pytest.raises(InvalidCommand, match=field):
        delete_line(before, data)
    assert before.lines == (CURRENT, OTHER)


def test_invalid_command_is_a_value_error() -> None:
    assert issubclass(InvalidCommand, ValueError)
