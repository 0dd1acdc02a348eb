"""Fuzzing every SCM command type (CONTRACT §4, §4.1) through the handling service's own
parse and decision functions: each outcome is a dead letter (the envelope fails
`ScmCommand`), a refusal with a contract code, or an accepted change whose snapshot can be
published — never another exception (issue 12)."""

from datetime import date
from typing import Any

from hypothesis import event, given
from hypothesis import strategies as st
from pydantic import ValidationError

from feature_state_service import domain as feature_domain
from invoice_service import domain as invoice_domain
from order_service import decisions as order_decisions
from order_service import domain as order_domain
from q2c_contracts.scm import ScmCommand
from quote_service import domain as quote_domain

from .hostile import hostile, json_values, nearly

LINE = {"sequence_number": 1, "product_number": "PC-1", "quantity": "3", "unit_price": "500.00",
        "line_discount_amount": "3.33", "total_charges_amount": "-0.01", "site": "1", "warehouse": "11"}
LINE_KINDS = {"sequence_number": "integer", "product_number": "text", "quantity": "quantity", "unit_price": "money",
              "line_discount_amount": "money", "total_charges_amount": "money", "site": "text", "warehouse": "text"}
HEADER = {"customer_account": "US-001", "currency": "USD", "name": "Office PCs"}
HEADER_KINDS = {"customer_account": "text", "currency": "text", "name": "text", "quotation_number": "text",
                "sales_order_number": "text", "requested_shipping_date": "text", "requested_delivery_date": "text"}
QTY_LINE = {"sequence_number": 1, "quantity": "1"}
QTY_KINDS = {"sequence_number": "integer", "quantity": "quantity"}
FREE_LINE = {"description": "Consulting", "ledger_account": "401100", "amount": "250.00"}
FREE_KINDS = {"description": "text", "ledger_account": "text", "amount": "money"}
TODAY = date(2026, 11, 23)

QF = quote_domain.Features()
QUOTE = quote_domain.new_quotation("F-000001", "scm", {**HEADER, "lines": [LINE]}, QF)
OF = order_domain.Features()
ORDER = order_decisions.new_order("F-SO-000001", "SCM", {**HEADER, "lines": [LINE]}, OF)


@st.composite
def lines(draw: st.DrawFn, valid: dict[str, Any], kinds: dict[str, str]) -> Any:
    """A list of nearly-valid lines, sometimes more than a document may hold, sometimes no list."""
    count = draw(st.sampled_from([0, 1, 2, 3, 1001]))
    made = [dict(valid, sequence_number=n + 1) if "sequence_number" in valid else dict(valid) for n in range(count)]
    for n in draw(st.lists(st.integers(0, max(count - 1, 0)), max_size=2)) if count else []:
        made[n] = draw(nearly(made[n], kinds))
    return made if draw(st.integers(0, 9)) else draw(json_values)


@st.composite
def commands(draw: st.DrawFn, type_: str, data: st.SearchStrategy[dict[str, Any]]) -> dict[str, Any]:
    envelope: dict[str, Any] = {"command_id": "c-1", "type": type_, "issued_at": "2026-11-22T14:00:00Z",
                                "user": {"name": "bob", "privileges": []}, "target": "F-000001", "data": draw(data)}
    if draw(st.integers(0, 19)) == 0:
        envelope[draw(st.sampled_from(sorted(envelope)))] = draw(json_values)
    if draw(st.integers(0, 9)) == 0:  # U+0000 in an envelope text (PostgreSQL holds none)
        field = draw(st.sampled_from(["command_id", "type", "target", "user.name", "user.privileges"]))
        if field.startswith("user.") and isinstance(envelope["user"], dict):
            user = envelope["user"] = dict(envelope["user"])
            user[field[5:]] = ["x\x00"] if field == "user.privileges" else "bo\x00b"
        else:
            envelope[field] = f"{envelope[field]}\x00" if isinstance(envelope.get(field), str) else "\x00"
    return envelope


