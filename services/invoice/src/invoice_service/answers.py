"""What the invoice service publishes for SCM users: one result per command on
`scm.command.results`, and the whole invoice on `scm.invoice.events`."""

from dataclasses import dataclass
from uuid import uuid4

from q2c_contracts.invoice import InvoiceEvent
from q2c_contracts.scm import Outcome
from q2c_contracts.timestamps import utc_now
from q2c_contracts.topics import SCM_INVOICE_EVENTS
from q2c_messaging.outbox import Outbox
from q2c_messaging.results import answer_command

from .domain import Invoice, snapshot

POSTED = "invoice.posted"
# An invoice is posted once and never changes: its only event is its first version.
POSTED_VERSION = 1


@dataclass(frozen=True)
class Command:
    """What an answer needs of the command it answers."""

    command_id: str
    type: str
    target: str | None


async def answer(outbox: Outbox, command: Command, outcome: Outcome, *, target: str | None = None,
                 code: str | None = None, text: str | None = None) -> None:
    await answer_command(outbox, command.command_id, command.type, target or command.target, outcome,
                         code, text)


async def publish_posted(outbox: Outbox, invoice: Invoice, caused_by: str) -> None:
    event = InvoiceEvent(event_id=str(uuid4()), type=POSTED, occurred_at=utc_now(), caused_by=caused_by,
                         version=POSTED_VERSION, invoice=snapshot(invoice))
    await outbox.append(SCM_INVOICE_EVENTS, invoice.number, event, message_id=event.event_id, type=POSTED)
