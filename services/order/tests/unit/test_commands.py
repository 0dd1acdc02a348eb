"""The command decisions (docs/orders-and-invoices.md "Commands", "Sales commands"; DOMAIN.md
§4, §5, §7): creation, data edits and their quantity rules, confirm / pick / deliver / cancel and
their refusals. Each function returns a new order or raises `Refused`; nothing half-applies."""

from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from order_service import decisions
from order_service.domain import Features, InvalidCommand, Line, Order, Refused, processing_status

TRANSITION = "order.invalid-transition"
EXCEEDED = "order.quantity-exceeded"
INVALID = "command.invalid"
READ_ONLY = ("order.read-only", "This order can no longer be changed in Sales")


def make_line(sequence: int = 1, qty: str = "3", delivered: str = "0", invoiced: str = "0") -> Line:
    return Line(sequence=sequence, product=f"PC-{sequence}", quantity=Decimal(qty), unit_price=Decimal("500.00"),
                line_discount=Decimal("3.33"), charges=Decimal("-0.01"), site="1", warehouse="11",
                delivered=Decimal(delivered), invoiced=Decimal(invoiced))


def make_order(*lines: Line, **changes: Any) -> Order:
    order = Order(number="F-SO-000007", origin="SCM", customer="US-001", currency="USD", name="Office PCs",
                  lines=lines)
    return replace(order, **changes)


# Orders in each processing status, for the transition tables.
IN_STATUS = {
    "active": make_order(make_line()),
    "confirmed": make_order(make_line(), confirmed=True),
    "picked": make_order(make_line(), picked=True),
    "partiallydelivered": make_order(make_line(1, "3", "1")),
    "delivered": make_order(make_line(1, "3", "3")),
    "partiallyinvoiced": make_order(make_line(1, "3", "1", "1")),
    "deliveredpartiallyinvoiced": make_order(make_line(1, "3", "3", "1")),
    "invoiced": make_order(make_line(1, "3", "3", "3")),
    "canceled": make_order(make_line(), canceled=True),
}
BEFORE_DELIVERY = ["active", "confirmed", "picked"]


def test_the_fixture_orders_are_in_their_status() -> None:
    assert {status: processing_status(order) for status, order in IN_STATUS.items()} == \
        {status: status for status in IN_STATUS}


def refusal(call: Any) -> tuple[str, str]:
    with pytest.raises(Refused) as caught:
        call()
    return caught.value.code, caught.value.text


# --- creation -------------------------------------------------------------------------------------

def test_new_scm_order_with_lines_takes_parameter_defaults_for_site_and_warehouse() -> None:
    data = {"customer_account": "US-001", "currency": "USD", "name": "PCs",
            "lines": [{"product_number": "PC-1", "quantity": "3", "unit_price": "500.00",
                       "line_discount_amount": "3.33"},
                      {"product_number": "PC-2", "quantity": "1", "unit_price": "10", "site": "2",
                       "warehouse": "21"}]}

    order = decisions.new_order("F-SO-000001", "SCM", data, Features(default_site="5", default_warehouse="51"))

    assert (order.number, order.origin, order.customer, order.currency, order.name) == \
        ("F-SO-000001", "SCM", "US-001", "USD", "PCs")
    assert [(x.sequence, x.site, x.warehouse) for x in order.lines] == [(1, "5", "51"), (2, "2", "21")]
    # An SCM line's discount is per unit, with no residue: 3 × (500.00 − 3.33).
    assert str(order.lines[0].amount) == "1490.01"
    assert processing_status(order) == "active" and order.document_status == "none" and order.version == 1


@pytest.mark.parametrize(("data", "field"), [
    pytest.param({"currency": "USD"}, "data.customer_account", id="no-customer"),
    pytest.param({"customer_account": "US-001"}, "data.currency", id="no-currency"),
    pytest.param({"customer_account": "US-001", "currency": "USD", "name": "x" * 301}, "data.name",
                 id="name-too-long"),
    pytest.param({"customer_account": "US-001", "currency": "USD", "lines": "x"}, "data.lines", id="lines-not-list"),
    pytest.param({"customer_account": "US-001", "currency": "USD",
                  "lines": [{"product_number": "P", "quantity": "0", "unit_price": "1"}]}, "data.quantity",
                 id="line-quantity-zero"),
])
def test_new_order_refuses_wrong_data_naming_the_field(data: dict[str, Any], field: str) -> None:
    code, text = refusal(lambda: decisions.new_order("F-SO-000001", "SCM", data, Features()))

    assert code == INVALID and field in text


# --- line data (the quote's rules) -----------------------------------------------------------------

