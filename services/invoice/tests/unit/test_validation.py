"""What invoice.post and invoice.post-free-text must carry (CONTRACT.md §4.1,
docs/orders-and-invoices.md): anything else is `command.invalid` with a text naming the field."""

from datetime import date
from decimal import Decimal

import pytest

from invoice_service.domain import FreeTextLine, InvalidCommand, PostLine, parse_free_text, parse_post

TODAY = date(2026, 11, 23)
POST = {"sales_order_number": "F-SO-000001", "lines": [{"sequence_number": 1, "quantity": "1"}]}
FREE_TEXT = {"customer_account": "US-001", "currency": "USD",
             "lines": [{"description": "Consulting", "ledger_account": "401100", "amount": "250.00"}]}


def test_a_post_names_its_order_lines_and_quantities_and_defaults_to_today() -> None:
    post = parse_post({"sales_order_number": "F-SO-000001",
                       "lines": [{"sequence_number": 1, "quantity": "2"}, {"sequence_number": 3, "quantity": "0.5"}]},
                      TODAY)

    assert post.sales_order_number == "F-SO-000001"
    assert post.lines == (PostLine(1, Decimal("2")), PostLine(3, Decimal("0.5")))
    assert post.invoice_date == "2026-11-23"


def test_a_post_keeps_the_invoice_date_it_is_given() -> None:
    assert parse_post({**POST, "invoice_date": "2026-12-31"}, TODAY).invoice_date == "2026-12-31"


@pytest.mark.parametrize(("data", "text"), [
    pytest.param({"lines": POST["lines"]}, "data.sales_order_number is required: a non-empty text", id="no-order"),
    pytest.param({**POST, "sales_order_number": " "}, "data.sales_order_number is required: a non-empty text",
                 id="blank-order"),
    pytest.param({**POST, "sales_order_number": 7}, "data.sales_order_number is required: a non-empty text",
                 id="order-not-text"),
    pytest.param({**POST, "lines": []}, "data.lines must be a non-empty list of {sequence_number, quantity}",
                 id="no-lines"),
    pytest.param({"sales_order_number": "F-SO-1"}, "data.lines must be a non-empty list of {sequence_number, quantity}",
                 id="lines-absent"),
    pytest.param({**POST, "lines": ["1"]}, "data.lines[1] must be an object {sequence_number, quantity}",
                 id="line-not-object"),
    pytest.param({**POST, "lines": [{"quantity": "1"}]}, "data.lines[1].sequence_number must be a positive integer, "
                 "got None", id="no-sequence"),
    pytest.param({**POST, "lines": [{"sequence_number": "1", "quantity": "1"}]},
                 "data.lines[1].sequence_number must be a positive integer, got '1'", id="sequence-text"),
    pytest.param({**POST, "lines": [{"sequence_number": True, "quantity": "1"}]},
                 "data.lines[1].sequence_number must be a positive integer, got True", id="sequence-bool"),
    pytest.param({**POST, "lines": [{"sequence_number": 0, "quantity": "1"}]},
                 "data.lines[1].sequence_number must be a positive integer, got 0", id="sequence-zero"),
    pytest.param({**POST, "lines": [{"sequence_number": 1, "quantity": "1"}, {"sequence_number": 1, "quantity": "2"}]},
                 "data.lines[2].sequence_number: line 1 is named twice", id="line-twice"),
    pytest.param({**POST, "lines": [{"sequence_number": 1}]},
                 'data.lines[1].quantity must be a decimal string such as "10.00", got None', id="no-quantity"),
    pytest.param({**POST, "lines": [{"sequence_number": 1, "quantity": 1.5}]},
                 'data.lines[1].quantity must be a decimal string such as "10.00", got 1.5', id="quantity-float"),
    pytest.param({**POST, "lines": [{"sequence_number": 1, "quantity": "two"}]},
                 'data.lines[1].quantity must be a decimal string such as "10.00", got \'two\'', id="quantity-word"),
    pytest.param({**POST, "lines": [{"sequence_number": 1, "quantity": "0"}]},
                 "data.lines[1].quantity must be greater than zero, got '0'", id="quantity-zero"),
    pytest.param({**POST, "lines": [{"sequence_number": 1, "quantity": "-1"}]},
                 "data.lines[1].quantity must be greater than zero, got '-1'", id="quantity-negative"),
    pytest.param({**POST, "lines": [{"sequence_number": 1, "quantity": "0.000001"}]},
                 "data.lines[1].quantity must be at most 1000000000 with at most 5 decimals, got '0.000001'",
                 id="quantity-six-decimals"),
    pytest.param({**POST, "lines": [{"sequence_number": 1, "quantity": "1000000001"}]},
                 "data.lines[1].quantity must be at most 1000000000 with at most 5 decimals, got '1000000001'",
                 id="quantity-too-large"),
    pytest.param({**POST, "invoice_date": "23.11.2026"},
                 "data.invoice_date must be a date YYYY-MM-DD, got '23.11.2026'", id="date-format"),
    pytest.param({**POST, "invoice_date": "2026-02-30"},
                 "data.invoice_date must be a date YYYY-MM-DD, got '2026-02-30'", id="date-impossible"),
    pytest.param({**POST, "invoice_date": "2026-11-23T10:00:00Z"},
                 "data.invoice_date must be a date YYYY-MM-DD, got '2026-11-23T10:00:00Z'", id="date-timestamp"),
])
def test_an_invalid_post_is_refused_naming_the_field(data: dict, text: str) -> None:
    with pytest.raises(InvalidCommand) as refused:
        parse_post(data, TODAY)
    assert str(refused.value) == text


