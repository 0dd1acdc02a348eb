"""The rules for setting features and parameters (DOMAIN.md §3; the catalog with the
defaults is q2c_contracts.features). Pure: no I/O."""

import json
from dataclasses import dataclass
from typing import Any

from q2c_contracts import refusals
from q2c_contracts.features import CATALOG, FEATURES, PARAMETERS, Kind, Value

FEATURE_SET = "feature.set"
PARAMETER_SET = "parameter.set"
COMMAND_INVALID = refusals.COMMAND_INVALID


@dataclass(frozen=True)
class Setting:
    name: str
    kind: Kind
    value: Value


@dataclass(frozen=True)
class Accepted:
    setting: Setting


@dataclass(frozen=True)
class Rejected:
    text: str
    code: str = COMMAND_INVALID


Decision = Accepted | Rejected


def defaults() -> list[Setting]:
    """Every feature and parameter at its default (q2c_contracts.features)."""
    return [Setting(spec.name, spec.kind, spec.default) for spec in CATALOG]


def decide(command_type: str, data: dict[str, Any]) -> Decision:
    """Validate one `scm.feature.commands` command and say what the new setting is."""
    if command_type == FEATURE_SET:
        return _decide_feature(data)
    if command_type == PARAMETER_SET:
        return _decide_parameter(data)
    return Rejected(
        f"Unknown command type {command_type!r} on scm.feature.commands: "
        f"expected {FEATURE_SET} or {PARAMETER_SET}"
    )


def _decide_feature(data: dict[str, Any]) -> Decision:
    name = data.get("feature")
    if not isinstance(name, str) or not name:
        return Rejected("data.feature is required: the name of a feature")
    if name not in FEATURES:
        return Rejected(_unknown("feature", name, FEATURES))
    enabled = data.get("enabled")
    if not isinstance(enabled, bool):
        return Rejected(f"data.enabled must be true or false for feature {name}, got {_show(enabled)}")
    return Accepted(Setting(name, "feature", enabled))


def _decide_parameter(data: dict[str, Any]) -> Decision:
    name = data.get("name")
    if not isinstance(name, str) or not name:
        return Rejected("data.name is required: the name of a parameter")
    spec = PARAMETERS.get(name)
    if spec is None:
        return Rejected(_unknown("parameter", name, PARAMETERS))
    if "value" not in data:
        return Rejected(f"data.value is required for parameter {name}")
    value = data["value"]
    if spec.is_flag:
        if not isinstance(value, bool):
            return Rejected(f"Parameter {name} takes true or false, got {_show(value)}")
    elif not isinstance(value, str) or not value.strip():
        return Rejected(f"Parameter {name} takes a non-empty text value, got {_show(value)}")
    elif spec.choices and value not in spec.choices:
        return Rejected(f"Parameter {name} takes one of {', '.join(spec.choices)}, got {_show(value)}")
    return Accepted(Setting(name, "parameter", value))


def _unknown(kind: str, name: str, known: dict[str, Any]) -> str:
    text = f"Unknown {kind} {name!r}"
    close = [k for k in known if k.lower() == name.lower()]
    if close:
        return f"{text}: did you mean {close[0]}?"
    return f"{text}; known {kind}s: {', '.join(known)}"


_JSON_TYPES = {bool: "a boolean", str: "a text", int: "a number", float: "a number",
               list: "a list", dict: "an object"}


def _show(value: Any) -> str:
    """How a wrong value reads in a rejection text: as JSON, with its JSON type."""
    if value is None:
        return "nothing"
    return f"{json.dumps(value)} ({_JSON_TYPES.get(type(value), 'a value')})"
