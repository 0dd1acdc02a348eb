"""The answer to an SCM user's command (CONTRACT.md §4): exactly one `CommandResult` per
command id on `scm.command.results`, keyed by the command id. Every command handler answers
through here, so results have one shape whatever the service."""

from uuid import uuid4

from q2c_contracts.refusals import COMMAND_INVALID
from q2c_contracts.scm import CommandResult, Outcome, ScmCommand
from q2c_contracts.timestamps import utc_now
from q2c_contracts.topics import SCM_COMMAND_RESULTS

from .outbox import Outbox


async def answer_command(outbox: Outbox, command_id: str, type_: str, target: str | None, outcome: Outcome,
                         code: str | None = None, text: str | None = None) -> CommandResult:
    result = CommandResult(command_id=command_id, type=type_, target=target, outcome=outcome, code=code, text=text,
                           occurred_at=utc_now())
    await outbox.append(SCM_COMMAND_RESULTS, command_id, result, message_id=str(uuid4()), type="command.result")
    return result


async def refuse_bad_envelope(outbox: Outbox, command: ScmCommand) -> bool:
    """Answer `command.invalid` for an envelope field no text column can hold (a NUL in
    `target` or the user), before any lookup takes it to PostgreSQL; True if refused. The
    result names no target then: it would carry the same NUL."""
    problem = command.envelope_problem()
    if problem is None:
        return False
    target = command.target if command.target is None or "\x00" not in command.target else None
    await answer_command(outbox, command.command_id, command.type, target, "rejected", COMMAND_INVALID, problem)
    return True
