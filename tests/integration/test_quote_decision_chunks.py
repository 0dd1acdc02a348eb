"""The quote service's ownership decisions handled per chunk (`ChunkQuotations.start_decisions`,
docs/quote-lifecycle.md) on the real PostgreSQL: the same quotations, journals, waiting commands
and messages (events, Sales results, ownership requests asked again) as the same decisions one
by one (the route without its chunk hooks)."""

from dataclasses import replace
from typing import Any
from uuid import uuid4

import asyncpg

from q2c_contracts.topics import OWNERSHIP_DECISIONS
from quote_service import domain
from quote_service import repository as repo

from .test_quote_command_chunks import QUOTES, same_either_way

# (number, version) of the quotations there before the decisions
QUOTATIONS = {"Q-1": 1, "Q-2": 1, "Q-3": 1, "Q-4": 2, "Q-5": 1}
# command id -> (quotation, command type, the version it was asked on, its data)
WAITING = {
    "send-1": ("Q-1", "quote.send", 1, {}),
    "owner-1": ("Q-1", "quote.change-ownership", 2, {"ownership": "Dynamics365Sales"}),  # asked after the send
    "win-2": ("Q-2", "quote.confirm", 1, {}),
    "lose-3": ("Q-3", "quote.lose", 1, {}),
    "cancel-4": ("Q-4", "quote.cancel", 1, {}),  # the quotation changed since: asked again
    "delete-5": ("Q-5", "quote.delete", 1, {}),
    "send-9": ("Q-9", "quote.send", 1, {}),  # its quotation is gone
    "owner-2": ("Q-2", "quote.change-ownership", 2, {"ownership": "SCM"}),  # decided in the next chunk
}


async def prepare(conn: asyncpg.Connection) -> None:
    for number, version in QUOTATIONS.items():
        quote = domain.new_quotation(number, "sales", {"currency": "USD", "customer_account": "US-001"},
                                     domain.Features())
        await repo.save(conn, replace(quote, version=version))
    await repo.record_order_link(conn, "Q-2", "SO-2")  # the order came before the win
    for command_id, (number, type_, version, data) in WAITING.items():
        await repo.add_pending(conn, command_id=command_id, number=number, type=type_,
                               action=domain.LIFECYCLE_TYPES[type_], issuer="sales", user="alice", privileges=[],
                               data=data, request_id=f"r-{command_id}", version=version)


def decision(command_id: str, outcome: str = "approved", *, request: str | None = None,
             version: int | None = None) -> dict[str, Any]:
    number, type_, asked, _ = WAITING.get(command_id, ("Q-1", "quote.send", 1, {}))
    message_id = str(uuid4())
    payload: dict[str, Any] = {
        "request_id": request or f"r-{command_id}", "command_id": command_id, "quotation_number": number,
        "version": asked if version is None else version, "action": domain.LIFECYCLE_TYPES[type_],
        "outcome": outcome}
    if outcome == "rejected":
        payload |= {"code": "ownership.not-owner", "text": "Sales does not own this quotation"}
    return {"message_id": message_id, "type": f"ownership.{outcome}", "version": 1, "producer": "ownership",
            "source_system": "sales", "key": number, "correlation_id": message_id, "causation_id": message_id,
            "occurred_at": "2026-11-24T10:00:00Z", "payload": payload}


async def test_a_chunk_of_decisions_does_what_one_by_one_does(databases) -> None:
    chunk = [
        decision("send-1"),  # applied: a quotation journal, Q-1 now at version 2
        decision("owner-1"),  # applied to the version the send above left (read from the chunk)
        decision("send-1"),  # the same command again: decided already in this chunk, passed over
        decision("win-2"),  # a confirmation journal, linked to the order that came first
        decision("lose-3", "rejected"),
        decision("cancel-4"),  # Q-4 is at version 2: asked again
        decision("delete-5"),
        decision("send-9"),  # the quotation is gone: refused
        decision("unknown"),  # no such waiting command: passed over
        decision("owner-2", request="r-other"),  # another request's answer: passed over
    ]
    state = await same_either_way(databases, QUOTES, OWNERSHIP_DECISIONS, prepare, chunk,
                                  [decision("owner-2")])  # the next chunk reads what this one wrote
    assert state["set_based"] == [True, True]
    assert state["outcomes"] == [["handled"] * len(chunk), ["handled"]]
    quotations = {r["number"]: (r["status"], r["ownership"], r["version"], r["generated_sales_order"])
                  for r in state["tables"]["quotation"]}
    assert set(quotations) == {"Q-1", "Q-2", "Q-3", "Q-4"}
    assert quotations["Q-1"][0] == "sent" and quotations["Q-1"][1:3] == ("Dynamics365Sales", 3)
    assert quotations["Q-2"] == ("confirmed", "SCM", 3, "SO-2")
    assert quotations["Q-3"][2] == 1 and quotations["Q-4"][2] == 2
    assert sorted(r["type"] for r in state["tables"]["quotation_journal"]) == ["confirmation", "quotation"]
    assert {r["command_id"]: r["state"] for r in state["tables"]["pending_command"]} == {
        "send-1": "applied", "owner-1": "applied", "win-2": "applied", "lose-3": "rejected",
        "cancel-4": "awaiting-decision", "delete-5": "applied", "send-9": "rejected", "owner-2": "applied"}
    results = [(value["payload"]["command_id"], value["payload"]["outcome"], value["payload"].get("code"))
               for topic, _, value in state["writes"] if topic == "quote.sales-results"]
    assert ("lose-3", "rejected", "ownership.not-owner") in results
    assert ("send-9", "rejected", "quote.not-found") in results
    assert [value["payload"]["command_id"] for topic, _, value in state["writes"]
            if topic == "ownership.requests"] == ["cancel-4"]
