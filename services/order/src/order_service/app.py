"""The order service process: sales orders, their lines and quantities, the SCM sales-order
number sequence and the order side of invoicing (docs/orders-and-invoices.md)."""

from pathlib import Path

from q2c_contracts.order import InvoicingRequest, SalesOrderCommand
from q2c_contracts.quote import QuoteEvent
from q2c_contracts.scm import FeatureStateEvent, ScmCommand
from q2c_contracts.topics import (
    ORDER_INVOICING_REQUESTS,
    ORDER_SALES_COMMANDS,
    SCM_FEATURE_EVENTS,
    SCM_ORDER_COMMANDS,
    SCM_QUOTE_EVENTS,
)
from q2c_messaging.consumer import ChunkHooks, Route, envelope_route
from q2c_messaging.runtime import ServiceRuntime

from .service import SERVICE, OrderService, QuotationCopies

MIGRATIONS = Path(__file__).parent / "migrations"


def build() -> ServiceRuntime:
    runtime = ServiceRuntime(SERVICE, MIGRATIONS)
    service = OrderService()
    runtime.route(Route(topic=SCM_ORDER_COMMANDS, parse=ScmCommand.model_validate,
                        message_id=lambda c: c.command_id, handle=service.on_scm_command))
    runtime.route(envelope_route(ORDER_SALES_COMMANDS, {"order.sales-command": SalesOrderCommand},
                                 service.on_sales_command))
    runtime.route(envelope_route(ORDER_INVOICING_REQUESTS, {"order.invoicing-request": InvoicingRequest},
                                 service.on_invoicing_request))
    # the quotation copies of a chunk's quote events go in one statement (docs/orders-and-invoices.md)
    runtime.route(Route(topic=SCM_QUOTE_EVENTS, parse=QuoteEvent.model_validate,
                        message_id=lambda e: e.event_id, handle=service.on_quote_event,
                        chunk=ChunkHooks(QuotationCopies.start, QuotationCopies.end)))
    runtime.route(Route(topic=SCM_FEATURE_EVENTS, parse=FeatureStateEvent.model_validate,
                        message_id=lambda e: e.event_id, handle=service.on_feature))
    return runtime
