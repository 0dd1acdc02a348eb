"""Derived statuses and the snapshot (DOMAIN.md §4, §7; docs/orders-and-invoices.md
"Processing status"): every row of the variant-B table, SALESORDERSTATUS, line status,
LINEAMOUNT and ORDERTOTALAMOUNT. Expected values are written from the documents."""

from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from order_service.domain import Features, Line, Order, line_status, order_status, processing_status, snapshot


def make_line(sequence: int = 1, qty: str = "3", delivered: str = "0", invoiced: str = "0", *,
              price: str = "500.00", discount: str = "3.33", charges: str = "-0.01") -> Line:
    return Line(sequence=sequence, product=f"PC-{sequence}", quantity=Decimal(qty), unit_price=Decimal(price),
                line_discount=Decimal(discount), charges=Decimal(charges), site="1", warehouse="11",
                delivered=Decimal(delivered), invoiced=Decimal(invoiced))


def make_order(*lines: Line, **changes: Any) -> Order:
    order = Order(number="F-SO-000007", origin="SCM", customer="US-001", currency="USD", name="Office PCs",
                  lines=lines)
    return replace(order, **changes)


# (lines as (ordered, delivered, invoiced), flags) → processing status; first match wins.
@pytest.mark.parametrize(("lines", "flags", "expected"), [
    pytest.param([], {}, "active", id="new-without-lines"),
    pytest.param([("3", "0", "0")], {}, "active", id="active"),
    pytest.param([("3", "0", "0")], {"confirmed": True}, "confirmed", id="confirmation-posted"),
    pytest.param([("3", "0", "0")], {"picked": True}, "picked", id="picking-list-posted"),
    pytest.param([("3", "0", "0")], {"confirmed": True, "picked": True}, "picked", id="picked-wins-over-confirmed"),
    pytest.param([("3", "1", "0"), ("2", "0", "0")], {"picked": True}, "partiallydelivered",
                 id="some-delivered"),
    pytest.param([("3", "3", "0"), ("2", "0", "0")], {}, "partiallydelivered", id="one-line-fully-delivered"),
    pytest.param([("3", "3", "0"), ("2", "2", "0")], {}, "delivered", id="every-line-fully-delivered"),
    pytest.param([("3", "1", "1"), ("2", "0", "0")], {}, "partiallyinvoiced", id="some-invoiced"),
    pytest.param([("3", "3", "1"), ("2", "2", "0")], {}, "deliveredpartiallyinvoiced",
                 id="all-delivered-some-invoiced"),
    pytest.param([("3", "3", "3"), ("2", "2", "0")], {}, "deliveredpartiallyinvoiced",
                 id="one-line-fully-invoiced-other-delivered"),
    pytest.param([("3", "3", "3"), ("2", "0", "0")], {}, "partiallyinvoiced", id="one-line-invoiced-other-open"),
    pytest.param([("3", "3", "3"), ("2", "2", "2")], {}, "invoiced", id="every-line-fully-invoiced"),
    pytest.param([("3", "0", "0")], {"canceled": True, "confirmed": True}, "canceled", id="canceled-wins"),
    pytest.param([], {"canceled": True}, "canceled", id="canceled-without-lines"),
    pytest.param([], {"confirmed": True}, "confirmed", id="no-lines-is-never-fully-delivered"),
])
def test_processing_status_first_match_wins(lines: list[tuple[str, str, str]], flags: dict[str, bool],
                                            expected: str) -> None:
    order = make_order(*(make_line(n, *values) for n, values in enumerate(lines, start=1)), **flags)

    assert processing_status(order) == expected


@pytest.mark.parametrize(("lines", "flags", "expected"), [
    pytest.param([("3", "0", "0")], {}, "backorder", id="active"),
    pytest.param([("3", "0", "0")], {"confirmed": True}, "backorder", id="confirmed"),
    pytest.param([("3", "0", "0")], {"picked": True}, "backorder", id="picked"),
    pytest.param([("3", "1", "0")], {}, "backorder", id="partiallydelivered"),
    pytest.param([("3", "1", "1")], {}, "backorder", id="partiallyinvoiced"),
    pytest.param([("3", "3", "0")], {}, "delivered", id="delivered"),
    pytest.param([("3", "3", "1")], {}, "delivered", id="deliveredpartiallyinvoiced"),
    pytest.param([("3", "3", "3")], {}, "invoiced", id="invoiced"),
    pytest.param([("3", "0", "0")], {"canceled": True}, "canceled", id="canceled"),
])
def test_order_status_follows_the_processing_status(lines: list[tuple[str, str, str]], flags: dict[str, bool],
                                                    expected: str) -> None:
    order = make_order(*(make_line(n, *values) for n, values in enumerate(lines, start=1)), **flags)

    assert order_status(order) == expected


