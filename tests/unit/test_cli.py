"""The `q2c` command (docs/operations.md) through Typer's CliRunner: help everywhere, and
`q2c publish`'s checks, fills and keys, without a broker (sending is replaced by a recorder)."""

import json
from collections.abc import Iterator
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from q2c_localstack import cli, publish, stack
from q2c_localstack.config import StackError
from q2c_localstack.publish import Outgoing, PublishError, command_key, input_topics, prepare
from q2c_messaging.catalog import load_catalog

runner = CliRunner()
CATALOG = load_catalog()
NOW = "2026-11-23T12:00:00Z"


def _paths(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    if hasattr(command, "commands"):  # a group
        for name, sub in command.commands.items():
            yield from _paths(sub, (*path, name))


COMMANDS = list(_paths(typer.main.get_command(cli.app)))


def test_the_command_tree_has_every_command_of_the_issue() -> None:
    top = {p[0] for p in COMMANDS if len(p) == 1}
    assert {"up", "down", "status", "demo", "bench", "provision", "asyncapi", "contract", "admin", "processor",
            "outbox", "publish", "trace"} <= top
    assert {p[1] for p in COMMANDS if p[:1] == ("admin",) and len(p) == 2} == {
        "maps", "pause", "resume", "stop", "run", "errors", "retry", "initial-sync"}
    assert {p[1] for p in COMMANDS if p[:1] == ("processor",) and len(p) == 2} == {"messages", "cancel", "requeue"}


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "q2c")
def test_every_command_has_help(path: tuple[str, ...]) -> None:
    result = runner.invoke(cli.app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output and f"q2c {' '.join(path)}".strip() in " ".join(result.output.split())


def test_python_dash_m_and_the_script_share_the_app(monkeypatch: pytest.MonkeyPatch) -> None:
    from q2c_localstack import __main__ as module

    assert module.main is cli.main
    calls: list[str] = []
    monkeypatch.setattr(stack, "down", lambda config: calls.append("down"))
    assert cli.main(["down"]) == 0 and calls == ["down"]


def test_exit_codes_usage_and_stack_errors(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["no-such-command"]) == 2

    def broken(config: object) -> None:
        raise StackError("Kafka did not start; see kafka.log")

    monkeypatch.setattr(stack, "up", broken)
    assert cli.main(["up"]) == 1
    assert "q2c: Kafka did not start; see kafka.log" in capsys.readouterr().err


# --- publish ----------------------------------------------------------------------------------

def test_the_input_topics_are_the_contracts_changes_and_commands() -> None:
    topics = input_topics(CATALOG)
    assert topics == sorted([f"dataverse.{t}.changes" for t in ("quote", "quotedetail", "salesorder",
                                                                  "salesorderdetail", "invoice", "invoicedetail")]
                            + [f"scm.{a}.commands" for a in ("quote", "order", "invoice", "feature")])


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[list[Outgoing]]:
    """What `q2c publish` hands to the producer (nothing reaches a broker)."""
    calls: list[list[Outgoing]] = []

    def record(bootstrap: str, outgoing: list[Outgoing], topics: list[str], **kwargs: Any) -> list[Outgoing]:
        calls.append(outgoing)
        return []

    monkeypatch.setattr(publish, "run_send", record)
    return calls


def lines(*messages: Any) -> str:
    return "".join((m if isinstance(m, str) else json.dumps(m)) + "\n" for m in messages)


QUOTE = {"operation": "create", "record": {"msdyn_quotenumber": "C-7001", "name": "Desks", "customerid": "US-001",
                                           "transactioncurrencyid": "USD", "statecode": 0, "statuscode": 1}}


@pytest.mark.parametrize(("topic", "bad", "expected"), [
    ("dataverse.quote.changes", "{not json", "line 2: not JSON"),
    ("dataverse.quote.changes", "[1, 2]", "line 2: not a JSON object"),
    ("dataverse.quote.changes", {"operation": "merge", "record": {"quoteid": "q", "msdyn_quotenumber": "C-1"}},
     "line 2: operation: Input should be 'create', 'update' or 'delete'"),
    ("dataverse.quote.changes", {"operation": "create"}, "line 2: record: Field required"),
    ("dataverse.quote.changes", {"operation": "create", "record": {"name": "no number"}},
     "line 2: record.msdyn_quotenumber: required"),
    ("dataverse.quote.changes", {"operation": "create", "record": {"msdyn_quotenumber": "C-1", "statecode": "1"}},
     'line 2: record.statecode: expected one of 0, 1, 2, 3 or null, got "1"'),
    ("dataverse.quotedetail.changes", {"operation": "create", "record": {
        "msdyn_quotenumber": "C-1", "sequencenumber": 1, "quantity": 3}},
     "line 2: record.quantity: expected string or null, got 3"),
    ("dataverse.quote.changes", {"operation": "update", "record": {"msdyn_quotenumber": "C-1", "name": "x"}},
     "line 2: record.quoteid: required on an update"),
    ("dataverse.quote.changes", {"table": "salesorder", "operation": "create", "record": {"msdyn_quotenumber": "C"}},
     "line 2: table: 'salesorder' does not travel on dataverse.quote.changes"),
    ("dataverse.quote.changes", {"operation": "create", "occurred_at": "yesterday",
                                 "record": {"msdyn_quotenumber": "C-1"}}, "line 2: occurred_at:"),
    ("scm.quote.commands", {"target": "F-1"}, "line 2: type: Field required"),
    ("scm.quote.commands", {"type": "order.confirm", "target": "F-1"},
     "line 2: type: 'order.confirm' is not a command of scm.quote.commands"),
    ("scm.quote.commands", {"type": "quote.send", "user": {"privileges": []}}, "line 2: user.name: Field required"),
    ("scm.feature.commands", {"type": "feature.set", "data": []}, "line 2: data: Input should be a valid dictionary"),
])
def test_an_invalid_line_is_named_with_its_field_and_nothing_is_sent(
        sent: list[list[Outgoing]], topic: str, bad: Any, expected: str) -> None:
    good = QUOTE if topic.startswith("dataverse.quote.") else {"type": "feature.set", "data": {
        "feature": "PriceMaster", "enabled": True}} if "feature" in topic else {"type": "quote.send", "target": "F-1"}
    if topic == "dataverse.quotedetail.changes":
        good = {"operation": "create", "record": {"msdyn_quotenumber": "C-1", "sequencenumber": 1}}
    result = runner.invoke(cli.app, ["publish", topic], input=lines(good, bad, good))
    assert result.exit_code == 1
    assert expected in result.stderr
    assert "line 1" not in result.stderr and "line 3" not in result.stderr
    assert result.stderr.rstrip().endswith("q2c publish: nothing sent")
    assert sent == []


def test_every_bad_line_is_reported_not_only_the_first(sent: list[list[Outgoing]]) -> None:
    result = runner.invoke(cli.app, ["publish", "scm.order.commands"],
                           input=lines({"type": "order.confirm", "target": "C-SO-1"}, {}, "", "7"))
    assert result.exit_code == 1
    assert "line 2: type: Field required" in result.stderr and "line 4: not a JSON object" in result.stderr
    assert sent == []


def test_a_topic_that_is_not_an_input_is_refused(sent: list[list[Outgoing]]) -> None:
    for topic in ("scm.quote.events", "dataverse.quote.writes", "quote.sales-commands", "scm.quote.commands.dlq",
                  "no.such.topic"):
        result = runner.invoke(cli.app, ["publish", topic], input=lines({"type": "quote.send"}))
        assert result.exit_code == 1
        assert f"{topic} is not an input topic of the catalog" in result.stderr
        assert "dataverse.quote.changes" in result.stderr  # it says which ones are
    assert sent == []


def test_empty_input_sends_nothing(sent: list[list[Outgoing]]) -> None:
    result = runner.invoke(cli.app, ["publish", "scm.quote.commands"], input="\n\n")
    assert result.exit_code == 1 and "no message on stdin" in result.stderr
    assert sent == []


def test_valid_lines_are_filled_keyed_and_sent_in_order(sent: list[list[Outgoing]]) -> None:
    result = runner.invoke(cli.app, ["publish", "dataverse.quote.changes"], input=lines(
        QUOTE, {"operation": "update", "record": {"quoteid": "Q-ID", "msdyn_quotenumber": "C-7001", "statecode": 1,
                                                  "statuscode": 2}}))
    assert result.exit_code == 0, result.stderr
    [[create, update]] = sent
    assert (create.line, update.line) == (1, 2)
    assert create.value["table"] == "quote" and create.value["message_id"] and create.value["occurred_at"]
    assert create.key == create.value["record"]["quoteid"]  # a new row gets a primary id, and is keyed by it
    assert update.key == "Q-ID"
    assert create.value["message_id"] != update.value["message_id"]


def fixed(topic: str, *messages: dict[str, Any]) -> list[Outgoing]:
    ids = iter(f"id-{n}" for n in range(100))
    return prepare(topic, [json.dumps(m) for m in messages], CATALOG, now=lambda: NOW, make_id=lambda: next(ids))


@pytest.mark.parametrize(("topic", "message", "key"), [
    # docs/contract.md §0: a change by the row's primary id, a command by its document's number
    ("dataverse.quote.changes", {"operation": "update", "record": {"quoteid": "9d6e", "msdyn_quotenumber": "C-1"}},
     "9d6e"),
    ("dataverse.quotedetail.changes", {"operation": "delete", "record": {
        "quotedetailid": "5a1f", "msdyn_quotenumber": "C-1", "sequencenumber": 1}}, "5a1f"),
    ("dataverse.salesorder.changes", {"operation": "create", "record": {
        "salesorderid": "0c9b", "msdyn_salesordernumber": "C-SO-1"}}, "0c9b"),
    ("dataverse.invoice.changes", {"operation": "update", "record": {
        "invoiceid": "4c5d", "msdyn_invoicenumber": "F-INV-1"}}, "4c5d"),
    ("dataverse.salesorder.changes", {"operation": "create", "record": {"msdyn_salesordernumber": "C-SO-1"}},
     "id-1"),  # filled: message_id id-0, then the new row's primary id
    ("scm.quote.commands", {"type": "quote.send", "target": "F-000007"}, "F-000007"),
    ("scm.quote.commands", {"type": "quote.create", "data": {"customer_account": "US-1", "currency": "USD",
                                                             "quotation_number": "F-000008"}}, "F-000008"),
    ("scm.quote.commands", {"type": "quote.create", "data": {"customer_account": "US-1", "currency": "USD"}},
     "id-0"),  # no number yet: the command id
    ("scm.quote.commands", {"command_id": "c-1", "type": "processor.run", "target": "processor"}, "processor"),
    ("scm.order.commands", {"type": "order.create", "data": {"sales_order_number": "F-SO-9"}}, "F-SO-9"),
    ("scm.invoice.commands", {"type": "invoice.post", "data": {"sales_order_number": "C-SO-1001", "lines": []}},
     "C-SO-1001"),
    ("scm.invoice.commands", {"command_id": "free-1", "type": "invoice.post-free-text", "data": {
        "customer_account": "US-001", "currency": "USD", "lines": []}}, "free-1"),
    ("scm.feature.commands", {"type": "feature.set", "data": {"feature": "PriceMaster", "enabled": True}},
     "PriceMaster"),
    ("scm.feature.commands", {"type": "parameter.set", "data": {"name": "DefaultOwnership", "value": "SCM"}},
     "DefaultOwnership"),
])
def test_the_record_key_is_the_contracts(topic: str, message: dict[str, Any], key: str) -> None:
    [outgoing] = fixed(topic, message)
    assert outgoing.key == key


def test_ids_and_timestamps_are_filled_only_when_absent() -> None:
    [filled, given] = fixed("scm.quote.commands", {"type": "quote.send", "target": "F-1"},
                            {"command_id": "mine", "issued_at": "2026-01-01T00:00:00Z", "type": "quote.send",
                             "target": "F-1"})
    assert (filled.value["command_id"], filled.value["issued_at"]) == ("id-0", NOW)
    assert (given.value["command_id"], given.value["issued_at"]) == ("mine", "2026-01-01T00:00:00Z")
    [change] = fixed("dataverse.quote.changes", QUOTE)
    assert (change.value["message_id"], change.value["occurred_at"], change.id) == ("id-0", NOW, "id-0")


def test_command_key_prefers_the_target() -> None:
    assert command_key({"command_id": "c", "target": "F-1", "data": {"quotation_number": "F-2"}}) == "F-1"
    assert command_key({"command_id": "c", "target": None, "data": {}}) == "c"


def test_prepare_raises_with_every_problem() -> None:
    with pytest.raises(PublishError) as raised:
        fixed("scm.quote.commands", {"type": ""}, {"type": "quote.send", "command_id": ""})
    assert [p.split(":")[0] for p in raised.value.problems] == ["line 1", "line 2"]


def test_wait_prints_each_answer_and_names_what_was_not_answered(monkeypatch: pytest.MonkeyPatch) -> None:
    from q2c_localstack.probe import Record

    def answer_first(bootstrap: str, outgoing: list[Outgoing], topics: list[str], *, wait: bool, timeout: float,
                     on_answer: Any, login: Any = None) -> list[Outgoing]:
        assert wait and topics == ["scm.command.results"]
        result = {"command_id": outgoing[0].id, "type": "quote.send", "target": "F-1", "outcome": "accepted"}
        on_answer(outgoing[0], Record("scm.command.results", 0, 0, outgoing[0].id, json.dumps(result).encode()))
        return outgoing[1:]

    monkeypatch.setattr(publish, "run_send", answer_first)
    result = runner.invoke(cli.app, ["publish", "scm.quote.commands", "--wait", "--timeout", "5"],
                           input=lines({"command_id": "a", "type": "quote.send", "target": "F-1"},
                                       {"command_id": "b", "type": "quote.send", "target": "F-2"}))
    assert result.exit_code == 3
    [answer] = [json.loads(line) for line in result.stdout.splitlines()]
    assert (answer["line"], answer["id"], answer["value"]["outcome"]) == (1, "a", "accepted")
    assert "line 2 (b): no answer within 5s" in result.stderr


# --- the admin's tables and progress bar (the admin process replaced by a stand-in) ----------------

def stand_in(monkeypatch: pytest.MonkeyPatch, output: list[dict[str, Any]]) -> list[list[str]]:
    """The service admin process `q2c` starts, replaced by one printing `output` as JSON lines."""
    import sys

    seen: list[list[str]] = []
    script = "import json, sys\nfor line in json.loads(sys.argv[1]): print(json.dumps(line))"

    def command(config: Any, argv: list[str], service: str = "dual-write-adapter",
                module: str | None = None) -> tuple[list[str], dict[str, str]]:
        seen.append([service, module or "", *argv])
        return [sys.executable, "-c", script, json.dumps(output)], {}

    monkeypatch.setattr(cli, "admin_command", command)
    monkeypatch.setattr(cli, "terminal", lambda: True)
    return seen


def test_initial_sync_draws_a_progress_bar_from_the_admins_reports(monkeypatch: pytest.MonkeyPatch) -> None:
    reports = [{"progress": n, "total": 400} for n in (1, 100, 200, 400)]
    seen = stand_in(monkeypatch, [*reports, {"progress": 400, "total": 400,
                                             "written": {"sales-order-header": 150, "quotation-header": 250}}])
    result = runner.invoke(cli.app, ["admin", "initial-sync"])
    assert result.exit_code == 0, result.output
    assert seen == [["dual-write-adapter", "", "initial-sync", "--progress", "jsonl"]]
    assert "400/400" in result.output and "100%" in result.output
    assert "rows written per map" in result.output and "quotation-header" in result.output


def test_maps_as_a_table_and_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [{"map": "quotation-header", "state": "Paused", "queued": 2, "errors": 1, "title": "Quotations"}]
    seen = stand_in(monkeypatch, rows)
    table = runner.invoke(cli.app, ["admin", "maps"])
    assert table.exit_code == 0 and "quotation-header" in table.output and "Paused" in table.output
    as_json = runner.invoke(cli.app, ["admin", "maps", "--json"])
    assert [json.loads(line) for line in as_json.output.splitlines()] == rows
    assert seen[0] == ["dual-write-adapter", "", "maps", "--json"]


def test_processor_messages_as_a_table_and_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [{"message_id": "m-1", "type": "quotation.journal-requested", "document": "Q-000001",
             "state": "Failed", "depends_on": None, "error": "[boom] the journal failed"}]
    seen = stand_in(monkeypatch, rows)
    table = runner.invoke(cli.app, ["processor", "messages", "Failed"])
    assert table.exit_code == 0, table.output
    assert "Q-000001" in table.output and "Failed" in table.output and "[boom]" in table.output
    as_json = runner.invoke(cli.app, ["processor", "messages", "--json"])
    assert [json.loads(line) for line in as_json.output.splitlines()] == rows
    assert seen == [["quote", "", "messages", "Failed", "--json"], ["quote", "", "messages", "--json"]]


def test_parked_outbox_rows_as_a_table_and_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [{"id": 7, "topic": "scm.quote.events", "key": "Q-000001", "bytes": 2_000_000, "attempts": 5,
             "waiting": 2, "last_error": "MessageSizeTooLargeError", "parked_at": "2026-11-24T01:00:00+00:00"}]
    seen = stand_in(monkeypatch, rows)
    table = runner.invoke(cli.app, ["outbox", "quote", "parked"], env={"COLUMNS": "240"})
    assert table.exit_code == 0, table.output
    assert "scm.quote.events" in table.output and "MessageSizeTooLargeError" in table.output
    as_json = runner.invoke(cli.app, ["outbox", "quote", "parked", "--json"])
    assert [json.loads(line) for line in as_json.output.splitlines()] == rows
    assert [s[0] for s in seen] == ["quote", "quote"] and seen[0][2:] == ["parked", "--json"]