LINE = {"sequence_number": 2, "product_number": "PC-2", "quantity": "3", "unit_price": "500.00"}


@pytest.mark.parametrize(("changes", "field"), [
    pytest.param({"quantity": "0"}, "data.quantity", id="quantity-zero"),
    pytest.param({"quantity": "-1"}, "data.quantity", id="quantity-negative"),
    pytest.param({"quantity": 1.5}, "data.quantity", id="quantity-float"),
    pytest.param({"quantity": "abc"}, "data.quantity", id="quantity-not-decimal"),
    pytest.param({"quantity": "1.000001"}, "data.quantity", id="quantity-six-decimals"),
    pytest.param({"quantity": "1000000001"}, "data.quantity", id="quantity-too-large"),
    pytest.param({"unit_price": "-1"}, "data.unit_price", id="price-negative"),
    pytest.param({"unit_price": "1.00001"}, "data.unit_price", id="price-five-decimals"),
    pytest.param({"unit_price": None}, "data.unit_price", id="price-missing"),
    pytest.param({"line_discount_amount": "NaN"}, "data.line_discount_amount", id="discount-nan"),
    pytest.param({"product_number": ""}, "data.product_number", id="no-product"),
    pytest.param({"product_number": "P" * 101}, "data.product_number", id="product-too-long"),
    pytest.param({"sequence_number": 0}, "data.sequence_number", id="sequence-zero"),
    pytest.param({"sequence_number": "2"}, "data.sequence_number", id="sequence-string"),
    pytest.param({"sequence_number": 1}, "line 1 already exists", id="sequence-taken"),
])
def test_add_line_refuses_wrong_data(changes: dict[str, Any], field: str) -> None:
    code, text = refusal(lambda: decisions.add_line(make_order(make_line()), {**LINE, **changes}, Features()))

    assert code == INVALID and field in text


def test_add_line_keeps_the_discount_split() -> None:
    order = decisions.add_line(make_order(), {**LINE, "line_discount_amount": "3.33",
                                              "total_charges_amount": "-0.01"}, Features())

    [line] = order.lines
    assert (line.line_discount, line.charges, str(line.amount)) == (Decimal("3.33"), Decimal("-0.01"), "1490.00")


@pytest.mark.parametrize(("line", "data", "expected"), [
    pytest.param(make_line(1, "3", "2"), {"quantity": "2"}, Decimal("2"), id="down-to-delivered"),
    pytest.param(make_line(1, "3", "2"), {"quantity": "5"}, Decimal("5"), id="up"),
])
def test_update_line_quantity_allowed(line: Line, data: dict[str, Any], expected: Decimal) -> None:
    order = decisions.update_line(make_order(line), {"sequence_number": 1, **data})

    assert order.lines[0].quantity == expected


@pytest.mark.parametrize(("line", "data", "text"), [
    pytest.param(make_line(1, "3", "2"), {"quantity": "1"},
                 "data.quantity 1 is below the delivered quantity 2 of line 1", id="below-delivered"),
    pytest.param(make_line(1, "3", "3", "1"), {"unit_price": "400"},
                 "line 1 is partly invoiced", id="price-of-invoiced-line"),
    pytest.param(make_line(1), {}, "data names nothing to update", id="nothing"),
    pytest.param(make_line(2), {"quantity": "1"}, "line 1 does not exist on sales order F-SO-000007",
                 id="unknown-line"),
])
def test_update_line_refusals(line: Line, data: dict[str, Any], text: str) -> None:
    code, said = refusal(lambda: decisions.update_line(make_order(line), {"sequence_number": 1, **data}))

    assert code == INVALID and text in said


@pytest.mark.parametrize("line", [
    pytest.param(make_line(1, "3", "1"), id="delivered"),
    pytest.param(make_line(1, "3", "1", "1"), id="invoiced"),
])
def test_a_delivered_or_invoiced_line_is_not_deleted(line: Line) -> None:
    code, text = refusal(lambda: decisions.delete_line(make_order(line), {"sequence_number": 1}))

    assert (code, text) == (INVALID, "line 1 has delivered or invoiced quantities and cannot be deleted")


def test_update_header_changes_only_named_fields() -> None:
    order = decisions.update_header(make_order(), {"name": "New", "requested_delivery_date": "2026-12-24"})

    assert (order.name, order.requested_shipping_date, order.customer) == ("New", "2026-12-24", "US-001")


# --- who may edit -----------------------------------------------------------------------------------

