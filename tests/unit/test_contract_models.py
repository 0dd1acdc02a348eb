"""Message shapes of the external contract (CONTRACT.md §0, §4, §5) and the internal envelope."""

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from q2c_contracts.codec import NotAJsonObject, decode_object, encode
from q2c_contracts.envelope import Envelope
from q2c_contracts.scm import CommandResult, FeatureStateEvent, ScmCommand
from q2c_contracts.timestamps import format_utc

CONTRACT_COMMAND: dict[str, Any] = {
    "command_id": "c1",
    "type": "quote.send",
    "issued_at": "2026-11-22T14:00:00Z",
    "user": {"name": "bob", "privileges": []},
    "target": "F-000007",
    "data": {},
}

MOMENT = datetime(2026, 11, 22, 14, 0, 0, tzinfo=UTC)
# The same instant written in other zones, and with a fraction the contract does not carry.
SAME_INSTANT = [
    pytest.param(MOMENT, id="utc"),
    pytest.param(MOMENT.astimezone(timezone(timedelta(hours=1))), id="plus-one"),
    pytest.param(MOMENT.astimezone(timezone(timedelta(hours=-5, minutes=-30))), id="minus-5h30"),
    pytest.param(MOMENT.replace(microsecond=999_999), id="with-microseconds"),
]


def _with(**changes: Any) -> dict[str, Any]:
    return {**CONTRACT_COMMAND, **changes}


def _without(key: str) -> dict[str, Any]:
    return {k: v for k, v in CONTRACT_COMMAND.items() if k != key}


# --- ScmCommand -------------------------------------------------------------------------


def test_scm_command_accepts_the_contract_example() -> None:
    command = ScmCommand.model_validate(CONTRACT_COMMAND)

    assert command.command_id == "c1"
    assert command.type == "quote.send"
    assert command.issued_at == MOMENT
    assert command.user is not None and command.user.name == "bob"
    assert command.user.privileges == []
    assert command.target == "F-000007"
    assert command.data == {}


def test_scm_command_ignores_unknown_fields() -> None:
    command = ScmCommand.model_validate(
        _with(shiny="new", user={"name": "bob", "privileges": [], "mood": "good"})
    )

    assert "shiny" not in command.model_dump()
    assert command.user is not None and "mood" not in command.user.model_dump()


def test_scm_command_needs_only_id_and_type() -> None:
    command = ScmCommand.model_validate({"command_id": "c2", "type": "processor.run"})

    assert (command.issued_at, command.user, command.target, command.data) == (
        None, None, None, {}
    )


