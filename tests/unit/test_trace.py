"""`q2c trace`'s timeline (q2c_localstack.trace.timeline) over hand-made records: which records
concern a document, in which order, and the status of both sides after each step."""

import json
from typing import Any

import pytest

from q2c_localstack.probe import Record
from q2c_localstack.trace import NotFound, describe, timeline

QUOTE_ID, ORDER_ID = "9d6e-quote", "0c9b-order"
clock = iter(range(1_000, 100_000, 10))
offsets: dict[str, int] = {}


def rec(topic: str, key: str | None, value: dict[str, Any], **headers: str) -> Record:
    offsets[topic] = offsets.get(topic, -1) + 1
    return Record(topic, 0, offsets[topic], key, json.dumps(value).encode(), headers, next(clock))


def change(table: str, op: str, message_id: str, row: dict[str, Any]) -> Record:
    return rec(f"dataverse.{table}.changes", row.get(f"{table}id"),
               {"message_id": message_id, "table": table, "operation": op, "record": row})


def envelope(topic: str, key: str, type_: str, correlation: str, payload: dict[str, Any]) -> Record:
    return rec(topic, key, {"message_id": f"{type_}-{next(clock)}", "type": type_, "version": 1, "key": key,
                            "correlation_id": correlation, "payload": payload}, correlation_id=correlation)


def write(table: str, key: str, caused_by: str | None, row: dict[str, Any], **alternate: Any) -> Record:
    return rec(f"dataverse.{table}.writes", key, {"message_id": f"w-{next(clock)}", "table": table,
                                                   "operation": "upsert", "alternate_key": alternate, "record": row,
                                                   "caused_by": caused_by}, correlation_id=caused_by or "initial-sync")


def quote_event(number: str, type_: str, status: str, version: int, caused_by: str, order: str | None = None) -> Record:
    return rec("scm.quote.events", number, {
        "event_id": f"e-{next(clock)}", "type": type_, "version": version, "caused_by": caused_by,
        "quotation": {"SALESQUOTATIONNUMBER": number, "SALESQUOTATIONSTATUS": status,
                      "GENERATEDSALESORDERNUMBER": order, "lines": []}}, correlation_id=caused_by)


