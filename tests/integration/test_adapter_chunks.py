"""The adapter's SCM events and Sales changes handled set-based per chunk (docs/performance.md,
"Sixth session"; docs/messaging.md "Chunk hooks") on the real PostgreSQL: a chunk gives the
same messages (writes to Sales, commands to SCM, notifications), in the same order, and leaves
the same tables as the same records handled one by one the way they were before the chunk
hooks (the route without them), whatever the chunk holds. Events: several versions of one
document, repeats, late versions, a line SCM removed, several documents, events Sales caused,
and what sends a chunk back to the one-by-one path (a deleted document, a held line, a paused
map). Changes: creates, updates, lifecycle steps, deletes, a refusal, a row held for its
quote, held rows released, an update of a row never created (error log), a paused map."""

from dataclasses import replace
from typing import Any
from uuid import uuid4

import asyncpg
import pytest

from dual_write_adapter import repository as repo
from dual_write_adapter.app import MIGRATIONS, SERVICE, build
from dual_write_adapter.engine import RUNNING
from dual_write_adapter.tablemap import load_maps
from q2c_contracts.quote import QuoteEvent
from q2c_contracts.timestamps import utc_now
from q2c_contracts.topics import SCM_QUOTE_EVENTS
from quote_service import domain as quote_domain

from .chunk_equivalence import Prepare, ServiceUnderTest, same_either_way

FEATURES = quote_domain.Features()
LINE = {"product_number": "PC-1", "quantity": "3", "unit_price": "500.00"}


def quotation(number: str, lines: int, version: int, *, sent: bool = False, drop: int | None = None,
              name: str = "Office PCs") -> quote_domain.Quotation:
    quote = quote_domain.new_quotation(number, "sales", {
        "customer_account": "US-001", "currency": "USD", "name": name,
        "lines": [{**LINE, "quantity": str(n + 1)} for n in range(lines)]}, FEATURES)
    if drop is not None:
        quote = quote_domain.delete_line(quote, {"sequence_number": drop})
    if sent:
        quote = quote_domain.apply_lifecycle(quote, "send", {}, FEATURES).quote
    return replace(quote, version=version)


def event(quote: quote_domain.Quotation, type_: str = "quote.updated", caused_by: str | None = None) -> dict[str, Any]:
    return QuoteEvent(event_id=str(uuid4()), type=type_, occurred_at=utc_now(), caused_by=caused_by,
                      version=quote.version, quotation=quote_domain.snapshot(quote)).model_dump(mode="json")


async def _ready(conn: asyncpg.Connection) -> None:
    await repo.ensure_map_states(conn, list(load_maps()), RUNNING)  # as the adapter's start-up does


ADAPTER = ServiceUnderTest(SERVICE, MIGRATIONS, build, (
    ("sales_row", "sales_table, alt_key"), ("map_applied", "map, number"), ("scm_document", "topic, number"),
    ("held_change", "seq"), ("queued_change", "seq"), ("sales_change", "message_id"),
    ("forwarded_command", "command_id"), ("error_log", "id")), _ready)


async def _same_either_way(databases: Any, prepare: Prepare | None, *chunks: list[dict[str, Any]],
                           topic: str = SCM_QUOTE_EVENTS) -> dict[str, Any]:
    return await same_either_way(databases, ADAPTER, topic, prepare, *chunks)


async def test_a_chunk_of_versions_repeats_and_late_events_writes_what_one_by_one_writes(databases) -> None:
    v2 = event(quotation("C-1", 2, 2))
    chunk = [
        event(quotation("C-1", 1, 1), "quote.created"),
        event(quotation("C-2", 1, 1), "quote.created"),  # another document in the same chunk
        v2,
        {**v2, "event_id": str(uuid4())},  # the same version again (another event id): nothing more
        event(quotation("C-1", 3, 3)),
        event(quotation("C-1", 1, 1), "quote.created"),  # a late version: nothing more
        event(quotation("C-2", 2, 2)),
        event(quotation("C-1", 3, 4, sent=True), "quote.sent"),  # every line's status changes too
        event(quotation("C-1", 3, 5, sent=True, drop=2)),  # a line SCM removed: deleted in Sales
        event(quotation("C-2", 1, 1), "quote.created"),  # a late version last: the document stays at 2
    ]
    state = await _same_either_way(databases, None, chunk)
    assert state["outcomes"] == [["handled"] * len(chunk)]
    assert state["set_based"] == [True]
    writes = [(topic, key, value["operation"]) for topic, key, value in state["writes"]]
    assert writes.count(("dataverse.quotedetail.writes", "C-1/2", "delete")) == 1
    assert len([w for w in writes if w[1] == "C-1"]) == 2  # created, then sent
    assert {(r["map"], r["number"], r["version"]) for r in state["tables"]["map_applied"]} == {
        ("quotation-header", "C-1", 5), ("quotation-lines", "C-1", 5),
        ("quotation-header", "C-2", 2), ("quotation-lines", "C-2", 2)}
    assert {(r["number"], r["version"]) for r in state["tables"]["scm_document"]} == {("C-1", 5), ("C-2", 2)}


