"""The quote service's Sales commands handled per chunk (`ChunkQuotations`, docs/quote-
lifecycle.md) on the real PostgreSQL: the same quotations, pending lifecycle steps and messages
(events, results, ownership requests) as the same commands one by one (the route without its
chunk hooks): creates, lines added and changed on a quotation created in the same chunk, a
number taken twice, a quotation that does not exist, a refused edit, lifecycle steps."""

from typing import Any
from uuid import uuid4

from q2c_contracts.topics import QUOTE_SALES_COMMANDS
from quote_service.app import MIGRATIONS, SERVICE, build

from .chunk_equivalence import ServiceUnderTest, same_either_way

QUOTES = ServiceUnderTest(SERVICE, MIGRATIONS, build, (
    ("quotation", "number"), ("quotation_line", "number, sequence"), ("quotation_journal", "journal_number"),
    ("pending_command", "command_id")))
LINE = {"product_number": "PC-1", "quantity": "3", "unit_price": "500.00", "line_discount_amount": "3.33",
        "total_charges_amount": "-0.01", "site": "1", "warehouse": "11"}


def command(type_: str, number: str, **data: Any) -> dict[str, Any]:
    message_id = str(uuid4())
    return {"message_id": message_id, "type": "quote.sales-command", "version": 1, "producer": "dual-write-adapter",
            "source_system": "sales", "key": number, "correlation_id": message_id, "causation_id": message_id,
            "occurred_at": "2026-11-24T10:00:00Z",
            "payload": {"command_id": message_id, "type": type_, "target": number,
                        "user": {"name": "alice", "privileges": []}, "data": data}}


async def test_a_chunk_of_sales_commands_does_what_one_by_one_does(databases) -> None:
    chunk = [
        command("quote.create", "C-1", currency="USD", customer_account="US-001", name="Office PCs"),
        command("quote.add-line", "C-1", sequence_number=1, **LINE),
        command("quote.add-line", "C-1", sequence_number=2, **{**LINE, "quantity": "5"}),
        command("quote.update-line", "C-1", sequence_number=1, quantity="4"),
        command("quote.create", "C-2", currency="USD", customer_account="US-001"),
        command("quote.create", "C-1", currency="EUR", customer_account="US-002"),  # the number is taken
        command("quote.add-line", "C-9", sequence_number=1, **LINE),  # no such quotation
        command("quote.update-line", "C-1", sequence_number=1, quantity="-1"),  # refused: command.invalid
        command("quote.send", "C-1"),  # asks the ownership service
        command("quote.update", "C-2", name="Renamed"),
        # U+0000 in a number: refused before any lookup, and the chunk's read leaves it out
        command("quote.create", "C-3", quotation_number="C-\u00003", currency="USD", customer_account="US-001"),
    ]
    state = await same_either_way(databases, QUOTES, QUOTE_SALES_COMMANDS, None, chunk, [
        command("quote.add-line", "C-2", sequence_number=1, **LINE)])  # the next chunk reads what this one wrote
    assert state["set_based"] == [True, True]
    assert state["outcomes"] == [["handled"] * len(chunk), ["handled"]]
    lines = {(r["number"], r["sequence"]): str(r["quantity"]) for r in state["tables"]["quotation_line"]}
    assert lines == {("C-1", 1): "4", ("C-1", 2): "5", ("C-2", 1): "3"}
    results = [(value["payload"]["type"], value["payload"]["outcome"], value["payload"].get("code"))
               for topic, _, value in state["writes"] if topic == "quote.sales-results"]
    assert ("quote.create", "rejected", "number.collision") in results
    assert ("quote.add-line", "rejected", "quote.not-found") in results
    assert ("quote.update-line", "rejected", "command.invalid") in results
    assert ("quote.create", "rejected", "command.invalid") in results
    assert [r["command_id"] for r in state["tables"]["pending_command"]] == [chunk[8]["payload"]["command_id"]]
    assert [topic for topic, _, _ in state["writes"]].count("ownership.requests") == 1