def story() -> list[Record]:
    """A Sales quote C-1 created, activated, won; its order C-SO-1 confirmed and invoiced; and
    another quote C-2 in between that must not show."""
    return [
        change("quote", "create", "m-create", {"quoteid": QUOTE_ID, "msdyn_quotenumber": "C-1", "statecode": 0,
                                               "statuscode": 1}),
        envelope("quote.sales-commands", "C-1", "quote.sales-command", "m-create", {"type": "quote.create"}),
        change("quote", "create", "m-other", {"quoteid": "other", "msdyn_quotenumber": "C-2", "statecode": 0,
                                              "statuscode": 1}),
        quote_event("C-1", "quote.created", "created", 1, "m-create"),
        quote_event("C-2", "quote.created", "created", 1, "m-other"),
        write("quote", "C-1", "m-create", {"msdyn_quotenumber": "C-1", "statecode": 0, "statuscode": 1},
              msdyn_quotenumber="C-1"),
        # an update that names its row by the primary id only
        change("quote", "update", "m-activate", {"quoteid": QUOTE_ID, "statecode": 1, "statuscode": 2}),
        envelope("ownership.requests", "C-1", "ownership.requested", "m-activate", {"type": "quote.send"}),
        envelope("ownership.decisions", "C-1", "ownership.decided", "m-activate", {"decision": "approved"}),
        quote_event("C-1", "quote.sent", "sent", 2, "m-activate"),
        rec("scm.processor.events", "p-1", {"message_id": "p-1", "type": "create-quotation-journal",
                                            "document": "C-1", "state": "Processed", "depends_on": None,
                                            "error": None}),
        write("quote", "C-1", "m-activate", {"msdyn_quotenumber": "C-1", "statecode": 1, "statuscode": 2},
              msdyn_quotenumber="C-1"),
        change("quote", "update", "m-win", {"quoteid": QUOTE_ID, "msdyn_quotenumber": "C-1", "statecode": 2,
                                            "statuscode": 4}),
        change("salesorder", "create", "m-order", {"salesorderid": ORDER_ID, "msdyn_salesordernumber": "C-SO-1",
                                                   "msdyn_quotationnumber": "C-1"}),
        quote_event("C-1", "quote.confirmed", "confirmed", 3, "m-win"),
        rec("scm.order.events", "C-SO-1", {"event_id": "o-1", "type": "order.created", "version": 1,
                                           "order": {"SALESORDERNUMBER": "C-SO-1", "QUOTATIONNUMBER": "C-1",
                                                     "SALESORDERSTATUS": "backorder",
                                                     "SALESORDERPROCESSINGSTATUS": "active"}},
            correlation_id="m-order"),
        write("salesorder", "C-SO-1", "m-order", {"msdyn_salesordernumber": "C-SO-1", "statecode": 0,
                                                  "statuscode": 1, "msdyn_processingstatus": 192350000},
              msdyn_salesordernumber="C-SO-1"),
        rec("scm.invoice.commands", "C-SO-1", {"command_id": "c-inv", "type": "invoice.post", "target": "C-SO-1",
                                               "data": {"sales_order_number": "C-SO-1"}}),
        rec("scm.command.results", "c-inv", {"command_id": "c-inv", "type": "invoice.post", "target": "F-INV-1",
                                             "outcome": "accepted", "code": None, "text": None},
            correlation_id="c-inv"),
        rec("scm.invoice.events", "F-INV-1", {"event_id": "i-1", "type": "invoice.posted", "version": 1,
                                              "invoice": {"INVOICENUMBER": "F-INV-1", "SALESORDERNUMBER": "C-SO-1"}},
            correlation_id="c-inv"),
        # a refused Sales change of the quote, and C-2's own traffic
        change("quote", "update", "m-late", {"quoteid": QUOTE_ID, "msdyn_quotenumber": "C-1", "name": "late"}),
        rec("dataverse.notifications", "C-1", {"message_id": "n-1", "table": "quote",
                                               "alternate_key": {"msdyn_quotenumber": "C-1"}, "level": "error",
                                               "code": "quote.not-draft", "text": "Only a draft quote can be "
                                               "activated, edited or deleted", "refused_message_id": "m-late"},
            correlation_id="m-late"),
        write("quote", "C-2", "m-other", {"msdyn_quotenumber": "C-2", "statecode": 0, "statuscode": 1},
              msdyn_quotenumber="C-2"),
        rec("scm.feature.events", "PriceMaster", {"event_id": "f", "name": "PriceMaster", "kind": "feature",
                                                  "value": True}),
    ]


def test_a_quotation_and_what_it_became_in_order() -> None:
    steps = timeline(reversed(story()), "C-1")  # arrival order does not matter, send time does
    assert [s.topic for s in steps] == [
        "dataverse.quote.changes", "quote.sales-commands", "scm.quote.events", "dataverse.quote.writes",
        "dataverse.quote.changes", "ownership.requests", "ownership.decisions", "scm.quote.events",
        "scm.processor.events", "dataverse.quote.writes", "dataverse.quote.changes", "dataverse.salesorder.changes",
        "scm.quote.events", "scm.order.events", "dataverse.salesorder.writes", "scm.invoice.commands",
        "scm.command.results", "scm.invoice.events", "dataverse.quote.changes", "dataverse.notifications"]
    assert all(s.document in ("C-1", "C-SO-1", "F-INV-1") for s in steps)
    assert steps[0].correlation_id == "m-create" and steps[1].correlation_id == "m-create"
    # side by side after each step
    assert (steps[0].sales, steps[0].scm) == ("Draft/In Progress 0/1", "")
    assert (steps[2].sales, steps[2].scm) == ("Draft/In Progress 0/1", "created")
    assert (steps[7].document, steps[7].sales, steps[7].scm) == ("C-1", "Active/In Progress 1/2", "sent")
    assert steps[8].processing == "create-quotation-journal: Processed"
    assert (steps[12].document, steps[12].sales, steps[12].scm) == ("C-1", "Won/Won 2/4", "confirmed")
    assert (steps[14].document, steps[14].sales, steps[14].scm, steps[14].processing) == (
        "C-SO-1", "Active/New 0/1", "backorder", "active")
    assert (steps[17].document, steps[17].scm) == ("F-INV-1", "posted")
    assert steps[19].what == "notification error quote.not-draft: Only a draft quote can be activated, edited or " \
                             "deleted"


