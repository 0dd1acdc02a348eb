"""What SCM can hold (DOMAIN.md §5, docs/domain-limits.md), checked by the quote domain itself
whoever sent the value (defence in depth): out of range → `InvalidCommand`, never another
exception (issue 12: `1e400` crashed `round_money`)."""

from typing import Any

import pytest

from quote_service.domain import Features, InvalidCommand, Quotation, add_line, new_quotation, update_header

F = Features()
LINE = {"sequence_number": 1, "product_number": "PC-1", "quantity": "3", "unit_price": "500.00"}
HEADER = {"customer_account": "US-001", "currency": "USD"}


def refused(call: Any) -> str:
    with pytest.raises(InvalidCommand) as caught:
        call()
    return str(caught.value)


@pytest.mark.parametrize(("line", "text"), [
    pytest.param({"quantity": "1e400"}, 'data.quantity must be at most 1,000,000,000, got "1e400"', id="1e400"),
    pytest.param({"quantity": "9" * 500}, f'data.quantity must be at most 1,000,000,000, got "{"9" * 39}…',
                 id="500-digits"),
    pytest.param({"quantity": "NaN"}, 'data.quantity must be a finite decimal, got "NaN"', id="nan"),
    pytest.param({"quantity": "0"}, 'data.quantity must be above 0, got "0"', id="zero"),
    pytest.param({"quantity": "1E-400"}, 'data.quantity must have at most 5 decimals, got "1E-400"', id="tiny"),
    pytest.param({"unit_price": "-1e400"}, 'data.unit_price must be within ±922,337,203,685,477, got "-1e400"',
                 id="price-huge"),
    pytest.param({"line_discount_amount": "Infinity"}, 'data.line_discount_amount must be a finite decimal, got '
                 '"Infinity"', id="discount-inf"),
    pytest.param({"total_charges_amount": "0.00001"}, 'data.total_charges_amount must have at most 4 decimals, got '
                 '"0.00001"', id="charges-5-decimals"),
    pytest.param({"product_number": "P" * 101}, "data.product_number must be at most 100 characters, got 101",
                 id="product-long"),
    pytest.param({"site": "S" * 900_000}, "data.site must be at most 100 characters, got 900,000", id="site-long"),
    pytest.param({"quantity": "1000000000", "unit_price": "922337203685477"},
                 "line 1: the line amount quantity × (unit_price − line_discount_amount) + total_charges_amount "
                 "must be within ±922,337,203,685,477, got 922337203685477000000000.00", id="amount-beyond"),
])
def test_a_line_value_scm_cannot_hold_is_invalid(line: dict[str, Any], text: str) -> None:
    quote = new_quotation("F-1", "scm", HEADER, F)
    assert refused(lambda: add_line(quote, {**LINE, **line}, F)) == text


@pytest.mark.parametrize(("data", "text"), [
    pytest.param({"name": "n" * 301}, "data.name must be at most 300 characters, got 301", id="name"),
    pytest.param({"customer_account": "c" * 101}, "data.customer_account must be at most 100 characters, got 101",
                 id="customer"),
    pytest.param({"currency": "€" * 101}, "data.currency must be at most 100 characters, got 101", id="currency"),
    pytest.param({"currency": "US\x00D"}, "data.currency must not contain the character U+0000 (NUL)",
                 id="currency-nul"),
])
def test_a_header_text_longer_than_its_column_is_invalid(data: dict[str, Any], text: str) -> None:
    assert refused(lambda: new_quotation("F-1", "scm", {**HEADER, **data}, F)) == text
    assert refused(lambda: update_header(new_quotation("F-1", "scm", HEADER, F), data)) == text


def test_a_quotation_number_longer_than_its_column_is_invalid() -> None:
    assert refused(lambda: new_quotation("C" * 101, "sales", HEADER, F)) == \
        "data.quotation_number must be at most 100 characters, got 101"
    assert refused(lambda: new_quotation("C-\x001", "sales", HEADER, F)) == \
        "data.quotation_number must not contain the character U+0000 (NUL)"


@pytest.mark.parametrize("number", [True, 7, "", " ", None])
def test_a_quotation_number_that_is_no_text_is_invalid(number: Any) -> None:
    assert refused(lambda: new_quotation(number, "scm", HEADER, F)) == "data.quotation_number must be a non-empty text"


def test_a_document_holds_at_most_1000_lines() -> None:
    lines = [dict(LINE, sequence_number=n) for n in range(1, 1002)]
    assert refused(lambda: new_quotation("F-1", "scm", {**HEADER, "lines": lines}, F)) == \
        "data.lines must hold at most 1,000 lines, got 1,001"
    full: Quotation = new_quotation("F-1", "scm", {**HEADER, "lines": lines[:1000]}, F)
    assert len(full.lines) == 1000
    assert refused(lambda: add_line(full, dict(LINE, sequence_number=1001), F)) == \
        "quotation F-1 has 1,000 lines, the most a document holds"


def test_values_at_the_limits_are_accepted() -> None:
    quote = new_quotation("F-1", "scm", {**HEADER, "name": "ü" * 300}, F)
    line = {**LINE, "quantity": "0.00001", "unit_price": "922337203685477", "line_discount_amount": "0.0001"}
    assert str(add_line(quote, line, F).lines[0].amount) == "9223372036.85"
