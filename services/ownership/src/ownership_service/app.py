"""The ownership service process: approves or rejects lifecycle commands (DOMAIN.md §2)."""

from pathlib import Path

from q2c_contracts.ownership import OwnershipRequest
from q2c_contracts.quote import QuoteEvent
from q2c_contracts.scm import FeatureStateEvent
from q2c_contracts.topics import OWNERSHIP_REQUESTS, SCM_FEATURE_EVENTS, SCM_QUOTE_EVENTS
from q2c_messaging.consumer import Route, envelope_route
from q2c_messaging.runtime import ServiceRuntime

from .service import SERVICE, logs_a_change, on_feature, on_quote_event, on_request

MIGRATIONS = Path(__file__).parent / "migrations"


def build() -> ServiceRuntime:
    runtime = ServiceRuntime(SERVICE, MIGRATIONS)
    runtime.route(envelope_route(OWNERSHIP_REQUESTS, {"ownership.decide": OwnershipRequest}, on_request))
    runtime.route(Route(topic=SCM_FEATURE_EVENTS, parse=FeatureStateEvent.model_validate,
                        message_id=lambda e: e.event_id, handle=on_feature))
    runtime.route(Route(topic=SCM_QUOTE_EVENTS, parse=QuoteEvent.model_validate,
                        message_id=lambda e: e.event_id, handle=on_quote_event, wanted=logs_a_change))
    return runtime