def test_an_order_leads_back_to_its_quotation_and_an_invoice_to_both() -> None:
    assert {s.document for s in timeline(story(), "C-SO-1")} == {"C-1", "C-SO-1", "F-INV-1"}
    assert {s.document for s in timeline(story(), "F-INV-1")} == {"C-1", "C-SO-1", "F-INV-1"}


def test_only_keeps_one_document() -> None:
    steps = timeline(story(), "C-1", only=True)
    assert {s.document for s in steps} == {"C-1"}
    assert "dataverse.salesorder.changes" not in {s.topic for s in steps}
    # the order's flow touches the quotation (it is linked); --only leaves that out too
    linked = rec("scm.quote.events", "C-1", {"type": "quote.linked-to-sales-order", "version": 4,
                                             "quotation": {"GENERATEDSALESORDERNUMBER": "C-SO-1"}},
                 correlation_id="m-order")
    order = timeline([*story(), linked], "C-SO-1", only=True)
    assert {s.document for s in order} == {"C-SO-1"} and "scm.quote.events" not in {s.topic for s in order}
    assert linked.offset in {s.offset for s in timeline([*story(), linked], "C-SO-1") if s.topic == linked.topic}


def test_a_dataverse_primary_id_is_resolved_to_its_number() -> None:
    records = story()
    assert timeline(records, QUOTE_ID) == timeline(records, "C-1")


def test_other_documents_and_features_stay_out() -> None:
    steps = timeline(story(), "C-2")
    assert [s.topic for s in steps] == ["dataverse.quote.changes", "scm.quote.events", "dataverse.quote.writes"]


def test_an_unknown_number_says_so() -> None:
    with pytest.raises(NotFound, match="no record on the topics names C-404"):
        timeline(story(), "C-404")


def test_records_that_are_not_json_objects_are_skipped() -> None:
    noise = [Record("dataverse.quote.changes", 0, 99, QUOTE_ID, b"not json", {}, 5),
             Record("scm.quote.events", 0, 99, "C-1", b"[1]", {}, 6)]
    assert len(timeline([*story(), *noise], "C-1")) == len(timeline(story(), "C-1"))


@pytest.mark.parametrize(("topic", "value", "text"), [
    ("dataverse.quote.changes", {"operation": "update", "record": {"statecode": 1, "statuscode": 2}},
     "Sales update quote (statecode=1, statuscode=2)"),
    ("dataverse.quotedetail.writes", {"operation": "upsert", "alternate_key": {"msdyn_quotenumber": "C-1",
                                                                               "sequencenumber": 1}},
     "write upsert quotedetail C-1/1"),
    ("scm.command.results", {"type": "quote.send", "outcome": "rejected", "code": "quote.read-only",
                             "text": "This quotation is read-only in its current status", "target": "F-1"},
     "result quote.send rejected quote.read-only: This quotation is read-only in its current status -> F-1"),
    ("scm.quote.events", {"type": "quote.sent", "version": 2}, "SCM event quote.sent v2"),
    ("ownership.decisions", {"type": "ownership.decided", "payload": {"decision": "approved"}},
     "ownership.decided approved"),
    ("ownership.requests", {"type": "ownership.decide", "payload": {"action": "send", "issuer": {"system": "scm"}}},
     "ownership.decide send scm"),
])
def test_what_each_step_says(topic: str, value: dict[str, Any], text: str) -> None:
    assert describe(topic, value) == text
