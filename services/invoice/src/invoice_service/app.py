"""The invoice service process: invoices, their lines and numbers, and the money invoiced
per order line (docs/orders-and-invoices.md "The invoice service")."""

from pathlib import Path

from q2c_contracts.scm import FeatureStateEvent, ScmCommand
from q2c_contracts.topics import ORDER_INVOICING_DECISIONS, SCM_FEATURE_EVENTS, SCM_INVOICE_COMMANDS
from q2c_messaging.consumer import Route
from q2c_messaging.runtime import ServiceRuntime

from .service import SERVICE, InvoiceService, parse_decision

MIGRATIONS = Path(__file__).parent / "migrations"


def build() -> ServiceRuntime:
    runtime = ServiceRuntime(SERVICE, MIGRATIONS)
    service = InvoiceService()
    runtime.route(Route(topic=SCM_INVOICE_COMMANDS, parse=ScmCommand.model_validate,
                        message_id=lambda c: c.command_id, handle=service.on_command))
    runtime.route(Route(topic=ORDER_INVOICING_DECISIONS, parse=parse_decision,
                        message_id=lambda m: m.envelope.message_id, handle=service.on_decision,
                        correlation_id=lambda m: m.envelope.correlation_id))
    runtime.route(Route(topic=SCM_FEATURE_EVENTS, parse=FeatureStateEvent.model_validate,
                        message_id=lambda e: e.event_id, handle=service.on_feature))
    return runtime
