"""The envelope of internal topics (ARCHITECTURE.md "Envelope"). External topics keep the
exact shapes of CONTRACT.md and do not use it."""

from typing import Any, Literal
from uuid import uuid4

from pydantic import BaseModel, ConfigDict, Field

from .timestamps import UtcDatetime, utc_now

SourceSystem = Literal["sales", "scm", "internal"]


class Envelope(BaseModel):
    """One internal message. `type` is dotted (`quote.sent`); `version` is the schema major:
    additive changes keep it, breaking ones bump it. `key` is also the Kafka record key."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    message_id: str = Field(min_length=1)
    type: str = Field(pattern=r"^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)+$")
    version: int = Field(ge=1)
    occurred_at: UtcDatetime
    producer: str = Field(min_length=1)
    source_system: SourceSystem
    correlation_id: str = Field(min_length=1)
    causation_id: str | None = None
    key: str = Field(min_length=1)
    payload: dict[str, Any]

    @classmethod
    def new(
        cls,
        *,
        type: str,
        key: str,
        payload: dict[str, Any],
        producer: str,
        source_system: SourceSystem = "internal",
        version: int = 1,
        causation_id: str | None = None,
        correlation_id: str | None = None,
    ) -> "Envelope":
        """A fresh message; a flow's first message starts its own correlation."""
        message_id = str(uuid4())
        return cls(
            message_id=message_id,
            type=type,
            version=version,
            occurred_at=utc_now(),
            producer=producer,
            source_system=source_system,
            correlation_id=correlation_id or message_id,
            causation_id=causation_id,
            key=key,
            payload=payload,
        )

    def caused(self, **kwargs: Any) -> "Envelope":
        """A message caused by this one: same correlation, causation = this id."""
        return Envelope.new(
            causation_id=self.message_id, correlation_id=self.correlation_id, **kwargs
        )
