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


COMMAND_TOPICS = ["scm.quote.commands", "scm.order.commands", "scm.invoice.commands", "scm.feature.commands"]


async def test_nul_in_a_command_envelope_is_refused_or_dead_lettered(running_stack) -> None:
    """U+0000, which no PostgreSQL text holds, in an SCM command's envelope: in `target` or
    the user → `command.invalid` (the result names no target: it would carry the NUL); in
    `command_id` → the DLQ, as no result could be keyed by it. Sent as the SCM client's
    principal, the DLQ read as the operator's (docs/security.md)."""
    from uuid import uuid4

    from q2c_localstack import kafka_security
    from q2c_localstack.probe import TopicProbe

    def login(principal: str) -> Any:
        return kafka_security.credentials(running_stack, principal)

    async with TopicProbe(running_stack.kafka_bootstrap, ["scm.command.results"], credentials=login("scm-client")) \
            as scm, TopicProbe(running_stack.kafka_bootstrap, [f"{t}.dlq" for t in COMMAND_TOPICS],
                               credentials=login("operator")) as operator:
        for topic in COMMAND_TOPICS:
            type_ = {"scm.feature.commands": "feature.set"}.get(topic, topic.split(".")[1] + ".update")
            for field, value in [("target", "F-\x00"), ("user", {"name": "b\x00b", "privileges": []})]:
                command = {"command_id": str(uuid4()), "type": type_, "issued_at": "2026-11-23T10:00:00Z",
                           "user": {"name": "bob", "privileges": []}, "target": "F-000001", "data": {},
                           field: value}
                await scm.publish(topic, command["command_id"], command)
                [result] = await scm.wait_for("scm.command.results", lambda r, c=command: r.key == c["command_id"])
                assert (result.value["outcome"], result.value["code"]) == ("rejected", "command.invalid"), topic
                expected = "target" if field == "target" else "user.name"
                assert result.value["text"] == f"{expected} must not contain the character U+0000 (NUL)"
                assert result.value["target"] == (None if field == "target" else "F-000001")
            poisoned = {"command_id": f"c-{uuid4()}\x00", "type": type_, "target": None, "data": {}}
            await scm.publish(topic, None, poisoned)
            [letter] = await operator.wait_for(f"{topic}.dlq", lambda r, p=poisoned: r.value == p)
            assert letter.headers["source.topic"] == topic