def with_lines(valid: dict[str, Any], kinds: dict[str, str], line: dict[str, Any],
               line_kinds: dict[str, str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.tuples(nearly(valid, kinds), lines(line, line_kinds)).map(lambda t: {**t[0], "lines": t[1]})


def parsed(raw: dict[str, Any]) -> ScmCommand | None:
    """The command if its service decides on its data; None when it is dead-lettered or
    refused for its envelope (results.refuse_bad_envelope) before any decision."""
    try:
        command = ScmCommand.model_validate(raw)
    except ValidationError:
        event("dead letter")
        return None
    # the inbox stores the id and the result echoes id and type: both must be storable
    assert "\x00" not in command.command_id + command.type
    if problem := command.envelope_problem():
        assert problem.endswith("must not contain the character U+0000 (NUL)")
        event("command.invalid (envelope)")
        return None
    return command


QUOTE_COMMANDS = {
    "quote.create": (with_lines(HEADER, HEADER_KINDS, LINE, LINE_KINDS),
                     lambda d: quote_domain.new_quotation(d.get("quotation_number") or "F-000002", "scm", d, QF)),
    "quote.update": (nearly(HEADER, HEADER_KINDS), lambda d: quote_domain.update_header(QUOTE, d)),
    "quote.add-line": (nearly(dict(LINE, sequence_number=2), LINE_KINDS),
                       lambda d: quote_domain.add_line(QUOTE, d, QF)),
    "quote.update-line": (nearly(LINE, LINE_KINDS), lambda d: quote_domain.update_line(QUOTE, d, QF)),
    "quote.delete-line": (nearly({"sequence_number": 1}, {"sequence_number": "integer"}),
                          lambda d: quote_domain.delete_line(QUOTE, d)),
    "quote.send": (nearly({}, {}), lambda d: quote_domain.apply_lifecycle(QUOTE, "send", d, QF).quote),
    "quote.confirm": (nearly({"sales_order_number": "C-SO-1"}, {"sales_order_number": "text"}),
                      lambda d: quote_domain.apply_lifecycle(QUOTE, "confirm", d, QF).quote),
}
ORDER_COMMANDS = {
    "order.create": (with_lines(HEADER, HEADER_KINDS, LINE, LINE_KINDS),
                     lambda d: order_decisions.new_order("F-SO-000002", "SCM", d, OF)),
    "order.update": (nearly(HEADER, HEADER_KINDS), lambda d: order_decisions.update_header(ORDER, d)),
    "order.add-line": (nearly(dict(LINE, sequence_number=2), LINE_KINDS),
                       lambda d: order_decisions.add_line(ORDER, d, OF)),
    "order.update-line": (nearly(LINE, LINE_KINDS), lambda d: order_decisions.update_line(ORDER, d)),
    "order.delete-line": (nearly({"sequence_number": 1}, {"sequence_number": "integer"}),
                          lambda d: order_decisions.delete_line(ORDER, d)),
    "order.confirm": (nearly({}, {}), lambda d: order_decisions.confirm(ORDER)),
    "order.pick": (nearly({}, {}), lambda d: order_decisions.pick(ORDER)),
    "order.cancel": (nearly({"reason": "x"}, {"reason": "text"}), lambda d: order_decisions.cancel(ORDER)),
    "order.deliver": (with_lines({}, {}, QTY_LINE, QTY_KINDS), lambda d: order_decisions.deliver(ORDER, d)),
    "order.invoice": (with_lines({}, {}, QTY_LINE, QTY_KINDS), lambda d: order_decisions.invoice(ORDER, d).order),
}
ORDER_CODES = {"command.invalid", "order.invalid-transition", "order.quantity-exceeded", "order.read-only"}


@given(data=st.data(), type_=st.sampled_from(sorted(QUOTE_COMMANDS)))
def test_quote_commands(data: st.DataObject, type_: str) -> None:
    strategy, decide = QUOTE_COMMANDS[type_]
    command = parsed(data.draw(commands(type_, strategy)))
    if command is None:
        return
    try:
        changed = decide(command.data)
    except quote_domain.InvalidCommand:
        event("command.invalid")
        return
    quote_domain.snapshot(changed)  # publishable: every amount within what `money` writes
    event("accepted")


@given(data=st.data(), type_=st.sampled_from(sorted(ORDER_COMMANDS)))
def test_order_commands(data: st.DataObject, type_: str) -> None:
    strategy, decide = ORDER_COMMANDS[type_]
    command = parsed(data.draw(commands(type_, strategy)))
    if command is None:
        return
    try:
        changed = decide(command.data)
    except order_domain.Refused as refused:
        assert refused.code in ORDER_CODES
        event(refused.code)
        return
    order_domain.snapshot(changed)
    event("accepted")


INVOICE_COMMANDS = {
    "invoice.post": (with_lines({"sales_order_number": "F-SO-000001", "invoice_date": "2026-11-23"},
                                {"sales_order_number": "text", "invoice_date": "text"}, QTY_LINE, QTY_KINDS), None),
    "invoice.post-free-text": (with_lines({"customer_account": "US-001", "currency": "USD"}, HEADER_KINDS,
                                          FREE_LINE, FREE_KINDS), None),
}
FEATURE_COMMANDS = {
    "feature.set": (nearly({"feature": "PriceMaster", "enabled": True}, {"feature": "text", "enabled": "boolean"}),
                    None),
    "parameter.set": (nearly({"name": "DefaultSite", "value": "1"}, {"name": "text", "value": "text"}), None),
    "feature.frobnicate": (nearly({"name": "DefaultSite", "value": "1"}, {"name": "text", "value": "text"}), None),
}


@given(data=st.data(), free_text=st.booleans())
def test_invoice_commands(data: st.DataObject, free_text: bool) -> None:
    type_ = "invoice.post-free-text" if free_text else "invoice.post"
    command = parsed(data.draw(commands(type_, INVOICE_COMMANDS[type_][0])))
    if command is None:
        return
    try:
        if free_text:
            invoice_domain.snapshot(invoice_domain.free_text_invoice(
                "F-INV-000001", invoice_domain.parse_free_text(command.data, TODAY)))
        else:
            invoice_domain.parse_post(command.data, TODAY)
    except invoice_domain.InvalidCommand:
        event("command.invalid")
        return
    event("accepted")


@given(data=st.data(), type_=st.sampled_from(sorted(FEATURE_COMMANDS)))
def test_feature_commands(data: st.DataObject, type_: str) -> None:
    command = parsed(data.draw(commands(type_, FEATURE_COMMANDS[type_][0])))
    if command is None:
        return
    decision = feature_domain.decide(command.type, command.data)
    assert isinstance(decision, feature_domain.Accepted | feature_domain.Rejected)
    event(type(decision).__name__)


@given(value=hostile("quantity"))
def test_a_hostile_quantity_never_crashes_a_line_amount(value: Any) -> None:
    """The crash of issue 12: `round_money` on `1e400`. Every domain refuses or computes."""
    for add in (lambda d: quote_domain.add_line(QUOTE, d, QF), lambda d: order_decisions.add_line(ORDER, d, OF)):
        try:
            add(dict(LINE, sequence_number=2, quantity=value))
        except (quote_domain.InvalidCommand, order_domain.Refused):
            pass
