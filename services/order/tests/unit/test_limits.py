"""What SCM can hold (DOMAIN.md §5, docs/domain-limits.md), checked by the order decisions
whoever sent the value: out of range → `command.invalid`, never another exception."""

from typing import Any

import pytest

from order_service import decisions
from order_service.domain import Features, InvalidCommand, Order

F = Features()
LINE = {"sequence_number": 1, "product_number": "PC-1", "quantity": "3", "unit_price": "500.00"}
HEADER = {"customer_account": "US-001", "currency": "USD"}


def refused(call: Any) -> str:
    with pytest.raises(InvalidCommand) as caught:
        call()
    assert caught.value.code == "command.invalid"
    return caught.value.text


@pytest.mark.parametrize(("line", "fragment"), [
    pytest.param({"quantity": "1e400"}, "data.quantity must be at most 1000000000", id="1e400"),
    pytest.param({"quantity": "9" * 500}, "data.quantity must be at most 1000000000", id="500-digits"),
    pytest.param({"quantity": "NaN"}, "data.quantity must be a finite decimal", id="nan"),
    pytest.param({"unit_price": "1e400"}, "data.unit_price must be within ±922337203685477", id="price-huge"),
    pytest.param({"total_charges_amount": "-" + "9" * 500}, "data.total_charges_amount must be within", id="charges"),
    pytest.param({"product_number": "P" * 900_000}, "data.product_number is longer than 100 characters",
                 id="product-long"),
    pytest.param({"quantity": "1000000000", "unit_price": "922337203685477"},
                 "line 1: the line amount quantity × (unit_price − line_discount_amount) + total_charges_amount must "
                 "be within ±922,337,203,685,477", id="amount-beyond"),
])
def test_a_line_value_scm_cannot_hold_is_invalid(line: dict[str, Any], fragment: str) -> None:
    order = decisions.new_order("F-SO-1", "SCM", HEADER, F)
    assert fragment in refused(lambda: decisions.add_line(order, {**LINE, **line}, F))


def test_many_lines_within_the_limits_may_not_add_up_beyond_them() -> None:
    line = {**LINE, "quantity": "1000", "unit_price": "922337203685"}  # 922,337,203,685,000 each
    order = decisions.new_order("F-SO-1", "SCM", {**HEADER, "lines": [line]}, F)
    assert "the order total must be within ±922,337,203,685,477" in refused(
        lambda: decisions.add_line(order, {**line, "sequence_number": 2}, F))


def test_a_document_holds_at_most_1000_lines() -> None:
    lines = [dict(LINE, sequence_number=n) for n in range(1, 1002)]
    assert refused(lambda: decisions.new_order("F-SO-1", "SCM", {**HEADER, "lines": lines}, F)) == \
        "data.lines must hold at most 1,000 lines, got 1,001"
    full: Order = decisions.new_order("F-SO-1", "SCM", {**HEADER, "lines": lines[:1000]}, F)
    assert refused(lambda: decisions.add_line(full, dict(LINE, sequence_number=1001), F)) == \
        "sales order F-SO-1 has 1,000 lines, the most a document holds"
    deliveries = {"lines": [{"sequence_number": n, "quantity": "1"} for n in range(1, 1002)]}
    assert refused(lambda: decisions.deliver(full, deliveries)) == "data.lines must hold at most 1,000 lines, got 1,001"


def test_a_text_with_nul_is_invalid() -> None:
    """PostgreSQL holds no U+0000 in text or jsonb: the e2e fuzz run (seed 2242021222) saw the
    order service fail on every attempt for a currency "\\x00" and dead-letter the command."""
    assert refused(lambda: decisions.new_order("F-SO-1", "SCM", {**HEADER, "currency": "US\x00D"}, F)) == \
        "data.currency must not contain the character U+0000 (NUL)"
    order = decisions.new_order("F-SO-1", "SCM", HEADER, F)
    assert refused(lambda: decisions.update_header(order, {"name": "\x00"})) == \
        "data.name must not contain the character U+0000 (NUL)"


def test_a_name_longer_than_its_column_is_invalid() -> None:
    assert refused(lambda: decisions.new_order("F-SO-1", "SCM", {**HEADER, "name": "n" * 900_000}, F)) == \
        "data.name is longer than 300 characters"
