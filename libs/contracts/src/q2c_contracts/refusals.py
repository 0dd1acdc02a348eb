"""Refusal codes and texts that travel on the topics (DOMAIN.md §5, and the project's own
in docs/decisions.md). They are message content, like option values, so they live with the
contracts; which rule refuses what stays in the services."""

CodeText = tuple[str, str]

# SCM command results (scm.command.results).
OWNED_BY_SALES: CodeText = ("quote.owned-by-sales", "This quotation is owned by Dynamics 365 Sales")
READ_ONLY: CodeText = ("quote.read-only", "This quotation is read-only in its current status")
MISSING_PRIVILEGE: CodeText = ("ownership.missing-privilege",
                               "You need the privilege ChangeDefaultedSalesQuotationOwnership")
NUMBER_COLLISION: CodeText = ("number.collision", "A document with this number already exists")
INVALID_TRANSITION = "quote.invalid-transition"  # text: "The quotation cannot be <action> from status <status>"
NOT_FOUND = "quote.not-found"  # text: "Quotation <number> does not exist"
COMMAND_INVALID = "command.invalid"  # text: what is wrong with the command

# Sales notifications (dataverse.notifications, and the quote service's answers to Sales).
NOT_OWNED_BY_SALES: CodeText = ("quote.not-owned-by-sales", "This quote is not owned by Dynamics 365 Sales")
READ_ONLY_NOT_OWNED_BY_SALES: CodeText = (
    "quote.read-only-not-owned-by-sales",
    "Read-only This record's status: Active\nThis quote is not owned by Dynamics 365 Sales")
NOT_ACTIVE: CodeText = ("quote.not-active", "Only an active quote can be closed or turned into an order")
NOT_DRAFT: CodeText = ("quote.not-draft", "Only a draft quote can be activated, edited or deleted")
FEATURE_STATE_SCM_IS_MASTER: CodeText = ("feature-state.scm-is-master",
                                         "Feature states are maintained in Supply Chain Management")

# Orders and invoices (contract v2). SCM results:
ORDER_NOT_FOUND = "order.not-found"  # text: "Sales order <number> does not exist"
ORDER_INVALID_TRANSITION = "order.invalid-transition"  # "The order cannot be <action> in processing status <status>"
ORDER_QUANTITY_EXCEEDED = "order.quantity-exceeded"  # "Line <sequence>: <quantity> exceeds the remaining <remaining>"
# Sales notifications:
ORDER_READ_ONLY: CodeText = ("order.read-only", "This order can no longer be changed in Sales")
ORDER_STATUS_IN_SCM: CodeText = ("order.status-in-scm", "Order status is maintained in Supply Chain Management")
INVOICE_SCM_ONLY: CodeText = ("invoice.scm-only",
                              "Invoices are created in Supply Chain Management and cannot be changed in Sales")

# Ours, where DOMAIN.md is silent (docs/decisions.md).
LIFECYCLE_NOT_INTEGRATED: CodeText = (
    "quote.lifecycle-not-integrated",
    "Quotation lifecycle integration is off: Sales lifecycle changes do not reach Supply Chain Management")


def not_found_text(number: str | None) -> str:
    return f"Quotation {number} does not exist"


def invalid_transition_text(participle: str, status: str) -> str:
    return f"The quotation cannot be {participle} from status {status}"


def order_not_found_text(number: str | None) -> str:
    return f"Sales order {number} does not exist"


def order_invalid_transition_text(participle: str, status: str) -> str:
    return f"The order cannot be {participle} in processing status {status}"


def quantity_exceeded_text(sequence: int, quantity: str, remaining: str) -> str:
    return f"Line {sequence}: {quantity} exceeds the remaining {remaining}"
