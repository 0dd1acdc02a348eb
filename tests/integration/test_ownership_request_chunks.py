"""The ownership service's requests handled per chunk (`DecisionLog`, docs/quote-lifecycle.md) on the
real PostgreSQL: the same decisions published and the same decision log as the same requests
one by one (the route without its chunk hooks), a request delivered twice under two envelopes
included (its decision logged once, `ON CONFLICT (request_id) DO NOTHING`)."""

from typing import Any
from uuid import uuid4

from ownership_service.app import MIGRATIONS, build
from ownership_service.service import SERVICE
from q2c_contracts.topics import OWNERSHIP_REQUESTS

from .chunk_equivalence import ServiceUnderTest, same_either_way

OWNERSHIP = ServiceUnderTest(SERVICE, MIGRATIONS, build, (("decision_log", "request_id"),))


def request(request_id: str, action: str, *, status: str = "created", origin: str = "Dynamics365Sales",
            ownership: str = "BasedOnOrigin", issuer: str = "sales",
            data: dict[str, Any] | None = None) -> dict[str, Any]:
    message_id = str(uuid4())
    number = f"Q-{request_id}"
    quotation = {"SALESQUOTATIONNUMBER": number, "SALESQUOTATIONSTATUS": status,
                 "SALESQUOTATIONHEADERCREATIONMETHOD": origin, "SALESQUOTATIONOWNERSHIP": ownership,
                 "CURRENCYCODE": "USD", "REQUESTINGCUSTOMERACCOUNTNUMBER": "US-001"}
    return {"message_id": message_id, "type": "ownership.decide", "version": 1, "producer": "quote",
            "source_system": issuer, "key": number, "correlation_id": message_id, "causation_id": message_id,
            "occurred_at": "2026-11-24T10:00:00Z",
            "payload": {"request_id": request_id, "command_id": f"c-{request_id}", "action": action,
                        "issuer": {"system": issuer, "user": "alice", "privileges": []},
                        "quotation": quotation, "version": 1, "data": data or {}}}


async def test_a_chunk_of_requests_does_what_one_by_one_does(databases) -> None:
    twice = request("r-2", "confirm", status="sent")
    chunk = [
        request("r-1", "send"),
        twice,
        request("r-3", "send", origin="SCM", ownership="SCM"),  # SCM owns it: refused for Sales
        {**twice, "message_id": str(uuid4())},  # the same request again, under a new envelope
        request("r-4", "change-ownership", issuer="scm", origin="SCM", ownership="SCM",
                data={"ownership": "Dynamics365Sales"}),
    ]
    state = await same_either_way(databases, OWNERSHIP, OWNERSHIP_REQUESTS, None, chunk,
                                  [request("r-5", "lose", status="sent")])
    assert state["set_based"] == [True, True]
    assert state["outcomes"] == [["handled"] * len(chunk), ["handled"]]
    # (request ids are left out of the comparison and of what it returns: the rows, by request id)
    assert [(r["command_id"], r["outcome"]) for r in state["tables"]["decision_log"]] == [
        ("c-r-1", "approved"), ("c-r-2", "approved"), ("c-r-3", "rejected"), ("c-r-4", "rejected"),
        ("c-r-5", "approved")]
    decisions = [(value["payload"]["command_id"], value["type"]) for topic, _, value in state["writes"]
                 if topic == "ownership.decisions"]
    assert decisions == [("c-r-1", "ownership.approved"), ("c-r-2", "ownership.approved"),
                         ("c-r-3", "ownership.rejected"), ("c-r-2", "ownership.approved"),
                         ("c-r-4", "ownership.rejected"), ("c-r-5", "ownership.approved")]
