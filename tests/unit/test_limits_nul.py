"""U+0000 (NUL): no text column holds it, as PostgreSQL rejects it in text and jsonb. The e2e
fuzz run (tests/e2e/test_fuzz_stack.py) found services failing on every attempt for one."""

import pytest
from pydantic import ValidationError

from q2c_contracts import limits
from q2c_contracts.scm import ScmCommand


def test_a_text_with_nul_is_a_problem_whatever_its_length() -> None:
    assert limits.text_problem("US\x00D", 100) == "must not contain the character U+0000 (NUL)"
    assert limits.text_problem("x" * 101, 100) == "must be at most 100 characters, got 101"
    assert limits.text_problem("USD", 100) is None


@pytest.mark.parametrize(("value", "paths"), [
    ({"name": "ok", "lines": [{"a": "1"}, {"b": ["x", "\x00"]}]}, ["data.lines[1].b[1]"]),
    ({"n\x00": 1, "m": "\x00"}, ["data.'n\\x00'", "data.m"]),
    ({"n": 1, "ok": [True, None, 2.5]}, []),
    ("\x00", ["data"]),
])
def test_nul_paths_name_every_place(value: object, paths: list[str]) -> None:
    assert limits.nul_paths(value, "data") == paths


@pytest.mark.parametrize(("envelope", "outcome"), [
    ({"command_id": "c\x00", "type": "quote.send"}, "dead letter"),  # no result could be keyed
    ({"command_id": "c-1", "type": "quote.\x00send"}, "dead letter"),
    ({"command_id": "c-1", "type": "quote.send", "target": "F-\x00"},
     "target must not contain the character U+0000 (NUL)"),
    ({"command_id": "c-1", "type": "quote.send", "user": {"name": "b\x00b"}},
     "user.name must not contain the character U+0000 (NUL)"),
    ({"command_id": "c-1", "type": "quote.send", "user": {"name": "bob", "privileges": ["ok", "\x00"]}},
     "user.privileges[1] must not contain the character U+0000 (NUL)"),
    ({"command_id": "c-1", "type": "quote.send", "target": "F-1", "user": {"name": "bob"}}, None),
])
def test_nul_in_a_command_envelope_is_dead_lettered_or_refused(envelope: dict, outcome: str | None) -> None:  # type: ignore[type-arg]
    try:
        command = ScmCommand.model_validate(envelope)
    except ValidationError:
        assert outcome == "dead letter"
        return
    assert command.envelope_problem() == outcome
