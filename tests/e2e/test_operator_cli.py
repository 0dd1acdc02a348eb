"""The `q2c` console script against the running stack (issue 10, docs/operations.md): `q2c publish
--wait` gets the answer to a Sales change and to an SCM command, an invalid input sends
nothing, and `q2c trace` shows a quotation's way through both systems, read from the topics."""

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest

from q2c_localstack.config import StackConfig

from .quote_clients import QUOTE_TOPICS, QuoteClients
from .sales_clients import DATAVERSE_TOPICS, ORDER_TOPICS, SalesSystem

Q2C = str(Path(sys.executable).parent / "q2c")  # the console script of the locked environment


async def q2c(stack: StackConfig, *argv: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(subprocess.run, [Q2C, *argv, "--bootstrap", stack.kafka_bootstrap],
                                   input=stdin, capture_output=True, text=True, timeout=180)


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture
async def both(probe_factory: Any) -> tuple[SalesSystem, QuoteClients]:
    probe = await probe_factory(*DATAVERSE_TOPICS, *ORDER_TOPICS, *QUOTE_TOPICS, "dataverse.quote.changes")
    return SalesSystem(probe), QuoteClients(probe)


def quote_create(number: str, quote_id: str | None = None) -> dict[str, Any]:
    record = {"msdyn_quotenumber": number, "name": "Office PCs", "customerid": "US-001",
              "transactioncurrencyid": "USD", "statecode": 0, "statuscode": 1, "revisionnumber": 0}
    return {"operation": "create", "user": "alice", "record": {**record, **({"quoteid": quote_id} if quote_id else {})}}


async def test_publish_wait_prints_the_write_that_answers_a_sales_quote_create(running_stack: StackConfig) -> None:
    number = f"C-{uuid4().hex[:8]}"
    done = await q2c(running_stack, "publish", "dataverse.quote.changes", "--wait", "--timeout", "60",
                     stdin=json.dumps(quote_create(number)) + "\n")
    assert done.returncode == 0, done.stderr
    [answer, *_] = json_lines(done.stdout)
    assert (answer["line"], answer["topic"], answer["key"]) == (1, "dataverse.quote.writes", number)
    write = answer["value"]
    assert answer["correlation_id"] == answer["id"]  # the flow of the message_id q2c publish filled in
    assert write["record"]["msdyn_quotationcreationmethod"] == 776160001  # Dynamics365Sales (contract §6.3)
    assert write["record"]["msdyn_salesquotationstatus"] == 192350000  # created
    assert "sent 1 message(s) to dataverse.quote.changes: line 1 key " in done.stderr

    # an SCM command on it: the result answers (SCM may not send a Sales-owned quote)
    done = await q2c(running_stack, "publish", "scm.quote.commands", "--wait", "--timeout", "60",
                     stdin=json.dumps({"type": "quote.send", "target": number}) + "\n")
    assert done.returncode == 0, done.stderr
    [result] = json_lines(done.stdout)
    assert (result["topic"], result["key"]) == ("scm.command.results", result["id"])
    assert (result["value"]["outcome"], result["value"]["code"]) == ("rejected", "quote.owned-by-sales")


async def test_publish_sends_nothing_when_one_line_is_invalid(running_stack: StackConfig, both: Any) -> None:
    sales, _ = both
    number, quote_id = f"C-{uuid4().hex[:8]}", str(uuid4())
    valid = quote_create(number, quote_id)
    invalid = {"operation": "update", "record": {"quoteid": quote_id, "msdyn_quotenumber": number, "statecode": "1"}}
    refused = await q2c(running_stack, "publish", "dataverse.quote.changes",
                        stdin=json.dumps(valid) + "\n" + json.dumps(invalid) + "\n")
    assert refused.returncode == 1
    assert 'line 2: record.statecode: expected one of 0, 1, 2, 3 or null, got "1"' in refused.stderr
    # The same create again, alone: same key, so same partition; had the first run sent its
    # valid line, it would be read before this one.
    again = {**valid, "message_id": str(uuid4())}
    sent = await q2c(running_stack, "publish", "dataverse.quote.changes", stdin=json.dumps(again) + "\n")
    assert sent.returncode == 0, sent.stderr
    [only] = await sales.probe.wait_for("dataverse.quote.changes", lambda r: r.key == quote_id)
    assert only.value["message_id"] == again["message_id"]


async def test_trace_shows_a_quotation_won_in_sales_across_both_systems(running_stack: StackConfig,
                                                                         both: Any) -> None:
    sales, scm = both
    number = await sales.create_quote()
    await sales.add_line_and_wait(number)
    refused = await scm.scm("quote.send", number)  # an SCM user tries; the result says no
    assert refused["code"] == "quote.owned-by-sales"
    await sales.activate(number)
    await sales.row_state(number, "sent")
    await sales.win(number)
    await sales.row_state(number, "confirmed")
    order = await sales.create_order(msdyn_quotationnumber=number)
    await sales.write("salesorder", order)

    done = await q2c(running_stack, "trace", number)  # piped: JSON lines
    assert done.returncode == 0, done.stderr
    steps = json_lines(done.stdout)
    topics = [s["topic"] for s in steps]
    assert {"dataverse.quote.changes", "dataverse.quotedetail.changes", "scm.quote.commands", "scm.command.results",
            "quote.sales-commands", "ownership.requests", "ownership.decisions", "scm.quote.events",
            "dataverse.quote.writes", "dataverse.quotedetail.writes", "dataverse.salesorder.changes",
            "scm.order.events", "dataverse.salesorder.writes"} <= set(topics)
    assert [s["time"] for s in steps] == sorted(s["time"] for s in steps)
    assert topics[0] == "dataverse.quote.changes" and steps[0]["sales"] == "Draft/In Progress 0/1"
    assert all(s["correlation_id"] for s in steps)
    assert {s["document"] for s in steps} == {number, order}

    def first(predicate: Any) -> int:
        return next(n for n, s in enumerate(steps) if predicate(s))

    created = first(lambda s: s["topic"] == "scm.quote.events" and s["scm"] == "created")
    command = first(lambda s: s["topic"] == "scm.quote.commands")
    result = first(lambda s: s["topic"] == "scm.command.results")
    activate = first(lambda s: s["topic"] == "dataverse.quote.changes" and "statecode=1" in s["what"])
    decision = first(lambda s: s["topic"] == "ownership.decisions" and "approved" in s["what"])
    sent = first(lambda s: s["topic"] == "scm.quote.events" and s["scm"] == "sent")
    sent_in_sales = first(lambda s: s["topic"] == "dataverse.quote.writes" and s["sales"].endswith(" 1/2"))
    win = first(lambda s: s["topic"] == "dataverse.quote.changes" and "statecode=2" in s["what"])
    confirmed = first(lambda s: s["topic"] == "scm.quote.events" and s["scm"] == "confirmed")
    order_change = first(lambda s: s["topic"] == "dataverse.salesorder.changes")
    order_write = first(lambda s: s["topic"] == "dataverse.salesorder.writes")
    assert 0 < created < command < result < activate < decision < sent < win < confirmed
    assert sent < sent_in_sales < win < order_change < order_write
    assert "rejected quote.owned-by-sales" in steps[result]["what"]
    # the side-by-side status after the steps
    assert (steps[sent]["sales"], steps[sent]["scm"]) == ("Active/In Progress 1/2", "sent")
    assert (steps[confirmed]["sales"], steps[confirmed]["scm"]) == ("Won/Won 2/4", "confirmed")
    assert steps[order_write]["document"] == order and steps[order_write]["sales"] == "Active/New 0/1"
    assert steps[order_write]["processing"] and steps[order_write]["scm"] == "backorder"
    # the Sales change and what it caused share its correlation id
    win_id = steps[win]["correlation_id"]
    assert steps[confirmed]["correlation_id"] == win_id

    # the same document by its Dataverse primary id, and its order alone
    by_id = await q2c(running_stack, "trace", sales.ids[number])
    assert json_lines(by_id.stdout) == steps
    only = json_lines((await q2c(running_stack, "trace", order, "--only")).stdout)
    assert {s["document"] for s in only} == {order} and only


async def test_trace_of_an_unknown_number_says_so(running_stack: StackConfig) -> None:
    done = await q2c(running_stack, "trace", "C-does-not-exist")
    assert done.returncode == 1
    assert "no record on the topics names C-does-not-exist" in done.stderr
