"""The order side of invoicing (DOMAIN.md §8; docs/orders-and-invoices.md "Invoicing"), the
Sales order's copy of its quotation's values (CopyQuotationDataToSalesOrders) and the SCM order
made from a quotation confirmed in SCM (TV-17)."""

from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from order_service import decisions
from order_service.domain import Features, Line, Order, Refused, processing_status
from q2c_contracts.quote import QuotationSnapshot


def make_line(sequence: int = 1, qty: str = "3", delivered: str = "0", invoiced: str = "0") -> Line:
    return Line(sequence=sequence, product=f"PC-{sequence}", quantity=Decimal(qty), unit_price=Decimal("500.00"),
                line_discount=Decimal("3.33"), charges=Decimal("-0.01"), site="1", warehouse="11",
                delivered=Decimal(delivered), invoiced=Decimal(invoiced))


def make_order(*lines: Line, **changes: Any) -> Order:
    order = Order(number="F-SO-000007", origin="SCM", customer="US-001", currency="USD", lines=lines)
    return replace(order, **changes)


def request(*quantities: tuple[int, str]) -> dict[str, Any]:
    return {"lines": [{"sequence_number": s, "quantity": q} for s, q in quantities]}


# --- invoicing --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("line", "qty", "before", "completes", "delivered", "status"), [
    pytest.param(make_line(1, "3"), "1", "0", False, "1", "partiallyinvoiced", id="first-part-undelivered"),
    pytest.param(make_line(1, "3", "3"), "1", "0", False, "3", "deliveredpartiallyinvoiced",
                 id="first-part-delivered"),
    pytest.param(make_line(1, "3", "2", "1"), "2", "1", True, "3", "invoiced", id="completes-the-line"),
    pytest.param(make_line(1, "3"), "3", "0", True, "3", "invoiced", id="all-at-once"),
])
def test_an_approved_invoicing_takes_the_quantity_and_prices_the_line(
        line: Line, qty: str, before: str, completes: bool, delivered: str, status: str) -> None:
    result = decisions.invoice(make_order(line), request((1, qty)))

    [priced] = result.lines
    assert priced.model_dump() == {
        "sequence_number": 1, "product_number": "PC-1", "quantity": qty, "unit_price": "500.00",
        "line_amount": "1490.00", "ordered_quantity": "3", "invoiced_before": before, "completes_line": completes}
    [changed] = result.order.lines
    assert changed.invoiced == Decimal(before) + Decimal(qty)
    assert changed.delivered == Decimal(delivered)  # the packing slip is posted with the invoice
    assert result.order.document_status == "invoice"
    assert processing_status(result.order) == status


@pytest.mark.parametrize(("order", "quantities", "expected"), [
    pytest.param(make_order(make_line(1, "3", "0", "2")), [(1, "2")],
                 ("order.quantity-exceeded", "Line 1: 2 exceeds the remaining 1"), id="above-remaining"),
    pytest.param(make_order(make_line(1, "3", "3", "3")), [(1, "1")],
                 ("order.quantity-exceeded", "Line 1: 1 exceeds the remaining 0"), id="fully-invoiced"),
    pytest.param(make_order(make_line(1), canceled=True), [(1, "1")],
                 ("order.invalid-transition", "The order cannot be invoiced in processing status canceled"),
                 id="canceled"),
    pytest.param(make_order(make_line(1)), [(2, "1")],
                 ("command.invalid", "data.lines: line 2 does not exist on sales order F-SO-000007"),
                 id="unknown-line"),
    pytest.param(make_order(make_line(1)), [(1, "-1")],
                 ("command.invalid", "data.lines[1].quantity must be greater than zero, got '-1'"), id="negative"),
])
def test_invoicing_refusals(order: Order, quantities: list[tuple[int, str]], expected: tuple[str, str]) -> None:
    with pytest.raises(Refused) as caught:
        decisions.invoice(order, request(*quantities))

    assert (caught.value.code, caught.value.text) == expected


def test_a_refusal_of_one_line_refuses_the_whole_request() -> None:
    order = make_order(make_line(1), make_line(2, "1"))

    with pytest.raises(Refused):
        decisions.invoice(order, request((1, "1"), (2, "2")))
    # the function is pure: the order it got is unchanged
    assert [x.invoiced for x in order.lines] == [Decimal("0"), Decimal("0")]


# --- CopyQuotationDataToSalesOrders ----------------------------------------------------------------------