def test_a_quantity_with_trailing_zeros_counts_its_significant_decimals_only() -> None:
    post = parse_post({**POST, "lines": [{"sequence_number": 1, "quantity": "2.5000000"}]}, TODAY)
    assert post.lines == (PostLine(1, Decimal("2.5")),)


def test_a_free_text_invoice_names_customer_currency_and_its_lines() -> None:
    free_text = parse_free_text({**FREE_TEXT, "lines": [
        {"description": "Consulting", "ledger_account": "401100", "amount": "250.00"},
        {"description": "Credit", "ledger_account": "401200", "amount": "-50"}]}, TODAY)

    assert (free_text.customer, free_text.currency, free_text.invoice_date) == ("US-001", "USD", "2026-11-23")
    assert free_text.lines == (FreeTextLine("Consulting", "401100", Decimal("250.00")),
                               FreeTextLine("Credit", "401200", Decimal("-50")))


@pytest.mark.parametrize(("data", "text"), [
    pytest.param({**FREE_TEXT, "customer_account": None}, "data.customer_account is required: a non-empty text",
                 id="no-customer"),
    pytest.param({**FREE_TEXT, "currency": ""}, "data.currency is required: a non-empty text", id="no-currency"),
    pytest.param({**FREE_TEXT, "lines": {}},
                 "data.lines must be a non-empty list of {description, ledger_account, amount}", id="lines-not-list"),
    pytest.param({**FREE_TEXT, "lines": [{"ledger_account": "401100", "amount": "1"}]},
                 "data.lines[1].description is required: a non-empty text", id="no-description"),
    pytest.param({**FREE_TEXT, "lines": [FREE_TEXT["lines"][0], {"description": "x", "amount": "1"}]},
                 "data.lines[2].ledger_account is required: a non-empty text", id="no-ledger-account"),
    pytest.param({**FREE_TEXT, "lines": [{"description": "x", "ledger_account": "401100", "amount": 250.0}]},
                 'data.lines[1].amount must be a decimal string such as "10.00", got 250.0', id="amount-float"),
    pytest.param({**FREE_TEXT, "lines": [{"description": "x", "ledger_account": "401100", "amount": "1.005"}]},
                 "data.lines[1].amount must be an amount of at most 922337203685477 with at most 2 decimals, "
                 "got '1.005'", id="amount-fraction-of-cent"),
    pytest.param({**FREE_TEXT, "lines": [{"description": "x", "ledger_account": "401100",
                                          "amount": "922337203685478"}]},
                 "data.lines[1].amount must be an amount of at most 922337203685477 with at most 2 decimals, "
                 "got '922337203685478'", id="amount-out-of-range"),
    pytest.param({**FREE_TEXT, "invoice_date": 20261123}, "data.invoice_date must be a date YYYY-MM-DD, got 20261123",
                 id="date-number"),
])
def test_an_invalid_free_text_invoice_is_refused_naming_the_field(data: dict, text: str) -> None:
    with pytest.raises(InvalidCommand) as refused:
        parse_free_text(data, TODAY)
    assert str(refused.value) == text