@pytest.mark.parametrize(("ordered", "delivered", "invoiced", "canceled", "expected"), [
    pytest.param("3", "0", "0", False, "backorder", id="open"),
    pytest.param("3", "2", "0", False, "backorder", id="partly-delivered"),
    pytest.param("3", "3", "0", False, "delivered", id="fully-delivered"),
    pytest.param("3", "3", "2", False, "delivered", id="delivered-partly-invoiced"),
    pytest.param("3", "3", "3", False, "invoiced", id="fully-invoiced"),
    pytest.param("3", "0", "0", True, "canceled", id="order-canceled"),
])
def test_line_status(ordered: str, delivered: str, invoiced: str, canceled: bool, expected: str) -> None:
    line = make_line(1, ordered, delivered, invoiced)

    assert line_status(make_order(line, canceled=canceled), line) == expected


@pytest.mark.parametrize(("qty", "price", "discount", "charges", "expected"), [
    # DOMAIN §4: 10.00 whole-line discount over 3 → 3.33 per unit and −0.01 charge.
    pytest.param("3", "500.00", "3.33", "-0.01", "1490.00", id="contract-example"),
    pytest.param("2", "10.00", "0", "0", "20.00", id="no-discount"),
    pytest.param("3", "5.00", "0.67", "0.01", "13.00", id="split-positive-residue"),
    pytest.param("2.5", "3.33", "0", "0", "8.33", id="rounds-half-up"),  # 8.325
])
def test_line_amount(qty: str, price: str, discount: str, charges: str, expected: str) -> None:
    assert str(make_line(qty=qty, price=price, discount=discount, charges=charges).amount) == expected


def test_order_total_is_the_sum_of_line_amounts() -> None:
    order = make_order(make_line(1), make_line(2, "2", price="10.00", discount="0", charges="0"))

    assert order.total == Decimal("1510.00")
    assert make_order().total == Decimal("0")


def test_snapshot_in_data_entity_names() -> None:
    order = make_order(make_line(1, "3", "3", "1"), document_status="packingslip", quotation_number="F-000001",
                       requested_shipping_date="2026-12-01")

    state = snapshot(order).model_dump()

    assert {k: v for k, v in state.items() if k != "lines"} == {
        "SALESORDERNUMBER": "F-SO-000007", "SALESORDERORIGIN": "SCM", "QUOTATIONNUMBER": "F-000001",
        "SALESORDERNAME": "Office PCs", "ORDERINGCUSTOMERACCOUNTNUMBER": "US-001", "CURRENCYCODE": "USD",
        "REQUESTEDSHIPPINGDATE": "2026-12-01", "SALESORDERSTATUS": "delivered",
        "SALESORDERDOCUMENTSTATUS": "packingslip", "SALESORDERPROCESSINGSTATUS": "deliveredpartiallyinvoiced",
        "ORDERTOTALAMOUNT": "1490.00",
    }
    assert state["lines"] == [{
        "LINECREATIONSEQUENCENUMBER": 1, "PRODUCTNUMBER": "PC-1", "ORDEREDSALESQUANTITY": "3",
        "SALESPRICE": "500.00", "LINEDISCOUNTAMOUNT": "3.33", "TOTALCHARGESAMOUNT": "-0.01",
        "LINEAMOUNT": "1490.00", "DELIVEREDQUANTITY": "3", "INVOICEDQUANTITY": "1",
        "SALESORDERLINESTATUS": "delivered", "SHIPPINGSITEID": "1", "SHIPPINGWAREHOUSEID": "11",
    }]


@pytest.mark.parametrize(("settings", "expected"), [
    pytest.param({}, Features(True, "F-SO-", "1", "11"), id="defaults"),
    pytest.param({"CopyQuotationDataToSalesOrders": False, "ScmSalesOrderNumberPrefix": "X-SO-",
                  "DefaultSite": "2", "DefaultWarehouse": "21"}, Features(False, "X-SO-", "2", "21"), id="all-set"),
    pytest.param({"UseMessageProcessor": True, "ScmQuotationNumberPrefix": "Q-"}, Features(), id="others-ignored"),
])
def test_features_from_settings(settings: dict[str, object], expected: Features) -> None:
    assert Features.from_settings(settings) == expected
