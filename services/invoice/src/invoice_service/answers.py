"""What the invoice service publishes for SCM users: one result per command on
`scm.command.results`, and the whole invoice on `scm.invoice.events`."""

from dataclasses import dataclass
from uuid import uuid4

from q2c_contracts.invoice import InvoiceEvent
from q2c_contracts.scm import CommandResult
from q2c_contracts.timestamps import utc_now
from q2c_contracts.topics import SCM_COMMAND_RESULTS, SCM_INVOICE_EVENTS
from q2c_messaging.outbox import Outbox

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


async def answer(outbox: Outbox, command: Command, outcome: str, *, target: str | None = None,
                 code: str | None = None, text: str | None = None) -> None:
    result = CommandResult(command_id=command.command_id, type=command.type, target=target or command.target,
                           outcome=outcome, code=code, text=text, occurred_at=utc_now())  # type: ignore[arg-type]
    await outbox.append(SCM_COMMAND_RESULTS, command.command_id, result, message_id=str(uuid4()),
                        type="command.result")


async def publish_posted(outbox: Outbox, invoice: Invoice, caused_by: str) -> None:
    event = InvoiceEvent(event_id=str(uuid4()), type=POSTED, occurred_at=utc_now(), caused_by=caused_by,
                         version=POSTED_VERSION, invoice=snapshot(invoice))
    await outbox.append(SCM_INVOICE_EVENTS, invoice.number, event, message_id=event.event_id, type=POSTED)