async def test_chunks_split_anywhere_write_what_one_by_one_writes(databases) -> None:
    events = [event(quotation("C-1", n, n)) for n in range(1, 5)]
    state = await _same_either_way(databases, None, events[:1], events[1:3], [events[2], events[3]])  # one redelivered
    assert state["outcomes"] == [["handled"], ["handled", "handled"], ["duplicate", "handled"]]
    assert state["set_based"] == [True, True, True]


async def test_an_event_sales_caused_keeps_sales_values_as_one_by_one_does(databases) -> None:
    async def sales_created(conn: asyncpg.Connection) -> None:
        # the quote as Sales created it (its name Sales' own), and the command forwarded for it
        await repo.save_sales_row_recording_change(conn, "m-1", "quote", "C-1", "C-1", {
            "msdyn_quotenumber": "C-1", "name": "Named in Sales", "transactioncurrencyid": "USD"})
        await repo.record_command(conn, "m-1", "quote.create")

    state = await _same_either_way(databases, sales_created, [
        event(quotation("C-1", 1, 1, name="Office PCs"), "quote.created", caused_by="m-1"),
        event(quotation("C-2", 1, 1, name="Office PCs"), "quote.created", caused_by="m-unknown")])
    names = {r["alt_key"]: r["record"]["name"] for r in state["tables"]["sales_row"] if r["sales_table"] == "quote"}
    # Sales caused C-1's event: Sales keeps its own value of a two-way column it has; C-2's is SCM's
    assert names == {"C-1": "Named in Sales", "C-2": "Office PCs"}
    assert state["set_based"] == [True]


@pytest.mark.parametrize("case", ["deleted document", "held line", "paused map"])
async def test_what_the_one_by_one_path_handles_still_goes_there(databases, case: str) -> None:
    prepare = None
    chunk = [event(quotation("C-1", 1, 1), "quote.created"), event(quotation("C-1", 2, 2))]
    if case == "deleted document":
        chunk.append(event(quotation("C-1", 2, 3), "quote.deleted"))
    elif case == "held line":
        async def prepare(conn: asyncpg.Connection) -> None:
            await repo.hold(conn, "quotation-lines", "C-1", {
                "message_id": "m-held", "table": "quotedetail", "operation": "create", "user": "u",
                "occurred_at": "2026-11-24T00:00:00Z",
                "record": {"msdyn_quotenumber": "C-1", "sequencenumber": 9, "productid": "PC-9", "quantity": "1"}})
    else:
        async def prepare(conn: asyncpg.Connection) -> None:
            await repo.set_map_state(conn, "quotation-lines", "Paused")
    state = await _same_either_way(databases, prepare, chunk)
    assert state["set_based"] == [False]
    if case == "held line":
        assert state["tables"]["held_change"] == []  # released by the quote's event
    if case == "paused map":
        assert len(state["tables"]["queued_change"]) == 2


# --- Sales changes ---------------------------------------------------------------------------------

QUOTES, LINES = "dataverse.quote.changes", "dataverse.quotedetail.changes"


def change(table: str, operation: str, **record: Any) -> dict[str, Any]:
    return {"message_id": str(uuid4()), "table": table, "operation": operation,
            "occurred_at": "2026-11-24T10:00:00Z", "user": "alice", "record": record}


def quote(number: str, operation: str = "create", **columns: Any) -> dict[str, Any]:
    base = {"quoteid": f"id-{number}", "msdyn_quotenumber": number}
    if operation == "create":
        base |= {"name": "Office PCs", "customerid": "US-001", "transactioncurrencyid": "USD", "statecode": 0,
                 "statuscode": 1, "revisionnumber": 0}
    return change("quote", operation, **base, **columns)


def line(number: str, sequence: int, operation: str = "create", **columns: Any) -> dict[str, Any]:
    base = {"quotedetailid": f"id-{number}/{sequence}", "msdyn_quotenumber": number, "sequencenumber": sequence}
    if operation == "create":
        base |= {"productid": "PC-1", "quantity": "3", "priceperunit": "500.00", "manualdiscountamount": "10.00",
                 "msdyn_shippingsite": "1", "msdyn_shippingwarehouse": "11"}
    return change("quotedetail", operation, **base, **columns)


