"""The engine around the maps, as dual-write admins know it (DUALWRITE-REFERENCE §6.4):
each map is Running, Paused, Resuming or Not running. While a map is Paused its changes, in
both directions, are queued in order; Resume replays them in order (new changes keep
queuing behind them until the queue is empty). A change a map cannot translate goes to the
error log with its reason, to be retried alone or all at once; business refusals are not
errors (they become Sales notifications)."""

from collections.abc import Awaitable
from typing import Any

import asyncpg
from pydantic import ValidationError

from q2c_contracts.dataverse import DataverseChange
from q2c_messaging.consumer import IsolateAndRetry, describe_validation_error
from q2c_messaging.outbox import Outbox
from q2c_observability import get_logger

from . import repository as repo
from .sync import Sync
from .tablemap import EVENT_MODELS, RESULT_MODELS, MappingFailed

log = get_logger(__name__)

RUNNING, PAUSED, RESUMING, NOT_RUNNING = "Running", "Paused", "Resuming", "Not running"
STATES = (RUNNING, PAUSED, RESUMING, NOT_RUNNING)
# Kinds of change: `sales:<map>` (a Dataverse change of the map's table), `scm:<topic>` (an SCM
# event, through every map of that topic), `result:<envelope type>` (an SCM service's answer
# to a Sales command).
SALES, SCM, RESULT = "sales:", "scm:", "result:"


async def isolating_failures(call: Awaitable[None]) -> None:
    """A change in a chunk (`Sync.chunk_change`, `chunk_event`) that the maps cannot translate
    asks, as on `Engine.dispatch`'s fast path, to be run again alone, where the error log
    takes it (`IsolateAndRetry`)."""
    try:
        await call
    except (MappingFailed, ValidationError) as exc:
        raise IsolateAndRetry(str(exc)) from exc