@pytest.mark.parametrize("status", list(IN_STATUS))
def test_scm_edits_until_canceled_or_fully_invoiced(status: str) -> None:
    order = IN_STATUS[status]
    if status in ("canceled", "invoiced"):
        assert refusal(lambda: decisions.check_scm_edit(order)) == \
            (TRANSITION, f"The order cannot be changed in processing status {status}")
    else:
        decisions.check_scm_edit(order)


@pytest.mark.parametrize("status", list(IN_STATUS))
@pytest.mark.parametrize("command", ["order.update", "order.add-line", "order.update-line", "order.delete-line"])
def test_sales_edits_only_before_delivery(status: str, command: str) -> None:
    order = IN_STATUS[status]
    if status in BEFORE_DELIVERY:
        decisions.check_sales_edit(order, command)
    else:
        assert refusal(lambda: decisions.check_sales_edit(order, command)) == READ_ONLY


@pytest.mark.parametrize("status", list(IN_STATUS))
def test_sales_deletes_only_while_active(status: str) -> None:
    order = IN_STATUS[status]
    if status == "active":
        decisions.check_sales_edit(order, "order.delete")
    else:
        assert refusal(lambda: decisions.check_sales_edit(order, "order.delete")) == READ_ONLY


# --- documents and cancel ------------------------------------------------------------------------------

@pytest.mark.parametrize("status", list(IN_STATUS))
@pytest.mark.parametrize(("step", "participle", "effect"), [
    (decisions.confirm, "confirmed", {"confirmed": True, "document_status": "confirmation"}),
    (decisions.pick, "picked", {"picked": True, "document_status": "pickinglist"}),
    (decisions.cancel, "canceled", {"canceled": True, "document_status": "none"}),
])
def test_confirm_pick_cancel_only_before_delivery(status: str, step: Any, participle: str,
                                                  effect: dict[str, Any]) -> None:
    order = IN_STATUS[status]
    if status in BEFORE_DELIVERY:
        changed = step(order)
        assert {key: getattr(changed, key) for key in effect} == effect
    else:
        assert refusal(lambda: step(order)) == \
            (TRANSITION, f"The order cannot be {participle} in processing status {status}")


def test_two_packing_slips_deliver_a_line_partly_then_fully() -> None:
    order = make_order(make_line(1, "3"), make_line(2, "2"), picked=True)

    first = decisions.deliver(order, {"lines": [{"sequence_number": 1, "quantity": "1"}]})
    second = decisions.deliver(first, {"lines": [{"sequence_number": 1, "quantity": "2"},
                                                 {"sequence_number": 2, "quantity": "2"}]})

    assert (processing_status(first), first.document_status) == ("partiallydelivered", "packingslip")
    assert [x.delivered for x in first.lines] == [Decimal("1"), Decimal("0")]
    assert processing_status(second) == "delivered"


@pytest.mark.parametrize(("line", "data", "expected"), [
    pytest.param(make_line(1, "3"), [{"sequence_number": 1, "quantity": "4"}],
                 (EXCEEDED, "Line 1: 4 exceeds the remaining 3"), id="above-ordered"),
    pytest.param(make_line(1, "3", "2"), [{"sequence_number": 1, "quantity": "1.5"}],
                 (EXCEEDED, "Line 1: 1.5 exceeds the remaining 1"), id="above-undelivered"),
    pytest.param(make_line(1, "3"), [{"sequence_number": 9, "quantity": "1"}],
                 (INVALID, "data.lines: line 9 does not exist on sales order F-SO-000007"), id="unknown-line"),
    pytest.param(make_line(1, "3"), [{"sequence_number": 1, "quantity": "0"}],
                 (INVALID, "data.lines[1].quantity must be greater than zero, got '0'"), id="zero"),
    pytest.param(make_line(1, "3"), [], (INVALID, "data.lines must be a non-empty list of {sequence_number, "
                                                  "quantity}"), id="no-lines"),
    pytest.param(make_line(1, "3"), [{"sequence_number": 1, "quantity": "1"}, {"sequence_number": 1, "quantity": "1"}],
                 (INVALID, "data.lines names line 1 more than once"), id="line-twice"),
])
def test_deliver_refusals(line: Line, data: list[dict[str, Any]], expected: tuple[str, str]) -> None:
    assert refusal(lambda: decisions.deliver(make_order(line), {"lines": data})) == expected


def test_a_canceled_order_is_not_delivered() -> None:
    assert refusal(lambda: decisions.deliver(IN_STATUS["canceled"], {"lines": [{"sequence_number": 1,
                                                                                  "quantity": "1"}]})) == \
        (TRANSITION, "The order cannot be delivered in processing status canceled")


def test_invalid_command_is_a_refusal_with_the_generic_code() -> None:
    assert InvalidCommand("x").code == INVALID