async def test_a_chunk_of_quote_changes_forwards_what_one_by_one_forwards(databases) -> None:
    chunk = [
        quote("C-1"),
        quote("C-2"),
        quote("C-1", "update", name="Renamed"),
        quote("C-1", "update", name="Active", statecode=1, statuscode=2),  # two commands: update, quote.send
        quote("C-2", "update", statecode=3, statuscode=1),  # no such state and status pair: refused, put back
        quote("C-2", "delete"),
    ]
    # A change the maps cannot translate (error log) sends its whole chunk the one-by-one way
    # (the run again in savepoints), so it comes in a chunk of its own.
    failing = [quote("C-1", "update", name="Again"), quote("C-3", "update", name="Never created")]
    state = await _same_either_way(databases, None, chunk, failing, topic=QUOTES)
    assert state["set_based"] == [True, False]
    assert state["outcomes"] == [["handled"] * len(chunk), ["handled", "handled"]]
    commands = [value["payload"]["type"] for topic, _, value in state["writes"] if topic == "quote.sales-commands"]
    assert commands == ["quote.create", "quote.create", "quote.update", "quote.update", "quote.send", "quote.delete",
                        "quote.update"]
    assert [value["code"] for topic, _, value in state["writes"] if topic == "dataverse.notifications"] == [
        "command.invalid"]
    assert len(state["tables"]["error_log"]) == 1
    assert sum(row["command_id"].endswith("/2") for row in state["tables"]["forwarded_command"]) == 1
    assert len(state["tables"]["forwarded_command"]) == 7


async def test_a_chunk_of_line_changes_holds_and_forwards_as_one_by_one_does(databases) -> None:
    async def quote_known(conn: asyncpg.Connection) -> None:
        await repo.save_sales_row_recording_change(conn, "m-q", "quote", "C-1", "C-1", {"msdyn_quotenumber": "C-1"},
                                                   "id-C-1")

    state = await _same_either_way(databases, quote_known, [
        line("C-1", 1), line("C-1", 2),
        line("C-9", 1),  # its quote is not known yet: held
        line("C-1", 1, "update", quantity="5"),
        line("C-1", 2, "update", quantity="-1"),  # refused: put back
        line("C-1", 2, "delete"),
    ], topic=LINES)
    assert state["set_based"] == [True]
    assert [h["parent_key"] for h in state["tables"]["held_change"]] == ["C-9"]
    commands = [value["payload"]["type"] for topic, _, value in state["writes"] if topic == "quote.sales-commands"]
    assert commands == ["quote.add-line", "quote.add-line", "quote.update-line", "quote.delete-line"]


async def test_a_quote_created_in_a_chunk_releases_its_held_lines_as_one_by_one_does(databases) -> None:
    held = line("C-1", 1)  # the same change in both databases

    async def line_held(conn: asyncpg.Connection) -> None:
        await repo.hold(conn, "quotation-lines", "C-1", held)

    state = await _same_either_way(databases, line_held, [quote("C-1"), quote("C-2"), quote("C-1", "update", name="B")],
                                   topic=QUOTES)
    assert state["set_based"] == [True]
    assert state["tables"]["held_change"] == []
    commands = [value["payload"]["type"] for topic, _, value in state["writes"] if topic == "quote.sales-commands"]
    assert commands == ["quote.create", "quote.add-line", "quote.create", "quote.update"]


async def test_changes_of_a_paused_map_are_queued_as_one_by_one_does(databases) -> None:
    async def paused(conn: asyncpg.Connection) -> None:
        await repo.set_map_state(conn, "quotation-header", "Paused")

    state = await _same_either_way(databases, paused, [quote("C-1"), quote("C-1", "update", name="B")], topic=QUOTES)
    assert state["set_based"] == [False]
    assert len(state["tables"]["queued_change"]) == 2


async def test_a_refusal_after_a_change_of_the_same_row_in_the_chunk_restores_as_one_by_one_does(databases) -> None:
    scm = quotation("C-1", 1, 1)

    async def line_known(conn: asyncpg.Connection) -> None:
        # SCM has the quote and its line 1; Sales has both rows
        document = quote_domain.snapshot(scm).model_dump(mode="json")
        await repo.save_scm_document(conn, SCM_QUOTE_EVENTS, "C-1", 1, document, False)
        await repo.save_sales_row(conn, "quote", "C-1", {"msdyn_quotenumber": "C-1"}, "id-C-1")
        await repo.save_sales_row(conn, "quotedetail", "C-1/1", line("C-1", 1)["record"], "id-C-1/1")

    state = await _same_either_way(databases, line_known, [
        line("C-1", 1, "update", quantity="5"),  # saved when the chunk ends ...
        line("C-1", 1, "update", quantity="-1"),  # ... unless a refusal of the same row writes it first
    ], topic=LINES)
    assert state["set_based"] == [True]
    assert [value["code"] for topic, _, value in state["writes"] if topic == "dataverse.notifications"] == [
        "command.invalid"]
    [row] = [r for r in state["tables"]["sales_row"] if r["alt_key"] == "C-1/1"]
    assert row["record"]["quantity"] == "1"  # SCM's, put back
