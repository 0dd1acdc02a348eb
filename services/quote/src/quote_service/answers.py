"""Where a command's answer goes: an SCM user's to `scm.command.results`; a Sales change's
refusal to `quote.sales-results` (with the authoritative snapshot, so the adapter can restore
the Sales row and notify Sales). A Sales command that is carried out is answered by its event
on `scm.quote.events` (`caused_by` = its command id), written in the same transaction: the
adapter, the topic's one reader, has nothing to do with an acceptance, and it was 6 of a
lifecycle's 40 records and a quarter of its bytes (docs/quote-lifecycle.md)."""

from dataclasses import dataclass, field
from typing import Any
from uuid import uuid4

from q2c_contracts.ownership import IssuerSystem
from q2c_contracts.quote import QuoteEvent, SalesQuoteResult
from q2c_contracts.scm import Outcome
from q2c_contracts.timestamps import utc_now
from q2c_contracts.topics import QUOTE_SALES_RESULTS, SCM_QUOTE_EVENTS
from q2c_messaging.outbox import Outbox
from q2c_messaging.results import answer_command

from .domain import Quotation, snapshot


@dataclass(frozen=True)
class Command:
    """A quote command from either system, as the service handles it."""

    command_id: str
    type: str
    target: str | None
    issuer: IssuerSystem
    user: str | None = None
    privileges: tuple[str, ...] = ()
    data: dict[str, Any] = field(default_factory=dict)


async def answer(outbox: Outbox, command: Command, outcome: Outcome, *, code: str | None = None,
                 text: str | None = None, target: str | None = None, quote: Quotation | None = None) -> None:
    target = target or command.target
    if command.issuer == "scm":
        await answer_command(outbox, command.command_id, command.type, target, outcome, code, text)
        return
    if outcome == "accepted":
        return  # its event answers it
    sales_result = SalesQuoteResult(
        command_id=command.command_id, type=command.type, target=target or "", outcome=outcome,
        code=code, text=text, refused_message_id=command.command_id if outcome == "rejected" else None,
        quotation=snapshot(quote) if quote else None,
    )
    await outbox.append_envelope(QUOTE_SALES_RESULTS, target or command.command_id, "quote.sales-result",
                                 sales_result, source_system="scm")


async def publish_quote(outbox: Outbox, quote: Quotation, event_type: str, caused_by: str | None) -> None:
    """The whole snapshot after a change (CONTRACT.md §5)."""
    event = QuoteEvent(event_id=str(uuid4()), type=event_type, occurred_at=utc_now(), caused_by=caused_by,
                       version=quote.version, quotation=snapshot(quote))
    await outbox.append(SCM_QUOTE_EVENTS, quote.number, event, message_id=event.event_id, type=event_type)
