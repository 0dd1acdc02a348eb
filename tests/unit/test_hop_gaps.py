"""`Q2C_BENCH_ONLY=hops` (`q2c_localstack.hopgaps`): records are joined to the record that caused
them, and the gaps are grouped per hop."""

import json

import pytest

from q2c_localstack.hopgaps import Sent, hop_gaps, report, sent
from q2c_messaging.catalog import parse_catalog


@pytest.mark.parametrize(("headers", "value", "ids"), [
    ([("message_id", b"m-2"), ("causation_id", b"m-1")], b"{}", ("m-2", "m-1")),  # q2c's records
    ([], json.dumps({"message_id": "s-1", "record": {}}).encode(), ("s-1", None)),  # a Sales change
    ([("message_id", b"m-3")], json.dumps({"message_id": "other"}).encode(), ("m-3", None)),  # the header wins
    ([], b"not json", (None, None)),
    ([], json.dumps(["a list"]).encode(), (None, None)),
    ([("causation_id", None)], None, (None, None)),
])
def test_a_record_is_known_by_its_header_ids_or_a_sales_changes_value(
        headers: list[tuple[str, bytes | None]], value: bytes | None, ids: tuple[str | None, str | None]) -> None:
    record = sent("t", 5, headers, value)
    assert (record.message_id, record.causation_id) == ids


def test_each_record_is_joined_to_its_cause_and_the_gaps_grouped_by_hop() -> None:
    records = [
        Sent("dataverse.quote.changes", 100, "s-1", None),
        Sent("quote.sales-commands", 104, "c-1", "s-1"),
        Sent("scm.quote.events", 107, "e-1", "c-1"),
        Sent("dataverse.quote.writes", 112, "w-1", "e-1"),
        Sent("dataverse.quotedetail.writes", 110, "w-2", "e-1"),
        Sent("dataverse.quote.changes", 200, "s-2", None),
        Sent("quote.sales-commands", 206, "c-2", "s-2"),
        Sent("scm.quote.events", 300, "e-9", "unknown"),  # its cause is not among them: no gap
        Sent("scm.quote.events", 301, "e-8", "e-8"),  # names itself: no gap
    ]
    assert hop_gaps(records) == {
        ("dataverse.quote.changes", "quote.sales-commands"): [4, 6],
        ("quote.sales-commands", "scm.quote.events"): [3],
        ("scm.quote.events", "dataverse.quote.writes"): [5],
        ("scm.quote.events", "dataverse.quotedetail.writes"): [3],
    }


def test_the_report_names_the_writer_and_puts_the_busiest_hop_first() -> None:
    catalog = parse_catalog({"services": ["quote", "dual-write-adapter"], "topics": {
        "a": {"partitions": 1, "writers": ["sales"], "consumers": ["dual-write-adapter"]},
        "b": {"partitions": 1, "writers": ["dual-write-adapter"], "consumers": ["quote"]},
        "c": {"partitions": 1, "writers": ["quote"]}}})
    lines = report({("b", "c"): [1], ("a", "b"): [1, 2, 3, 40]}, catalog.topics, lifecycles=2)
    assert "a → b (dual-write-adapter)" in lines[2] and "b → c (quote)" in lines[3]
    assert lines[2].split()[-4:] == ["2.0", "3", "40", "40"]  # per lifecycle, p50, p90, p99
