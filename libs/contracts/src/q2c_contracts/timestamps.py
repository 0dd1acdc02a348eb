"""RFC 3339 UTC timestamps as the contract writes them (`2026-11-22T14:00:00Z`)."""

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, PlainSerializer


def utc_now() -> datetime:
    return datetime.now(UTC)


def format_utc(moment: datetime) -> str:
    """Second precision with a `Z`, the exact form of CONTRACT.md §0."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _require_timezone(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("timestamp must carry a timezone (RFC 3339, e.g. 2026-11-22T14:00:00Z)")
    return moment.astimezone(UTC)


UtcDatetime = Annotated[
    datetime,
    AfterValidator(_require_timezone),
    PlainSerializer(format_utc, return_type=str, when_used="json"),
]
