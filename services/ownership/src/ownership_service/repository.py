"""SQL of the ownership service's own tables: the feature copy it decides with, the decision
log and the ownership change log."""

from dataclasses import astuple, dataclass
from typing import Any

import asyncpg

from q2c_contracts.features import INTEGRATE_QUOTATION_LIFECYCLE, flag_default
from q2c_persistence import Connection, tables


def _lifecycle_integration(settings: dict[str, Any]) -> bool:
    value = settings.get(INTEGRATE_QUOTATION_LIFECYCLE)
    return flag_default(INTEGRATE_QUOTATION_LIFECYCLE) if value is None else bool(value)


# This process's copy (docs/messaging.md "Cached copies"): read again only when the feature
# copy's version moved.
_LIFECYCLE_INTEGRATION = tables.settings_copy(_lifecycle_integration)


async def lifecycle_integration(conn: asyncpg.Connection) -> bool:
    """IntegrateQuotationLifecycle as last heard; the catalog's default until heard otherwise."""
    return await _LIFECYCLE_INTEGRATION.get(conn)


async def store_feature(conn: asyncpg.Connection, name: str, value: Any) -> None:
    await tables.store_setting(conn, name, value)


_LOG_DECISION = """
INSERT INTO decision_log (request_id, command_id, action, issuer_system, issuer_user, quotation_number, version,
                          status, origin, ownership, requested_ownership, lifecycle_integration, outcome, code, text)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
ON CONFLICT (request_id) DO NOTHING
"""


@dataclass(frozen=True)
class Decision:
    """A row of `decision_log`: the request, the case it was decided on, the verdict."""

    request_id: str
    command_id: str
    action: str
    issuer_system: str
    issuer_user: str | None
    quotation_number: str
    version: int
    status: str
    origin: str
    ownership: str
    requested_ownership: str | None
    lifecycle_integration: bool
    outcome: str
    code: str | None
    text: str | None


async def log_decision(conn: asyncpg.Connection, decision: Decision) -> None:
    await conn.execute(_LOG_DECISION, *astuple(decision))


class DecisionLog:
    """A chunk's decisions (the messaging core's chunk hooks, docs/messaging.md): kept in
    memory and written at the chunk's end in one round trip (asyncpg pipelines `executemany`),
    in their order, each as `log_decision` writes it."""

    def __init__(self) -> None:
        self._decisions: list[Decision] = []

    def add(self, decision: Decision) -> None:
        self._decisions.append(decision)

    async def write(self, conn: Connection) -> None:
        if self._decisions:
            await conn.executemany(_LOG_DECISION, [astuple(d) for d in self._decisions])
        self._decisions = []


async def approved_change_ownership(conn: asyncpg.Connection, command_id: str) -> asyncpg.Record | None:
    """Who asked for an ownership change that was approved, and the ownership before it."""
    row: asyncpg.Record | None = await conn.fetchrow(
        """SELECT issuer_user, ownership FROM decision_log
           WHERE command_id = $1 AND action = 'change-ownership' AND outcome = 'approved'
           ORDER BY decided_at DESC LIMIT 1""", command_id)
    return row


async def log_ownership_change(conn: asyncpg.Connection, *, command_id: str, quotation_number: str,
                               changed_by: str | None, changed_at: Any, from_ownership: str,
                               to_ownership: str) -> None:
    await conn.execute(
        """INSERT INTO ownership_change_log (command_id, quotation_number, changed_by, changed_at, from_ownership,
                                             to_ownership)
           VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (command_id) DO NOTHING""",
        command_id, quotation_number, changed_by, changed_at, from_ownership, to_ownership,
    )
