"""SCM users' commands and their results (CONTRACT.md §4)."""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

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

    @field_validator("command_id", "type")
    @classmethod
    def _no_nul(cls, value: str) -> str:
        # The result is keyed and typed by these, and the inbox stores the id: with U+0000
        # (which PostgreSQL refuses in text) no answer can be written, so the DLQ takes it.
        if "\x00" in value:
            raise ValueError("must not contain the character U+0000 (NUL)")
        return value

    def envelope_problem(self) -> str | None:
        """The first envelope field (besides `data`) no text column can hold, as a
        `command.invalid` text; None when all can be stored."""
        fields: list[tuple[str, str | None]] = [("target", self.target)]
        if self.user:
            fields.append(("user.name", self.user.name))
            fields += [(f"user.privileges[{n}]", p) for n, p in enumerate(self.user.privileges)]
        for name, value in fields:
            if value is not None and "\x00" in value:
                return f"{name} must not contain the character U+0000 (NUL)"
        return None


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