def test_scm_command_converts_issued_at_to_utc() -> None:
    command = ScmCommand.model_validate(_with(issued_at="2026-11-22T15:00:00+01:00"))

    assert command.issued_at == MOMENT
    assert command.issued_at is not None and command.issued_at.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("document", "field"),
    [
        pytest.param(_without("command_id"), "command_id", id="command-id-missing"),
        pytest.param(_with(command_id=""), "command_id", id="command-id-empty"),
        pytest.param(_with(command_id=None), "command_id", id="command-id-null"),
        pytest.param(_without("type"), "type", id="type-missing"),
        pytest.param(_with(type=""), "type", id="type-empty"),
        pytest.param(_with(data="{}"), "data", id="data-string"),
        pytest.param(_with(data=[1, 2]), "data", id="data-list"),
        pytest.param(_with(issued_at="2026-11-22T14:00:00"), "issued_at", id="issued-at-naive"),
        pytest.param(_with(issued_at="yesterday"), "issued_at", id="issued-at-not-a-time"),
        pytest.param(_with(user={"privileges": []}), "user", id="user-without-name"),
    ],
)
def test_scm_command_rejects_a_malformed_command(document: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        ScmCommand.model_validate(document)

    assert field in {str(error["loc"][0]) for error in caught.value.errors()}


# --- CommandResult and FeatureStateEvent on the wire -------------------------------------


@pytest.mark.parametrize("moment", SAME_INSTANT)
def test_command_result_serialises_exactly_the_contract_fields(moment: datetime) -> None:
    result = CommandResult(
        command_id="c1", type="quote.send", target="F-000007", outcome="rejected",
        code="quote.owned-by-sales", text="This quotation is owned by Dynamics 365 Sales",
        occurred_at=moment,
    )

    wire = json.loads(result.model_dump_json())

    assert list(wire) == [
        "command_id", "type", "target", "outcome", "code", "text", "occurred_at"
    ]
    assert wire["occurred_at"] == "2026-11-22T14:00:00Z"
    assert wire["outcome"] == "rejected"


def test_accepted_command_result_writes_null_code_and_text() -> None:
    result = CommandResult(
        command_id="c1", type="feature.set", target=None, outcome="accepted", occurred_at=MOMENT
    )

    wire = json.loads(result.model_dump_json())

    assert wire == {
        "command_id": "c1", "type": "feature.set", "target": None, "outcome": "accepted",
        "code": None, "text": None, "occurred_at": "2026-11-22T14:00:00Z",
    }


def test_command_result_outcome_is_accepted_or_rejected() -> None:
    with pytest.raises(ValidationError):
        CommandResult(
            command_id="c1", type="quote.send", target=None, outcome="maybe", occurred_at=MOMENT
        )


@pytest.mark.parametrize("moment", SAME_INSTANT)
@pytest.mark.parametrize(
    ("kind", "value"), [("feature", True), ("feature", False), ("parameter", "F-SO-")]
)
def test_feature_state_event_serialises_exactly_the_contract_fields(
    moment: datetime, kind: str, value: bool | str
) -> None:
    event = FeatureStateEvent(
        event_id="e1", name="X", kind=kind, value=value, occurred_at=moment
    )

    wire = json.loads(event.model_dump_json())

    assert list(wire) == ["event_id", "name", "kind", "value", "occurred_at"]
    assert wire["occurred_at"] == "2026-11-22T14:00:00Z"
    assert wire["kind"] == kind
    assert wire["value"] == value and type(wire["value"]) is type(value)


def test_feature_state_event_kind_is_feature_or_parameter() -> None:
    with pytest.raises(ValidationError):
        FeatureStateEvent(event_id="e1", name="X", kind="flag", value=True, occurred_at=MOMENT)


@pytest.mark.parametrize("moment", SAME_INSTANT)
def test_format_utc_is_second_precision_with_z(moment: datetime) -> None:
    assert format_utc(moment) == "2026-11-22T14:00:00Z"


def test_a_naive_datetime_is_refused_when_building_a_result() -> None:
    with pytest.raises(ValidationError):
        CommandResult(
            command_id="c1", type="quote.send", target=None, outcome="accepted",
            occurred_at=datetime(2026, 11, 22, 14, 0, 0),
        )


# --- Envelope ----------------------------------------------------------------------------


def _first(**changes: Any) -> Envelope:
    arguments: dict[str, Any] = {
        "type": "quote.sent", "key": "F-000007", "payload": {"a": 1}, "producer": "quote",
    }
    return Envelope.new(**{**arguments, **changes})


def test_new_envelope_starts_its_own_correlation() -> None:
    envelope = _first()

    assert envelope.message_id
    assert envelope.correlation_id == envelope.message_id
    assert envelope.causation_id is None
    assert envelope.version == 1
    assert envelope.source_system == "internal"
    assert envelope.occurred_at.utcoffset() == timedelta(0)
    assert (envelope.type, envelope.key, envelope.payload, envelope.producer) == (
        "quote.sent", "F-000007", {"a": 1}, "quote"
    )


def test_new_envelopes_get_distinct_ids() -> None:
    assert len({_first().message_id for _ in range(20)}) == 20


def test_caused_envelope_keeps_correlation_and_points_at_its_parent() -> None:
    parent = _first()

    child = parent.caused(type="quote.confirmed", key="F-000007", payload={}, producer="quote")
    grandchild = child.caused(type="order.created", key="F-SO-1", payload={}, producer="order")

    assert child.message_id != parent.message_id
    assert child.correlation_id == parent.correlation_id == parent.message_id
    assert child.causation_id == parent.message_id
    assert grandchild.correlation_id == parent.message_id
    assert grandchild.causation_id == child.message_id


@pytest.mark.parametrize("type_", ["quote.sent", "quote.add-line", "dataverse.quote.changed"])
def test_envelope_accepts_dotted_lowercase_types(type_: str) -> None:
    assert _first(type=type_).type == type_


@pytest.mark.parametrize(
    "type_",
    ["QuoteSent", "quote", "Quote.sent", "quote.", ".sent", "quote..sent", "quote sent", ""],
)
def test_envelope_rejects_a_type_that_is_not_dotted_lowercase(type_: str) -> None:
    with pytest.raises(ValidationError):
        _first(type=type_)


@pytest.mark.parametrize("source_system", ["sales", "scm", "internal"])
def test_envelope_accepts_the_known_source_systems(source_system: str) -> None:
    assert _first(source_system=source_system).source_system == source_system


@pytest.mark.parametrize("source_system", ["crm", "SCM", ""])
def test_envelope_rejects_another_source_system(source_system: str) -> None:
    with pytest.raises(ValidationError):
        _first(source_system=source_system)


@pytest.mark.parametrize(
    "changes", [{"version": 0}, {"key": ""}, {"producer": ""}], ids=["version-0", "key", "producer"]
)
def test_envelope_rejects_empty_identity_fields(changes: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        _first(**changes)


def test_envelope_round_trips_through_json() -> None:
    envelope = _first()

    again = Envelope.model_validate(decode_object(encode(envelope)))

    assert again.message_id == envelope.message_id
    assert again.occurred_at == envelope.occurred_at.replace(microsecond=0)


# --- codec -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(None, id="no-value"),
        pytest.param(b"", id="empty"),
        pytest.param(b"not json", id="not-json"),
        pytest.param(b"\xff\xfe", id="not-utf8"),
        pytest.param(b"[1,2]", id="list"),
        pytest.param(b'"text"', id="string"),
        pytest.param(b"42", id="number"),
        pytest.param(b"null", id="null"),
        pytest.param(b'{"a": 1', id="truncated"),
    ],
)
def test_decode_object_refuses_anything_but_a_json_object(raw: bytes | None) -> None:
    with pytest.raises(NotAJsonObject) as caught:
        decode_object(raw)

    assert str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_decode_object_names_the_json_type_it_got() -> None:
    with pytest.raises(NotAJsonObject, match="list"):
        decode_object(b"[1,2]")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b'{"a": 1}', {"a": 1}),
        (b"{}", {}),
        ('{"name": "Bjørn"}'.encode(), {"name": "Bjørn"}),
    ],
)
def test_decode_object_decodes_a_utf8_json_object(raw: bytes, expected: dict[str, Any]) -> None:
    assert decode_object(raw) == expected


def test_encode_round_trips_a_model() -> None:
    result = CommandResult(
        command_id="c1", type="quote.send", target="F-000007", outcome="rejected",
        code="quote.read-only", text="Ærø read-only", occurred_at=MOMENT,
    )

    raw = encode(result)

    assert isinstance(raw, bytes)
    assert CommandResult.model_validate(decode_object(raw)) == result
    assert b"2026-11-22T14:00:00Z" in raw
