"""What SCM can hold (DOMAIN.md §5, docs/domain-limits.md), checked by the invoice service's
own parsing: out of range → `InvalidCommand`, never another exception."""

from datetime import date
from typing import Any

import pytest

from invoice_service.domain import InvalidCommand, parse_free_text, parse_post

TODAY = date(2026, 11, 23)
FREE_LINE = {"description": "Consulting", "ledger_account": "401100", "amount": "250.00"}
FREE_TEXT = {"customer_account": "US-001", "currency": "USD", "lines": [FREE_LINE]}


def refused(call: Any) -> str:
    with pytest.raises(InvalidCommand) as caught:
        call()
    return str(caught.value)


@pytest.mark.parametrize(("line", "fragment"), [
    pytest.param({"amount": "1e400"}, "data.lines[1].amount must be an amount of at most", id="1e400"),
    pytest.param({"amount": "9" * 500}, "data.lines[1].amount must be an amount of at most", id="500-digits"),
    pytest.param({"amount": "1e-400"}, "with at most 2 decimals", id="tiny"),
    pytest.param({"amount": "NaN"}, "must be a finite decimal", id="nan"),
    pytest.param({"description": "d" * 301}, "data.lines[1].description must be at most 300 characters, got 301",
                 id="description"),
    pytest.param({"ledger_account": "4" * 101}, "data.lines[1].ledger_account must be at most 100 characters",
                 id="ledger-account"),
])
def test_a_free_text_value_scm_cannot_hold_is_invalid(line: dict[str, Any], fragment: str) -> None:
    assert fragment in refused(lambda: parse_free_text({**FREE_TEXT, "lines": [{**FREE_LINE, **line}]}, TODAY))


def test_free_text_lines_within_the_limits_may_not_add_up_beyond_them() -> None:
    lines = [{**FREE_LINE, "amount": "922337203685477"}] * 2
    assert refused(lambda: parse_free_text({**FREE_TEXT, "lines": lines}, TODAY)) == \
        "the invoice total must be within ±922,337,203,685,477, got 1844674407370954.00"


def test_a_document_holds_at_most_1000_lines() -> None:
    assert refused(lambda: parse_free_text({**FREE_TEXT, "lines": [FREE_LINE] * 1001}, TODAY)) == \
        "data.lines must hold at most 1,000 lines, got 1,001"
    post = {"sales_order_number": "F-SO-1", "lines": [{"sequence_number": n, "quantity": "1"} for n in range(1, 1002)]}
    assert refused(lambda: parse_post(post, TODAY)) == "data.lines must hold at most 1,000 lines, got 1,001"
    assert refused(lambda: parse_post({**post, "sales_order_number": "S" * 101}, TODAY)) == \
        "data.sales_order_number must be at most 100 characters, got 101"
