"""The ownership policy of quote-to-cash dual-write (DOMAIN.md §2): who may run a quotation
through which step of its lifecycle. Pure: the decision depends only on its arguments."""

from dataclasses import dataclass, field

from q2c_contracts import refusals
from q2c_contracts.vocabulary import OWNERSHIPS, SALES, effective_owner

CHANGE_OWNERSHIP_PRIVILEGE = "ChangeDefaultedSalesQuotationOwnership"

# Native SCM transitions (DOMAIN.md §2): the statuses each action may start from.
SCM_FROM = {
    "send": {"created"},
    "confirm": {"created", "sent"},
    "lose": {"sent"},
    "cancel": {"sent"},
    "delete": {"created"},
    "change-ownership": {"created", "sent"},
}
# Sales-side rules for a Sales-owned quote: activate and delete from Draft (created); every
# other step (close, create order) from Active (sent).
SALES_FROM_DRAFT = {"send", "delete"}

# How the refusal text names an action ("The quotation cannot be <action> from status <s>").
PARTICIPLE = {
    "send": "sent", "confirm": "confirmed", "lose": "lost", "cancel": "cancelled", "delete": "deleted",
    "revise": "revised", "change-ownership": "given a new owner",
}


@dataclass(frozen=True)
class Verdict:
    approved: bool
    code: str | None = None
    text: str | None = None

    @classmethod
    def reject(cls, code_and_text: tuple[str, str]) -> "Verdict":
        return cls(False, *code_and_text)


APPROVE = Verdict(True)


@dataclass(frozen=True)
class Case:
    """What a decision is made on: the action, who asks, and the quotation as it is."""

    action: str
    issuer: str  # "scm" | "sales"
    status: str
    origin: str
    ownership: str
    lifecycle_integration: bool = True
    privileges: frozenset[str] = field(default_factory=frozenset)
    new_ownership: str | None = None  # for change-ownership


def decide(case: Case) -> Verdict:
    if case.action not in PARTICIPLE:
        return Verdict(False, refusals.COMMAND_INVALID, f"Unknown lifecycle action {case.action!r}")
    if case.action == "change-ownership":
        return _change_ownership(case)
    if not case.lifecycle_integration:
        # No ownership restrictions; Sales lifecycle changes do not reach SCM status.
        if case.issuer == "sales":
            return Verdict.reject(refusals.LIFECYCLE_NOT_INTEGRATED)
        return _native(case)
    owner = effective_owner(case.origin, case.ownership)
    if case.issuer == "scm":
        return Verdict.reject(refusals.OWNED_BY_SALES) if owner == SALES else _native(case)
    if owner != SALES:
        sent = case.status == "sent"  # Sales shows it Active
        return Verdict.reject(refusals.READ_ONLY_NOT_OWNED_BY_SALES if sent else refusals.NOT_OWNED_BY_SALES)
    return _sales_owned_by_sales(case)


def _native(case: Case) -> Verdict:
    if case.action == "revise" or case.status not in SCM_FROM[case.action]:
        return _invalid_transition(case)
    return APPROVE


def _sales_owned_by_sales(case: Case) -> Verdict:
    if case.action in SALES_FROM_DRAFT:
        return APPROVE if case.status == "created" else Verdict.reject(refusals.NOT_DRAFT)
    return APPROVE if case.status == "sent" else Verdict.reject(refusals.NOT_ACTIVE)


def _change_ownership(case: Case) -> Verdict:
    if case.issuer != "scm":
        return Verdict(False, refusals.COMMAND_INVALID, "Ownership can only be changed in Supply Chain Management")
    if not case.lifecycle_integration:
        return Verdict(False, refusals.COMMAND_INVALID,
                       "Ownership can only be changed while IntegrateQuotationLifecycle is on")
    if case.new_ownership not in OWNERSHIPS:
        return Verdict(False, refusals.COMMAND_INVALID,
                       f"data.ownership must be one of {', '.join(OWNERSHIPS)}, got {case.new_ownership!r}")
    if CHANGE_OWNERSHIP_PRIVILEGE not in case.privileges:
        return Verdict.reject(refusals.MISSING_PRIVILEGE)
    # SCM status created or sent is exactly Sales state Draft or Active (DOMAIN.md §1).
    if case.status not in SCM_FROM["change-ownership"]:
        return _invalid_transition(case)
    return APPROVE


def _invalid_transition(case: Case) -> Verdict:
    text = refusals.invalid_transition_text(PARTICIPLE[case.action], case.status)
    return Verdict(False, refusals.INVALID_TRANSITION, text)
