"""The compatibility classifier of the contract gate (q2c_localstack.contract.compare), one
small schema pair per rule: what breaks a consumer, and what does not."""

from typing import Any

import pytest

from q2c_localstack.contract import compare


def topic(properties: dict[str, Any], required: tuple[str, ...] = (), *, key: str = "command_id",
          writers: tuple[str, ...] = ("quote",), defs: dict[str, Any] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"x-q2c-topic": "t", "x-q2c-key": key, "x-q2c-writers": list(writers),
                              "type": "object", "properties": properties, "required": list(required)}
    if defs:
        schema["$defs"] = defs
    return schema


STR = {"type": "string"}
INT = {"type": "integer"}
NULLABLE_STR = {"anyOf": [STR, {"type": "null"}]}
OUTCOME = {"enum": ["accepted", "rejected"], "type": "string"}
LINE = {"type": "object", "properties": {"qty": STR}, "required": ["qty"]}

CASES = [
    # id, old, new, expected (kind, path, breaking) set
    ("identical", topic({"a": STR}, ("a",)), topic({"a": STR}, ("a",)), set()),
    ("new optional field", topic({"a": STR}), topic({"a": STR, "b": STR}), {("new optional field", "$.b", False)}),
    ("new required field", topic({"a": STR}), topic({"a": STR, "b": STR}, ("b",)),
     {("newly required field", "$.b", True)}),
    ("optional becomes required", topic({"a": STR}), topic({"a": STR}, ("a",)),
     {("newly required field", "$.a", True)}),
    ("removed field", topic({"a": STR, "b": STR}), topic({"a": STR}), {("removed or renamed field", "$.b", True)}),
    ("renamed field", topic({"a": STR}), topic({"a2": STR}),
     {("removed or renamed field", "$.a", True), ("new optional field", "$.a2", False)}),
    ("changed type", topic({"a": STR}), topic({"a": INT}), {("changed type", "$.a", True)}),
    ("becomes nullable", topic({"a": STR}), topic({"a": NULLABLE_STR}), {("changed type", "$.a", True)}),
    ("removed enum value", topic({"o": OUTCOME}), topic({"o": {"enum": ["accepted"], "type": "string"}}),
     {("removed enum value", "$.o", True)}),
    ("const narrows an enum", topic({"o": OUTCOME}), topic({"o": {"const": "accepted", "type": "string"}}),
     {("removed enum value", "$.o", True)}),
    ("new enum value", topic({"o": OUTCOME}),
     topic({"o": {"enum": ["accepted", "rejected", "held"], "type": "string"}}),
     {("new enum value", "$.o", False)}),
    ("changed key", topic({"a": STR}, key="command_id"), topic({"a": STR}, key="target"), {("changed key", "$", True)}),
    ("q2c stops always sending a field", topic({"a": STR}, ("a",)), topic({"a": STR}),
     {("field no longer always present", "$.a", True)}),
    ("q2c stops requiring a field it reads", topic({"a": STR}, ("a",), writers=("scm-users",)),
     topic({"a": STR}, writers=("scm-users",)), {("field no longer required", "$.a", False)}),
    ("constraint reported, not breaking", topic({"a": STR}), topic({"a": {"type": "string", "maxLength": 100}}),
     {("changed constraint", "$.a", False)}),
    ("nested field removed through $ref",
     topic({"lines": {"type": "array", "items": {"$ref": "#/$defs/Line"}}}, defs={"Line": LINE}),
     topic({"lines": {"type": "array", "items": {"$ref": "#/$defs/Line"}}},
           defs={"Line": {"type": "object", "properties": {}, "required": []}}),
     {("removed or renamed field", "$.lines[].qty", True)}),
    ("nested type change in a nullable object",
     topic({"doc": {"anyOf": [{"$ref": "#/$defs/Line"}, {"type": "null"}]}}, defs={"Line": LINE}),
     topic({"doc": {"anyOf": [{"$ref": "#/$defs/Line"}, {"type": "null"}]}},
           defs={"Line": {**LINE, "properties": {"qty": INT}}}),
     {("changed type", "$.doc.qty", True)}),
]


