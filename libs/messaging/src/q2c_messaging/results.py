"""The answer to an SCM user's command (CONTRACT.md §4): exactly one `CommandResult` per
command id on `scm.command.results`, keyed by the command id. Every command handler answers
through here, so results have one shape whatever the service."""

from uuid import uuid4

from q2c_contracts.scm import CommandResult, Outcome
from q2c_contracts.timestamps import utc_now
from q2c_contracts.topics import SCM_COMMAND_RESULTS

from .outbox import Outbox


async def answer_command(outbox: Outbox, command_id: str, type_: str, target: str | None, outcome: Outcome,
                         code: str | None = None, text: str | None = None) -> CommandResult:
    result = CommandResult(command_id=command_id, type=type_, target=target, outcome=outcome, code=code, text=text,
                           occurred_at=utc_now())
    await outbox.append(SCM_COMMAND_RESULTS, command_id, result, message_id=str(uuid4()), type="command.result")
    return result
