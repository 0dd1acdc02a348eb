"""SCM users' commands and their results (CONTRACT.md §4)."""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .timestamps import UtcDatetime


class ScmUser(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str
    privileges: list[str] = Field(default_factory=list)


class ScmCommand(BaseModel):
    """An SCM user's command. Only what every command needs to be answered is required
    (`command_id`, `type`): a command lacking those cannot get a result and goes to the DLQ.
    Whether `data` fits the type is the handling service's decision (`command.invalid`)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    command_id: str = Field(min_length=1)
    type: str = Field(min_length=1)
    issued_at: UtcDatetime | None = None
    user: ScmUser | None = None
    target: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)


Outcome = Literal["accepted", "rejected"]


class CommandResult(BaseModel):
    """Exactly one per command id on `scm.command.results`, keyed by `command_id`."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    command_id: str
    type: str
    target: str | None
    outcome: Outcome
    code: str | None = None
    text: str | None = None
    occurred_at: UtcDatetime


class FeatureStateEvent(BaseModel):
    """`scm.feature.events` (compacted, key = name): the whole current value of one
    feature (`value` is a bool) or parameter (its typed value)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_id: str
    name: str
    kind: Literal["feature", "parameter"]
    value: bool | str | int
    occurred_at: UtcDatetime