class Engine:
    def __init__(self, sync: Sync) -> None:
        self.sync = sync

    async def ensure_maps(self, conn: asyncpg.Connection) -> None:
        await repo.ensure_map_states(conn, list(self.sync.maps), RUNNING)

    async def states(self, conn: asyncpg.Connection, lock: tuple[str, ...] = ()) -> dict[str, str]:
        """Every map's state, or with `lock` only those maps', share-locked, so a resume cannot
        switch them to Running between our read and our queuing of the change."""
        return await (repo.share_locked_map_states(conn, list(lock)) if lock else repo.map_states(conn))

    def maps_of(self, kind: str) -> tuple[str, ...]:
        """Which maps a kind of change goes through."""
        if kind.startswith(SALES):
            return (kind.removeprefix(SALES),)
        if kind.startswith(SCM):
            return tuple(m.name for m in self.sync.by_events[kind.removeprefix(SCM)])
        raise MappingFailed(f"unknown kind of change {kind!r}")

    async def dispatch(self, conn: asyncpg.Connection, outbox: Outbox, kind: str, payload: dict[str, Any],
                       *, isolated: bool = True) -> None:
        """Run a change through its running maps; queue it for its paused ones."""
        maps = self.maps_of(kind)
        if not isolated:
            # The consumer's fast path (no savepoint): the maps' states come with the change's
            # first statement, share-locked as `states` locks them, and that statement does
            # nothing unless all are Running (docs/performance.md, "Adapter statements per
            # message"). Otherwise the change goes the way below, the locks already held.
            try:
                if await self._apply(conn, outbox, kind, payload, frozenset(maps), gate=True):
                    return
            except (MappingFailed, ValidationError) as exc:
                raise IsolateAndRetry(str(exc)) from exc
        states = await self.states(conn, lock=maps)
        running = [m for m in maps if states.get(m, RUNNING) == RUNNING]
        for name in maps:
            state = states.get(name, RUNNING)
            if state in (PAUSED, RESUMING):
                await repo.queue_change(conn, name, kind, payload)
            elif state == NOT_RUNNING:
                log.info("adapter.map_not_running", map=name, kind=kind)
        if running:
            await self.process(conn, outbox, kind, payload, frozenset(running), isolated=isolated)

    async def process(self, conn: asyncpg.Connection, outbox: Outbox, kind: str, payload: dict[str, Any],
                      maps: frozenset[str], *, isolated: bool = True) -> str | None:
        """Apply one change; a translation failure is logged, not raised. Returns the reason.

        A failed change must leave nothing behind but its error-log entry. `isolated`: the caller
        undoes everything of this change when it fails, so it runs in a savepoint that the
        error-log entry survives. Not isolated (the consumer's fast path, a batch without
        savepoints): the change runs as it is, and a failure asks the consumer to run the batch
        again with the change isolated (`IsolateAndRetry`), which is rare; the common path saves
        a savepoint's two round trips per change."""
        if not isolated:
            try:
                await self._apply(conn, outbox, kind, payload, maps)
            except (MappingFailed, ValidationError) as exc:
                raise IsolateAndRetry(str(exc)) from exc
            return None
        try:
            async with conn.transaction():  # a savepoint: a failed change leaves nothing behind
                await self._apply(conn, outbox, kind, payload, maps)
        except (MappingFailed, ValidationError) as exc:
            reason = describe_validation_error(exc) if isinstance(exc, ValidationError) else str(exc)
            await repo.log_error(conn, sorted(maps)[0], kind, payload, reason)
            log.warning("adapter.change_failed", kind=kind, reason=reason)
            return reason
        return None

    async def _apply(self, conn: asyncpg.Connection, outbox: Outbox, kind: str, payload: dict[str, Any],
                     maps: frozenset[str], *, gate: bool = False) -> bool:
        """Apply a change; with `gate`, only if all `maps` are Running (False: nothing done)."""
        if kind.startswith(SALES) and kind.removeprefix(SALES) in self.sync.maps:
            tmap = self.sync.maps[kind.removeprefix(SALES)]
            return await self.sync.sales_change(conn, outbox, tmap, DataverseChange.model_validate(payload),
                                                gate=tmap.name if gate else None)
        if kind.startswith(SCM) and kind.removeprefix(SCM) in EVENT_MODELS:
            topic = kind.removeprefix(SCM)
            event = EVENT_MODELS[topic].model_validate(payload).model_dump(mode="json")
            return await self.sync.scm_event(conn, outbox, topic, event, maps, gate=gate)
        if kind.startswith(RESULT) and kind.removeprefix(RESULT) in RESULT_MODELS and not gate:
            await self.sync.sales_result(conn, outbox, RESULT_MODELS[kind.removeprefix(RESULT)].model_validate(payload))
            return True
        raise MappingFailed(f"unknown kind of change {kind!r}")

    def _maps_or(self, row: Any) -> tuple[str, ...]:
        try:
            return self.maps_of(row["kind"])
        except MappingFailed:
            return (row["map"],)

    # --- admin -----------------------------------------------------------------------------------

    async def set_state(self, conn: asyncpg.Connection, name: str, state: str) -> None:
        if name not in self.sync.maps:
            raise ValueError(f"no map named {name!r}; maps: {', '.join(self.sync.maps)}")
        await repo.set_map_state(conn, name, state)

    async def resume_step(self, conn: asyncpg.Connection, outbox_for: Any, batch: int = 200) -> int:
        """Replay up to `batch` queued changes of Resuming maps, in order; a map whose queue is
        empty becomes Running. Returns how many changes were replayed.

        With several replicas, one replays at a time (a transaction-scoped advisory lock; the
        others return 0 and look again later): the row locks on the queue alone would keep the
        replay exactly-once and in order, but two replicas walking the Resuming maps in
        different orders could deadlock on them."""
        if not await repo.take_resume_turn(conn):
            return 0
        replayed = 0
        for name in [n for n, s in (await self.states(conn)).items() if s == RESUMING]:
            rows = await repo.queued_changes(conn, name, batch)
            for row in rows:
                await self.process(conn, outbox_for(conn, f"replay:{row['seq']}"), row["kind"], row["payload"],
                                   frozenset({name}))
                await repo.drop_queued_change(conn, row["seq"])
                replayed += 1
            if not rows:
                # Lock the state row so no change is queued behind our back while we switch.
                await repo.lock_map(conn, name)
                if not await repo.has_queued_changes(conn, name):
                    await self.set_state(conn, name, RUNNING)
                    log.info("adapter.map_resumed", map=name)
        return replayed

    async def retry(self, conn: asyncpg.Connection, outbox: Outbox, error_id: int) -> str | None:
        """Run a logged change again; None on success, else the new reason."""
        row = await repo.open_error(conn, error_id)
        if row is None:
            raise ValueError(f"no open error {error_id}")
        # an SCM event failed in one map (the one logged); everything else through its maps
        maps = frozenset({row["map"]}) if row["kind"].startswith(SCM) else frozenset(self._maps_or(row))
        try:
            async with conn.transaction():
                await self._apply(conn, outbox, row["kind"], row["payload"], maps)
        except (MappingFailed, ValidationError) as exc:
            reason = describe_validation_error(exc) if isinstance(exc, ValidationError) else str(exc)
            await repo.error_failed_again(conn, error_id, reason)
            return reason
        await repo.error_resolved(conn, error_id)
        return None
