"""Messages between the quote service and the ownership service (docs/quote-lifecycle.md)."""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .quote import QuotationSnapshot

LifecycleAction = Literal["send", "confirm", "lose", "cancel", "revise", "delete", "change-ownership"]
IssuerSystem = Literal["scm", "sales"]


class Issuer(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    system: IssuerSystem
    user: str | None = None
    privileges: list[str] = Field(default_factory=list)


class OwnershipRequest(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    request_id: str
    command_id: str
    action: LifecycleAction
    issuer: Issuer
    quotation: QuotationSnapshot
    version: int
    data: dict[str, Any] = Field(default_factory=dict)


class OwnershipDecision(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    request_id: str
    command_id: str
    quotation_number: str
    version: int
    action: LifecycleAction
    outcome: Literal["approved", "rejected"]
    code: str | None = None
    text: str | None = None
