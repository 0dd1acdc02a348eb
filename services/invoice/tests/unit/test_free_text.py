"""Free-text invoices (DOMAIN.md §8): no sales order, lines numbered 1..n in the order given,
quantity 1, price = amount; the total is the sum of the amounts; numbers from the one sequence."""

from decimal import Decimal

import pytest

from invoice_service.domain import FreeText, FreeTextLine, format_number, free_text_invoice, snapshot


def test_free_text_lines_are_numbered_from_one_with_quantity_one_and_price_the_amount() -> None:
    free_text = FreeText("US-001", "EUR", (FreeTextLine("Consulting", "401100", Decimal("250.00")),
                                          FreeTextLine("Travel", "401300", Decimal("80.5")),
                                          FreeTextLine("Goodwill", "401900", Decimal("-30"))), "2026-11-23")

    state = snapshot(free_text_invoice("F-INV-000007", free_text)).model_dump()

    assert state == {
        "INVOICENUMBER": "F-INV-000007", "SALESORDERNUMBER": None, "INVOICECUSTOMERACCOUNTNUMBER": "US-001",
        "CURRENCYCODE": "EUR", "INVOICEDATE": "2026-11-23", "TOTALINVOICEAMOUNT": "300.50",
        "lines": [
            {"LINECREATIONSEQUENCENUMBER": 1, "PRODUCTNUMBER": None, "DESCRIPTION": "Consulting",
             "LEDGERACCOUNT": "401100", "INVOICEDQUANTITY": "1", "SALESPRICE": "250.00", "LINEAMOUNT": "250.00"},
            {"LINECREATIONSEQUENCENUMBER": 2, "PRODUCTNUMBER": None, "DESCRIPTION": "Travel",
             "LEDGERACCOUNT": "401300", "INVOICEDQUANTITY": "1", "SALESPRICE": "80.50", "LINEAMOUNT": "80.50"},
            {"LINECREATIONSEQUENCENUMBER": 3, "PRODUCTNUMBER": None, "DESCRIPTION": "Goodwill",
             "LEDGERACCOUNT": "401900", "INVOICEDQUANTITY": "1", "SALESPRICE": "-30.00", "LINEAMOUNT": "-30.00"},
        ],
    }


@pytest.mark.parametrize(("prefix", "value", "expected"), [
    ("F-INV-", 1, "F-INV-000001"),
    ("F-INV-", 123456, "F-INV-123456"),
    ("INV/", 42, "INV/000042"),
    ("F-INV-", 1234567, "F-INV-1234567"),  # past six digits the number grows, it never wraps
])
def test_invoice_numbers_are_the_prefix_and_six_digits(prefix: str, value: int, expected: str) -> None:
    assert format_number(prefix, value) == expected
