"""The ownership service process: approves or rejects lifecycle commands (DOMAIN.md §2)."""

from dataclasses import replace
from pathlib import Path

from q2c_contracts.ownership import OwnershipRequest
from q2c_contracts.quote import QuoteEvent
from q2c_contracts.scm import FeatureStateEvent
from q2c_contracts.topics import OWNERSHIP_REQUESTS, SCM_FEATURE_EVENTS, SCM_QUOTE_EVENTS
from q2c_messaging.consumer import ChunkHooks, Route, Typed, envelope_route
from q2c_messaging.runtime import ServiceRuntime
from q2c_persistence import Connection

from .repository import DecisionLog
from .service import SERVICE, logs_a_change, on_feature, on_quote_event, on_request

MIGRATIONS = Path(__file__).parent / "migrations"


def build() -> ServiceRuntime:
    runtime = ServiceRuntime(SERVICE, MIGRATIONS)
    async def start(_conn: Connection, _requests: list[Typed[OwnershipRequest]]) -> DecisionLog:
        return DecisionLog()

    async def end(conn: Connection, decisions: DecisionLog) -> None:
        await decisions.write(conn)

    # A chunk's decisions logged in one round trip at its end (`DecisionLog`)
    runtime.route(replace(envelope_route(OWNERSHIP_REQUESTS, {"ownership.decide": OwnershipRequest}, on_request),
                          chunk=ChunkHooks(start, end)))
    runtime.route(Route(topic=SCM_FEATURE_EVENTS, parse=FeatureStateEvent.model_validate,
                        message_id=lambda e: e.event_id, handle=on_feature))
    runtime.route(Route(topic=SCM_QUOTE_EVENTS, parse=QuoteEvent.model_validate,
                        message_id=lambda e: e.event_id, handle=on_quote_event, wanted=logs_a_change))
    return runtime
