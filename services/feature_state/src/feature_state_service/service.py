"""Use cases of the feature-state service: handle one command, publish the defaults."""

from uuid import uuid4

import asyncpg

from q2c_contracts.scm import FeatureStateEvent, Outcome, ScmCommand
from q2c_contracts.timestamps import utc_now
from q2c_contracts.topics import SCM_FEATURE_EVENTS
from q2c_messaging.catalog import TopicCatalog
from q2c_messaging.consumer import Handling
from q2c_messaging.outbox import Outbox
from q2c_messaging.results import answer_command, refuse_bad_envelope
from q2c_observability import get_logger

from . import domain, repository

log = get_logger(__name__)

SERVICE = "feature-state"
EVENT_TYPE = "feature-state.changed"
RESULT_TYPE = "command.result"


async def handle_command(handling: Handling[ScmCommand]) -> None:
    """`scm.feature.commands` (inbox key: command_id) → the setting stored, its whole value
    on `scm.feature.events`, and one result on `scm.command.results`."""
    command = handling.message
    if await refuse_bad_envelope(handling.outbox, command):
        return
    decision = domain.decide(command.type, command.data)
    if isinstance(decision, domain.Rejected):
        log.info("feature.command_rejected", code=decision.code, text=decision.text)
        await _answer(handling.outbox, command, command.target, "rejected", decision.code, decision.text)
        return
    setting = decision.setting
    version = await repository.save(handling.conn, setting, command.command_id)
    await publish_setting(handling.outbox, setting)
    log.info("feature.set", name=setting.name, value=setting.value, version=version)
    await _answer(handling.outbox, command, setting.name, "accepted")


async def publish_defaults(pool: asyncpg.Pool, catalog: TopicCatalog) -> None:
    """Give every feature and parameter a row, and publish those that were missing, so the
    compacted `scm.feature.events` always holds the whole state."""
    async with pool.acquire() as conn, conn.transaction():
        inserted = await repository.insert_missing_defaults(conn, domain.defaults())
        outbox = Outbox(conn, SERVICE, catalog, correlation_id=str(uuid4()))
        for setting in inserted:
            await publish_setting(outbox, setting)
    if inserted:
        log.info("feature.defaults_published", names=[s.name for s in inserted])


async def publish_setting(outbox: Outbox, setting: domain.Setting) -> None:
    event = FeatureStateEvent(
        event_id=str(uuid4()), name=setting.name, kind=setting.kind, value=setting.value,
        occurred_at=utc_now(),
    )
    await outbox.append(SCM_FEATURE_EVENTS, setting.name, event, message_id=event.event_id, type=EVENT_TYPE)


async def _answer(
    outbox: Outbox, command: ScmCommand, target: str | None, outcome: Outcome,
    code: str | None = None, text: str | None = None,
) -> None:
    await answer_command(outbox, command.command_id, command.type, target, outcome, code, text)