QUOTATION = QuotationSnapshot.model_validate({
    "SALESQUOTATIONNUMBER": "C-1001", "SALESQUOTATIONSTATUS": "confirmed",
    "SALESQUOTATIONHEADERCREATIONMETHOD": "SCM", "SALESQUOTATIONOWNERSHIP": "BasedOnOrigin",
    "SALESQUOTATIONNAME": "Office PCs", "REQUESTINGCUSTOMERACCOUNTNUMBER": "US-001", "CURRENCYCODE": "USD",
    "REQUESTEDSHIPPINGDATE": "2026-12-01",
    "lines": [{"LINECREATIONSEQUENCENUMBER": 1, "PRODUCTNUMBER": "PC-1", "REQUESTEDSALESQUANTITY": "3",
               "SALESPRICE": "500.00", "LINEDISCOUNTAMOUNT": "3.33", "TOTALCHARGESAMOUNT": "-0.01",
               "SHIPPINGSITEID": "7", "SHIPPINGWAREHOUSEID": "71", "LINEAMOUNT": "1490.00",
               "SALESQUOTATIONSTATUS": "confirmed"},
              {"LINECREATIONSEQUENCENUMBER": 2, "PRODUCTNUMBER": "PC-2", "REQUESTEDSALESQUANTITY": "1.5",
               "SALESPRICE": "10.00", "LINEDISCOUNTAMOUNT": "0.00", "TOTALCHARGESAMOUNT": "0.00",
               "SHIPPINGSITEID": "8", "SHIPPINGWAREHOUSEID": "81", "LINEAMOUNT": "15.00",
               "SALESQUOTATIONSTATUS": "confirmed"}],
})
SALES_CREATE = {"sales_order_number": "C-SO-1", "quotation_number": "C-1001", "customer_account": "US-001",
                "currency": "USD"}
SALES_LINE = {"product_number": "PC-1", "quantity": "3", "unit_price": "500.00"}


@pytest.mark.parametrize(("copy", "given", "expected"), [
    pytest.param(True, {}, ("Office PCs", "2026-12-01"), id="on-empty-takes-quotation"),
    pytest.param(True, {"name": "Mine", "requested_delivery_date": "2027-01-01"}, ("Mine", "2027-01-01"),
                 id="on-given-kept"),
    pytest.param(False, {}, (None, None), id="off"),
])
def test_a_sales_order_header_copies_what_it_leaves_empty(copy: bool, given: dict[str, str],
                                                           expected: tuple[str | None, str | None]) -> None:
    order = decisions.new_order("C-SO-1", "Dynamics365Sales", {**SALES_CREATE, **given},
                                Features(copy_quotation_data=copy), QUOTATION)

    assert (order.name, order.requested_shipping_date) == expected
    assert order.quotation_number == "C-1001"


@pytest.mark.parametrize(("issuer", "copy", "sequence", "given", "expected"), [
    pytest.param("sales", True, 1, {}, ("7", "71"), id="sales-on-matching-line"),
    pytest.param("sales", True, 2, {"site": "3"}, ("3", "81"), id="sales-on-given-site-kept"),
    pytest.param("sales", True, 5, {}, ("1", "11"), id="sales-on-no-matching-line-defaults"),
    pytest.param("sales", False, 1, {}, ("1", "11"), id="sales-off-defaults"),
    pytest.param("scm", True, 1, {}, ("1", "11"), id="scm-lines-take-defaults"),
])
def test_a_later_sales_line_takes_site_and_warehouse_of_the_quotation_line(
        issuer: str, copy: bool, sequence: int, given: dict[str, str], expected: tuple[str, str]) -> None:
    features = Features(copy_quotation_data=copy)
    order = make_order(quotation_number="C-1001")

    source = decisions.copy_source(issuer, features, QUOTATION)
    changed = decisions.add_line(order, {"sequence_number": sequence, **SALES_LINE, **given}, features, source)

    assert (changed.lines[0].site, changed.lines[0].warehouse) == expected


# --- TV-17: an SCM order from a quotation confirmed in SCM ---------------------------------------------

@pytest.mark.parametrize(("event_type", "origin", "ownership", "expected"), [
    pytest.param("quote.confirmed", "SCM", "BasedOnOrigin", True, id="scm-origin"),
    pytest.param("quote.confirmed", "Dynamics365Sales", "SCM", True, id="sales-origin-scm-owned"),
    pytest.param("quote.confirmed", "Dynamics365Sales", "BasedOnOrigin", False, id="sales-owned"),
    pytest.param("quote.confirmed", "SCM", "Dynamics365Sales", False, id="scm-origin-sales-owned"),
    pytest.param("quote.sent", "SCM", "BasedOnOrigin", False, id="not-a-confirm"),
])
def test_which_quotation_events_make_an_order(event_type: str, origin: str, ownership: str, expected: bool) -> None:
    quotation = QUOTATION.model_copy(update={"SALESQUOTATIONHEADERCREATIONMETHOD": origin,
                                             "SALESQUOTATIONOWNERSHIP": ownership})

    assert decisions.makes_order_on_confirm(event_type, quotation) is expected


def test_the_order_from_a_quotation_carries_its_header_and_lines() -> None:
    order = decisions.order_from_quotation("F-SO-000003", QUOTATION)

    assert (order.number, order.origin, order.quotation_number, order.name, order.customer, order.currency,
            order.requested_shipping_date) == \
        ("F-SO-000003", "SCM", "C-1001", "Office PCs", "US-001", "USD", "2026-12-01")
    assert [(x.sequence, x.product, x.quantity, x.unit_price, x.line_discount, x.charges, x.site, x.warehouse)
            for x in order.lines] == [
        (1, "PC-1", Decimal("3"), Decimal("500.00"), Decimal("3.33"), Decimal("-0.01"), "7", "71"),
        (2, "PC-2", Decimal("1.5"), Decimal("10.00"), Decimal("0.00"), Decimal("0.00"), "8", "81")]
    assert [str(x.amount) for x in order.lines] == ["1490.00", "15.00"]
    assert processing_status(order) == "active" and order.version == 1
