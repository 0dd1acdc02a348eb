"""Dataverse messages (CONTRACT.md §1–§3): the change feed from Sales, the writes and the
notifications q2c sends back."""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .timestamps import UtcDatetime


class DataverseChange(BaseModel):
    """A row change on `dataverse.<table>.changes`."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    message_id: str = Field(min_length=1)
    table: str
    operation: Literal["create", "update", "delete"]
    occurred_at: UtcDatetime | None = None
    user: str | None = None
    record: dict[str, Any]


class DataverseWrite(BaseModel):
    """`dataverse.<table>.writes`: the full mapped record under its alternate key."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    message_id: str
    table: str
    operation: Literal["upsert", "delete"]
    alternate_key: dict[str, Any]
    record: dict[str, Any]
    caused_by: str | None
    occurred_at: UtcDatetime


class DataverseNotification(BaseModel):
    """`dataverse.notifications`: exactly one per refused Sales change."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    message_id: str
    table: str
    alternate_key: dict[str, Any]
    level: Literal["error", "warning", "info"] = "error"
    code: str
    text: str
    refused_message_id: str
    occurred_at: UtcDatetime


def writes_topic(table: str) -> str:
    return f"dataverse.{table}.writes"


def changes_topic(table: str) -> str:
    return f"dataverse.{table}.changes"


DATAVERSE_NOTIFICATIONS = "dataverse.notifications"