@pytest.mark.parametrize(("old", "new", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_change_is_classified(old: dict[str, Any], new: dict[str, Any],
                                   expected: set[tuple[str, str, bool]]) -> None:
    changes = compare({"t.json": old}, {"t.json": new})
    assert {(c.kind, c.path, c.breaking) for c in changes} == expected


def test_a_removed_topic_breaks_and_a_new_topic_does_not() -> None:
    a, b = topic({"a": STR}), topic({"a": STR})
    assert [(c.kind, c.breaking) for c in compare({"a.json": a}, {})] == [("removed topic", True)]
    assert [(c.kind, c.breaking) for c in compare({}, {"b.json": b})] == [("new topic", False)]


def test_a_change_names_topic_field_and_verdict() -> None:
    [change] = compare({"t.json": topic({"a": STR})}, {"t.json": topic({})})
    assert str(change) == "BREAKING: t $.a: removed or renamed field"


# --- the `record` of dataverse.<table>.writes: columns, option values, always-written columns ---

UPSERT = {"properties": {"operation": {"const": "upsert"}}, "required": ["operation"]}
STATUS = {"anyOf": [{"type": "integer", "enum": [192350000, 192350001]}, {"type": "null"}]}
NULLABLE_INT = {"anyOf": [{"type": "integer"}, {"type": "null"}]}


def writes(columns: dict[str, Any], always: tuple[str, ...] = ("msdyn_salesordernumber",), *,
           writers: tuple[str, ...] = ("dual-write-adapter",)) -> dict[str, Any]:
    """A writes topic as q2c_localstack.records describes it: the record's columns, the alternate
    key required always, the other always-written columns required on an upsert."""
    record = {"type": "object", "properties": {"msdyn_salesordernumber": STR, **columns},
              "required": ["msdyn_salesordernumber"], "additionalProperties": True}
    schema = topic({"operation": {"enum": ["upsert", "delete"], "type": "string"}, "record": record},
                   ("operation", "record"), key="msdyn_salesordernumber", writers=writers)
    return {**schema, "if": UPSERT, "then": {"properties": {"record": {"required": list(always)}}}}


KEY = "msdyn_salesordernumber"
RECORD_CASES = [
    ("identical", writes({"name": NULLABLE_STR}, (KEY, "name")), writes({"name": NULLABLE_STR}, (KEY, "name")),
     set()),
    ("column removed from the writes", writes({"name": NULLABLE_STR, "totalamount": NULLABLE_STR}),
     writes({"name": NULLABLE_STR}), {("removed or renamed field", "$.record.totalamount", True)}),
    ("always-written column removed", writes({"name": NULLABLE_STR}, (KEY, "name")), writes({}, (KEY,)),
     {("removed or renamed field", "$.record.name", True)}),
    ("column changes type", writes({"totalamount": NULLABLE_STR}), writes({"totalamount": NULLABLE_INT}),
     {("changed type", "$.record.totalamount", True)}),
    ("money becomes a JSON number", writes({"totalamount": NULLABLE_STR}),
     writes({"totalamount": {"anyOf": [{"type": "number"}, {"type": "null"}]}}),
     {("changed type", "$.record.totalamount", True)}),
    ("option value removed", writes({"msdyn_processingstatus": STATUS}),
     writes({"msdyn_processingstatus": {"anyOf": [{"type": "integer", "enum": [192350000]}, {"type": "null"}]}}),
     {("removed enum value", "$.record.msdyn_processingstatus", True)}),
    ("option value added", writes({"msdyn_processingstatus": STATUS}),
     writes({"msdyn_processingstatus": {"anyOf": [{"type": "integer", "enum": [192350000, 192350001, 192350002]},
                                                  {"type": "null"}]}}),
     {("new enum value", "$.record.msdyn_processingstatus", False)}),
    ("column no longer always written", writes({"statecode": NULLABLE_INT}, (KEY, "statecode")),
     writes({"statecode": NULLABLE_INT}, (KEY,)),
     {("field no longer always present", "$.record.statecode", True)}),
    ("column becomes always written", writes({"statecode": NULLABLE_INT}, (KEY,)),
     writes({"statecode": NULLABLE_INT}, (KEY, "statecode")),
     {("newly required field", "$.record.statecode", True)}),
    ("new column only written with a feature on", writes({}), writes({"statecode": NULLABLE_INT}),
     {("new optional field", "$.record.statecode", False)}),
    ("the key moves from always to upsert-only", writes({}, (KEY,)),
     {**writes({}, (KEY,)), "properties": {**writes({}, (KEY,))["properties"],
                                           "record": {**writes({})["properties"]["record"], "required": []}}},
     {("field no longer always present", "$.record.msdyn_salesordernumber", True)}),
    ("Sales no longer has to send a column it reads", writes({"name": STR}, (KEY, "name"), writers=("sales",)),
     writes({"name": STR}, (KEY,), writers=("sales",)),
     {("field no longer required", "$.record.name", False)}),
]


@pytest.mark.parametrize(("old", "new", "expected"), [c[1:] for c in RECORD_CASES], ids=[c[0] for c in RECORD_CASES])
def test_each_change_of_a_dataverse_record_is_classified(old: dict[str, Any], new: dict[str, Any],
                                                         expected: set[tuple[str, str, bool]]) -> None:
    changes = compare({"t.json": old}, {"t.json": new})
    assert {(c.kind, c.path, c.breaking) for c in changes} == expected


def test_a_column_no_longer_always_written_names_the_condition() -> None:
    [change] = compare({"t.json": writes({"statecode": NULLABLE_INT}, (KEY, "statecode"))},
                       {"t.json": writes({"statecode": NULLABLE_INT}, (KEY,))})
    assert str(change) == ("BREAKING: t $.record.statecode: field no longer always present "
                           "(when operation is upsert)")
