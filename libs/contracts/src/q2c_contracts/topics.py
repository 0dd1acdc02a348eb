"""Topic names. The catalog (deploy/kafka/topics.yaml) declares each one's partitions,
compaction and writers; a unit test keeps these constants and the catalog in step."""

# External contract (CONTRACT.md); fixed names.
SCM_FEATURE_COMMANDS = "scm.feature.commands"
SCM_FEATURE_EVENTS = "scm.feature.events"
SCM_QUOTE_COMMANDS = "scm.quote.commands"
SCM_QUOTE_EVENTS = "scm.quote.events"
SCM_PROCESSOR_EVENTS = "scm.processor.events"
SCM_COMMAND_RESULTS = "scm.command.results"
SCM_ORDER_COMMANDS = "scm.order.commands"
SCM_ORDER_EVENTS = "scm.order.events"
SCM_INVOICE_COMMANDS = "scm.invoice.commands"
SCM_INVOICE_EVENTS = "scm.invoice.events"

DLQ_SUFFIX = ".dlq"


def dead_letter_topic(topic: str) -> str:
    return topic + DLQ_SUFFIX

# Internal topics (docs/quote-lifecycle.md): <owner>.<stream>.
QUOTE_SALES_COMMANDS = "quote.sales-commands"
QUOTE_SALES_RESULTS = "quote.sales-results"
OWNERSHIP_REQUESTS = "ownership.requests"
OWNERSHIP_DECISIONS = "ownership.decisions"
# docs/orders-and-invoices.md
ORDER_SALES_COMMANDS = "order.sales-commands"
ORDER_SALES_RESULTS = "order.sales-results"
ORDER_INVOICING_REQUESTS = "order.invoicing-requests"
ORDER_INVOICING_DECISIONS = "order.invoicing-decisions"
