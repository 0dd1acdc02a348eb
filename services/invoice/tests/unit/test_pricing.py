"""Invoice amounts (DOMAIN.md §4, §8): an order line's share is LINEAMOUNT × quantity /
ordered, rounded half up to cents; the post that completes the line takes what is left, so
a line's invoices add up to its LINEAMOUNT to the cent. Expected values are worked by hand."""

from decimal import Decimal

import pytest

from invoice_service.domain import Post, PostLine, line_amount, order_invoice, snapshot
from q2c_contracts.order import InvoicingLine

ORDERED = "3"
LINE_AMOUNT = "1490.00"  # 3 × 500.00 − 10.00


def approved(quantity: str, invoiced_before: str, *, sequence: int = 1, line_amount: str = LINE_AMOUNT,
             ordered: str = ORDERED, price: str = "500.00") -> InvoicingLine:
    return InvoicingLine(sequence_number=sequence, product_number=f"PC-{sequence}", quantity=quantity,
                         unit_price=price, line_amount=line_amount, ordered_quantity=ordered,
                         invoiced_before=invoiced_before,
                         completes_line=Decimal(invoiced_before) + Decimal(quantity) == Decimal(ordered))


@pytest.mark.parametrize(("line", "invoiced_so_far", "expected"), [
    pytest.param(approved("1", "0"), "0", "496.67", id="a-third-rounds-up"),
    pytest.param(approved("2", "0"), "0", "993.33", id="two-thirds-rounds-down"),
    pytest.param(approved("3", "0"), "0", "1490.00", id="whole-line-at-once"),
    pytest.param(approved("1", "2"), "993.34", "496.66", id="completing-takes-the-rest"),
    pytest.param(approved("1", "1", line_amount="0.05", ordered="2", price="0.025"), "0.03", "0.02",
                 id="completing-a-half-cent-line"),
    pytest.param(approved("1", "0", line_amount="0.05", ordered="2", price="0.025"), "0", "0.03",
                 id="half-a-cent-rounds-half-up"),
    pytest.param(approved("0.5", "0", line_amount="100.00", ordered="1.5", price="66.67"), "0", "33.33",
                 id="fractional-quantities"),
])
def test_a_line_is_priced_by_its_share_or_completed_by_its_remainder(line: InvoicingLine, invoiced_so_far: str,
                                                                    expected: str) -> None:
    assert line_amount(line, Decimal(invoiced_so_far)) == Decimal(expected)


def test_three_partial_invoices_of_a_line_add_up_to_its_line_amount_exactly() -> None:
    invoiced = Decimal("0")
    amounts = []
    for before in ("0", "1", "2"):
        amount = line_amount(approved("1", before), invoiced)
        amounts.append(amount)
        invoiced += amount

    assert amounts == [Decimal("496.67"), Decimal("496.67"), Decimal("496.66")]
    assert invoiced == Decimal(LINE_AMOUNT)


def test_an_order_invoice_keeps_the_order_line_numbers_and_totals_its_lines() -> None:
    post = Post("F-SO-000001", (PostLine(2, Decimal("1")), PostLine(1, Decimal("2"))), "2026-11-23")
    lines = [approved("1", "0", sequence=2, line_amount="200.00", ordered="4", price="50.00"),
             approved("2", "0", sequence=1)]

    invoice = order_invoice("F-INV-000001", post, "US-001", "USD", lines, {})
    state = snapshot(invoice).model_dump()

    assert state == {
        "INVOICENUMBER": "F-INV-000001", "SALESORDERNUMBER": "F-SO-000001", "INVOICECUSTOMERACCOUNTNUMBER": "US-001",
        "CURRENCYCODE": "USD", "INVOICEDATE": "2026-11-23", "TOTALINVOICEAMOUNT": "1043.33",  # 993.33 + 50.00
        "lines": [
            {"LINECREATIONSEQUENCENUMBER": 1, "PRODUCTNUMBER": "PC-1", "DESCRIPTION": None, "LEDGERACCOUNT": None,
             "INVOICEDQUANTITY": "2", "SALESPRICE": "500.00", "LINEAMOUNT": "993.33"},
            {"LINECREATIONSEQUENCENUMBER": 2, "PRODUCTNUMBER": "PC-2", "DESCRIPTION": None, "LEDGERACCOUNT": None,
             "INVOICEDQUANTITY": "1", "SALESPRICE": "50.00", "LINEAMOUNT": "50.00"},
        ],
    }


def test_the_completing_post_of_one_line_uses_that_lines_invoiced_money_only() -> None:
    post = Post("F-SO-000001", (PostLine(1, Decimal("1")), PostLine(2, Decimal("1"))), "2026-11-23")
    lines = [approved("1", "2", sequence=1), approved("1", "0", sequence=2)]

    invoice = order_invoice("F-INV-000003", post, "US-001", "USD", lines,
                            {1: Decimal("993.34"), 2: Decimal("0")})

    assert [line.amount for line in invoice.lines] == [Decimal("496.66"), Decimal("496.67")]
    assert invoice.total == Decimal("993.33")
