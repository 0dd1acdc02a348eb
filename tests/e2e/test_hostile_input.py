"""Hostile input through the running stack (issue 12; DOMAIN.md §5, docs/domain-limits.md):
every bad value Sales or an SCM user sends gets exactly one answer. A wrong JSON type goes
to the topic's DLQ; a well-typed value SCM cannot hold gets a `command.invalid`
notification naming the column and a write that puts the Sales row back (a `delete` for a
row SCM never accepted); an SCM command beyond the limits gets a `command.invalid` result."""

from typing import Any

import pytest

from .quote_clients import QUOTE_TOPICS, QuoteClients, line
from .sales_clients import DATAVERSE_TOPICS, SalesSystem

DLQS = ["dataverse.quote.changes.dlq", "dataverse.quotedetail.changes.dlq"]


@pytest.fixture
async def both(probe_factory) -> tuple[SalesSystem, QuoteClients]:
    probe = await probe_factory(*DATAVERSE_TOPICS, *QUOTE_TOPICS, *DLQS)
    return SalesSystem(probe), QuoteClients(probe)


async def created_quote(sales: SalesSystem) -> str:
    number = await sales.create_quote()
    await sales.row_state(number, "created")
    return number


async def dead_letter(sales: SalesSystem, table: str, change: dict[str, Any]) -> dict[str, str]:
    topic = f"dataverse.{table}.changes.dlq"
    [letter] = await sales.probe.wait_for(topic, lambda r: r.value.get("message_id") == change["message_id"])
    assert letter.value == change  # untouched (CONTRACT §0)
    return letter.headers


async def answered_once(sales: SalesSystem, table: str, key: str, change: dict[str, Any]) -> tuple[dict, dict]:
    """The one notification of a refused change and the write that restores the row."""
    note = await sales.order_notification(table, key, change)
    restore = await sales.write(table, key, lambda w: w["caused_by"] == change["message_id"])
    await sales.probe.quiescent()
    notes = sales.probe.matching("dataverse.notifications",
                                 lambda r: r.value["refused_message_id"] == change["message_id"])
    assert len(notes) == 1
    return note, restore


async def test_a_json_number_where_a_decimal_string_belongs_goes_to_the_dlq(both) -> None:
    sales, _ = both
    number = await created_quote(sales)
    change = await sales.add_line(number, 1, priceperunit=1.5)
    headers = await dead_letter(sales, "quotedetail", change)
    assert headers["error.code"] == "message.invalid"
    assert "record.priceperunit must be a decimal string, got float 1.5" in headers["error.text"]
    assert headers["source.topic"] == "dataverse.quotedetail.changes"
    assert sales.probe.matching("dataverse.notifications", lambda r: r.value["refused_message_id"] ==
                                change["message_id"]) == []


async def test_a_string_where_an_integer_belongs_goes_to_the_dlq(both) -> None:
    sales, _ = both
    number = await created_quote(sales)
    change = await sales.update_quote(number, statecode="one", statuscode=2)
    headers = await dead_letter(sales, "quote", change)
    assert "record.statecode must be an integer, got str 'one'" in headers["error.text"]


@pytest.mark.parametrize(("quantity", "text"), [
    pytest.param("NaN", 'quantity must be a finite decimal, got "NaN"', id="nan"),
    pytest.param("1e400", 'quantity must be at most 1,000,000,000, got "1e400"', id="1e400"),
    pytest.param("9" * 500, f'quantity must be at most 1,000,000,000, got "{"9" * 39}…', id="500-digits"),
    pytest.param("0", 'quantity must be above 0, got "0"', id="zero"),
])
async def test_a_quantity_scm_cannot_hold_is_refused_and_the_new_line_deleted(both, quantity: str, text: str) -> None:
    sales, scm = both
    number = await created_quote(sales)
    change = await sales.add_line(number, 1, quantity=quantity)
    note, restore = await answered_once(sales, "quotedetail", f"{number}/1", change)
    assert (note["code"], note["text"]) == ("command.invalid", text)
    assert note["alternate_key"] == {"msdyn_quotenumber": number, "sequencenumber": 1}
    assert restore["operation"] == "delete"
    assert restore["alternate_key"] == {"msdyn_quotenumber": number, "sequencenumber": 1}
    # SCM never had the line, and the quote service never failed on it
    assert all(e.value["quotation"]["lines"] == [] for e in scm.events(number))


async def test_a_quantity_change_scm_cannot_hold_restores_scm_s_line(both) -> None:
    sales, _ = both
    number = await created_quote(sales)
    await sales.add_line_and_wait(number, 1)
    change = await sales.update_line(number, 1, quantity="1e400")
    note, restore = await answered_once(sales, "quotedetail", f"{number}/1", change)
    assert note["code"] == "command.invalid"
    assert (restore["operation"], restore["record"]["quantity"]) == ("upsert", "3")


async def test_a_state_that_is_no_lifecycle_step_is_refused_and_restored(both) -> None:
    sales, _ = both
    number = await created_quote(sales)
    change = await sales.update_quote(number, statecode=99, statuscode=99)
    note, restore = await answered_once(sales, "quote", number, change)
    assert note["code"] == "command.invalid"
    assert note["text"].startswith("statecode/statuscode must be a quote state")
    assert (restore["record"]["statecode"], restore["record"]["statuscode"]) == (0, 1)


async def test_a_900000_character_name_is_refused_and_restored(both) -> None:
    sales, scm = both
    number = await created_quote(sales)
    change = await sales.update_quote(number, name="x" * 900_000)
    note, restore = await answered_once(sales, "quote", number, change)
    assert (note["code"], note["text"]) == ("command.invalid", "name must be at most 300 characters, got 900,000")
    assert restore["record"]["name"] == "Office PCs"
    assert all(e.value["quotation"]["SALESQUOTATIONNAME"] == "Office PCs" for e in scm.events(number))


async def test_a_quote_create_with_1001_lines_is_invalid(both) -> None:
    _, scm = both
    lines = [line(n) for n in range(1, 1002)]
    result = await scm.scm("quote.create", None, {"customer_account": "US-001", "currency": "USD", "lines": lines})
    assert (result["outcome"], result["code"]) == ("rejected", "command.invalid")
    assert result["text"] == "data.lines must hold at most 1,000 lines, got 1,001"


async def test_an_scm_quantity_of_1e400_is_invalid_and_the_service_carries_on(both) -> None:
    _, scm = both
    number = await scm.create_scm_quote(lines=0)
    result = await scm.scm("quote.add-line", number, line(1, quantity="1e400"))
    assert (result["outcome"], result["code"]) == ("rejected", "command.invalid")
    assert (await scm.scm("quote.add-line", number, line(1)))["outcome"] == "accepted"
