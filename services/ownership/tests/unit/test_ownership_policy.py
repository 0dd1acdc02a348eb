"""The ownership policy (DOMAIN.md §1, §2, §5): who may run a quotation through which step.

The expected outcomes come from `expected_outcome` below, written from DOMAIN.md and not from
policy.py; the hand-written rows in `IMPORTANT_CASES` check that function as much as the code.
Codes and texts are spelled out literally (DOMAIN.md §5) rather than imported, so a silent
change to a constant in policy.py fails here.
"""

import itertools
import re
from dataclasses import dataclass, replace

import pytest

from ownership_service.policy import Case, Verdict, decide
from q2c_contracts.vocabulary import effective_owner

# --- The vocabulary (DOMAIN.md §1, §2) ---------------------------------------------------------

SCM = "SCM"
SALES = "Dynamics365Sales"
BASED_ON_ORIGIN = "BasedOnOrigin"
PRIVILEGE = "ChangeDefaultedSalesQuotationOwnership"

ORIGINS = (SCM, SALES)
OWNERSHIPS = (BASED_ON_ORIGIN, SCM, SALES)
ISSUERS = ("scm", "sales")
STATUSES = ("created", "sent", "confirmed", "lost", "cancelled", "revised")
ACTIONS = ("send", "confirm", "lose", "cancel", "revise", "delete", "change-ownership")
FEATURE_STATES = (True, False)
PRIVILEGE_STATES = (True, False)

# --- Codes and texts (DOMAIN.md §5) -------------------------------------------------------------

# An expected text is either the exact string or a regular expression the text must match
# (where DOMAIN.md fixes the code but not the words, e.g. `command.invalid`).
Text = str | re.Pattern[str]
ANY_TEXT = re.compile(r"\S")


@dataclass(frozen=True)
class Outcome:
    code: str | None = None  # None: approved
    text: Text | None = None

    @property
    def approved(self) -> bool:
        return self.code is None


APPROVED = Outcome()
OWNED_BY_SALES = Outcome("quote.owned-by-sales", "This quotation is owned by Dynamics 365 Sales")
MISSING_PRIVILEGE = Outcome(
    "ownership.missing-privilege", "You need the privilege ChangeDefaultedSalesQuotationOwnership"
)
NOT_OWNED_BY_SALES = Outcome("quote.not-owned-by-sales", "This quote is not owned by Dynamics 365 Sales")
READ_ONLY_NOT_OWNED_BY_SALES = Outcome(
    "quote.read-only-not-owned-by-sales",
    "Read-only This record's status: Active\nThis quote is not owned by Dynamics 365 Sales",
)
NOT_ACTIVE = Outcome("quote.not-active", "Only an active quote can be closed or turned into an order")
NOT_DRAFT = Outcome("quote.not-draft", "Only a draft quote can be activated, edited or deleted")
COMMAND_INVALID = Outcome("command.invalid", ANY_TEXT)
# A project decision where DOMAIN.md is silent: the code is fixed, the text must say that
# lifecycle integration is off.
LIFECYCLE_OFF = Outcome(
    "quote.lifecycle-not-integrated",
    re.compile(r"(lifecycle integration|IntegrateQuotationLifecycle).*\boff\b", re.IGNORECASE | re.DOTALL),
)

# "The quotation cannot be <action> from status <status>", the action as a participle.
PARTICIPLES = {
    "send": "sent",
    "confirm": "confirmed",
    "lose": "lost",
    "cancel": "cancelled",
    "delete": "deleted",
    "revise": "revised",
    "change-ownership": "given a new owner",
}


def invalid_transition(action: str, status: str) -> Outcome:
    return Outcome("quote.invalid-transition", f"The quotation cannot be {PARTICIPLES[action]} from status {status}")


# --- The rules, written from DOMAIN.md ---------------------------------------------------------

# §2 "Native SCM transitions for an SCM-owned quotation": (action, from status) pairs that are
# allowed. Revise is not among them.
SCM_NATIVE_ALLOWED = {
    ("send", "created"),
    ("confirm", "created"),
    ("confirm", "sent"),
    ("lose", "sent"),
    ("cancel", "sent"),
    ("delete", "created"),
}
# §2 "Sales-side rules for a Sales-owned quote": activate and delete from Draft (= SCM created);
# close (lost, canceled, revised) and create order from Active (= SCM sent).
SALES_FROM_DRAFT = {"send", "delete"}
SALES_FROM_ACTIVE = {"confirm", "lose", "cancel", "revise"}
# §2 "Change ownership": SCM status created or sent.
CHANGE_OWNERSHIP_FROM = {"created", "sent"}


def owner_of(origin: str, ownership: str) -> str:
    """§1: effective owner = Origin when Ownership is BasedOnOrigin, else the named system."""
    if ownership == BASED_ON_ORIGIN:
        return origin
    return ownership


def native_scm(action: str, status: str) -> Outcome:
    return APPROVED if (action, status) in SCM_NATIVE_ALLOWED else invalid_transition(action, status)


def change_ownership(
    issuer: str, status: str, feature_on: bool, privileged: bool, new_ownership: str | None
) -> Outcome:
    if issuer != "scm":  # "from SCM only"
        return COMMAND_INVALID
    if not feature_on:  # project decision: there is no ownership to change with the feature off
        return COMMAND_INVALID
    if new_ownership not in OWNERSHIPS:
        return COMMAND_INVALID
    if not privileged:
        return MISSING_PRIVILEGE
    if status not in CHANGE_OWNERSHIP_FROM:
        return invalid_transition("change-ownership", status)
    return APPROVED  # whoever the effective owner is


def sales_on_sales_owned(action: str, status: str) -> Outcome:
    if action in SALES_FROM_DRAFT:
        return APPROVED if status == "created" else NOT_DRAFT
    return APPROVED if status == "sent" else NOT_ACTIVE


def sales_on_scm_owned(status: str) -> Outcome:
    # §2: read-only variant when the quote is Active (SCM sent); the plain one otherwise
    # (Draft per DOMAIN.md; closed states are not named there and get the plain one too).
    return READ_ONLY_NOT_OWNED_BY_SALES if status == "sent" else NOT_OWNED_BY_SALES


def expected_outcome(
    *,
    origin: str,
    ownership: str,
    issuer: str,
    status: str,
    action: str,
    feature_on: bool,
    privileged: bool,
    new_ownership: str | None = SCM,
) -> Outcome:
    if action not in ACTIONS:
        return COMMAND_INVALID
    if action == "change-ownership":
        return change_ownership(issuer, status, feature_on, privileged, new_ownership)
    if not feature_on:
        # §2: no ownership restrictions; Sales lifecycle changes do not reach SCM status.
        return LIFECYCLE_OFF if issuer == "sales" else native_scm(action, status)
    owner = owner_of(origin, ownership)
    if issuer == "scm":
        # §2: only the effective owner may run a quotation through its lifecycle.
        return native_scm(action, status) if owner == SCM else OWNED_BY_SALES
    return sales_on_sales_owned(action, status) if owner == SALES else sales_on_scm_owned(status)


# --- Helpers -----------------------------------------------------------------------------------

def make_case(
    *,
    origin: str,
    ownership: str,
    issuer: str,
    status: str,
    action: str,
    feature_on: bool,
    privileged: bool,
    new_ownership: str | None = SCM,
) -> Case:
    return Case(
        action=action,
        issuer=issuer,
        status=status,
        origin=origin,
        ownership=ownership,
        lifecycle_integration=feature_on,
        privileges=frozenset({PRIVILEGE}) if privileged else frozenset(),
        new_ownership=new_ownership if action == "change-ownership" else None,
    )


def assert_verdict(verdict: Verdict, expected: Outcome) -> None:
    assert isinstance(verdict, Verdict)
    if expected.approved:
        assert (verdict.approved, verdict.code, verdict.text) == (True, None, None)
        return
    assert verdict.approved is False
    assert verdict.code == expected.code, verdict
    assert isinstance(verdict.text, str) and verdict.text.strip(), verdict
    if isinstance(expected.text, re.Pattern):
        assert expected.text.search(verdict.text), verdict
    else:
        assert verdict.text == expected.text


def owner_label(origin: str, ownership: str) -> str:
    short = {SCM: "scm", SALES: "sales", BASED_ON_ORIGIN: "origin"}
    return f"{short[owner_of(origin, ownership)]}-owned[{short[origin]}+{short[ownership]}]"


# --- The whole matrix --------------------------------------------------------------------------

MATRIX = [
    dict(
        origin=origin,
        ownership=ownership,
        issuer=issuer,
        status=status,
        action=action,
        feature_on=feature_on,
        privileged=privileged,
    )
    for origin, ownership, issuer, status, action, feature_on, privileged in itertools.product(
        ORIGINS, OWNERSHIPS, ISSUERS, STATUSES, ACTIONS, FEATURE_STATES, PRIVILEGE_STATES
    )
]


def matrix_id(row: dict) -> str:
    return "/".join(
        (
            owner_label(row["origin"], row["ownership"]),
            row["issuer"],
            row["status"],
            row["action"],
            "feature-on" if row["feature_on"] else "feature-off",
            "privileged" if row["privileged"] else "unprivileged",
        )
    )


def test_matrix_covers_every_combination_and_decides_each_without_exception():
    assert len(MATRIX) == 2 * 3 * 2 * 6 * 7 * 2 * 2 == 2016
    assert len({tuple(row.values()) for row in MATRIX}) == 2016
    owners = [owner_of(row["origin"], row["ownership"]) for row in MATRIX]
    assert owners.count(SCM) == owners.count(SALES) == 1008
    verdicts = [decide(make_case(**row)) for row in MATRIX]
    assert all(isinstance(v, Verdict) for v in verdicts)


@pytest.mark.parametrize("row", MATRIX, ids=matrix_id)
def test_decision_follows_the_domain_rules(row):
    assert_verdict(decide(make_case(**row)), expected_outcome(**row))


# --- Hand-written rows: the important cases, also checking expected_outcome itself ----------------

SCM_BY_ORIGIN = dict(origin=SCM, ownership=BASED_ON_ORIGIN)
SCM_NAMED = dict(origin=SALES, ownership=SCM)  # Sales-created quote handed to SCM
SALES_BY_ORIGIN = dict(origin=SALES, ownership=BASED_ON_ORIGIN)
SALES_NAMED = dict(origin=SCM, ownership=SALES)  # SCM-created quote handed to Sales
ON = dict(feature_on=True)
OFF = dict(feature_on=False)
PRIV = dict(privileged=True)
NOPRIV = dict(privileged=False)


def row(owner, issuer, status, action, feature=ON, privilege=NOPRIV, **extra):
    return dict(**owner, issuer=issuer, status=status, action=action, **feature, **privilege, **extra)


def cannot(participle: str, status: str) -> Outcome:
    return Outcome("quote.invalid-transition", f"The quotation cannot be {participle} from status {status}")


IMPORTANT_CASES = [
    # Feature on, SCM issues, SCM owns: native transitions.
    ("scm-owned/scm/created/send", row(SCM_BY_ORIGIN, "scm", "created", "send"), APPROVED),
    ("scm-owned/scm/sent/send", row(SCM_BY_ORIGIN, "scm", "sent", "send"), cannot("sent", "sent")),
    ("scm-owned/scm/created/confirm", row(SCM_BY_ORIGIN, "scm", "created", "confirm"), APPROVED),
    ("scm-owned/scm/sent/confirm", row(SCM_NAMED, "scm", "sent", "confirm"), APPROVED),
    ("scm-owned/scm/confirmed/confirm", row(SCM_BY_ORIGIN, "scm", "confirmed", "confirm"),
     cannot("confirmed", "confirmed")),
    ("scm-owned/scm/created/lose", row(SCM_BY_ORIGIN, "scm", "created", "lose"), cannot("lost", "created")),
    ("scm-owned/scm/sent/lose", row(SCM_BY_ORIGIN, "scm", "sent", "lose"), APPROVED),
    ("scm-owned/scm/sent/cancel", row(SCM_NAMED, "scm", "sent", "cancel"), APPROVED),
    ("scm-owned/scm/created/cancel", row(SCM_BY_ORIGIN, "scm", "created", "cancel"),
     cannot("cancelled", "created")),
    ("scm-owned/scm/lost/cancel", row(SCM_BY_ORIGIN, "scm", "lost", "cancel"), cannot("cancelled", "lost")),
    ("scm-owned/scm/created/delete", row(SCM_BY_ORIGIN, "scm", "created", "delete"), APPROVED),
    ("scm-owned/scm/sent/delete", row(SCM_BY_ORIGIN, "scm", "sent", "delete"), cannot("deleted", "sent")),
    ("scm-owned/scm/created/revise", row(SCM_BY_ORIGIN, "scm", "created", "revise"),
     cannot("revised", "created")),
    ("scm-owned/scm/sent/revise", row(SCM_NAMED, "scm", "sent", "revise"), cannot("revised", "sent")),
    # Feature on, SCM issues, Sales owns: every lifecycle step refused.
    ("sales-owned/scm/created/send", row(SALES_BY_ORIGIN, "scm", "created", "send"), OWNED_BY_SALES),
    ("sales-owned/scm/sent/confirm", row(SALES_NAMED, "scm", "sent", "confirm"), OWNED_BY_SALES),
    ("sales-owned/scm/sent/lose", row(SALES_BY_ORIGIN, "scm", "sent", "lose"), OWNED_BY_SALES),
    ("sales-owned/scm/created/delete", row(SALES_NAMED, "scm", "created", "delete"), OWNED_BY_SALES),
    ("sales-owned/scm/confirmed/revise", row(SALES_BY_ORIGIN, "scm", "confirmed", "revise"), OWNED_BY_SALES),
    ("sales-owned/scm/sent/cancel/privileged", row(SALES_BY_ORIGIN, "scm", "sent", "cancel", privilege=PRIV),
     OWNED_BY_SALES),
    # Feature on, Sales issues, SCM owns: refused, read-only variant when Active (sent).
    ("scm-owned/sales/created/send", row(SCM_BY_ORIGIN, "sales", "created", "send"), NOT_OWNED_BY_SALES),
    ("scm-owned/sales/created/delete", row(SCM_NAMED, "sales", "created", "delete"), NOT_OWNED_BY_SALES),
    ("scm-owned/sales/sent/confirm", row(SCM_BY_ORIGIN, "sales", "sent", "confirm"),
     READ_ONLY_NOT_OWNED_BY_SALES),
    ("scm-owned/sales/sent/lose", row(SCM_NAMED, "sales", "sent", "lose"),
     Outcome("quote.read-only-not-owned-by-sales",
             "Read-only This record's status: Active\nThis quote is not owned by Dynamics 365 Sales")),
    ("scm-owned/sales/confirmed/revise", row(SCM_BY_ORIGIN, "sales", "confirmed", "revise"), NOT_OWNED_BY_SALES),
    # Feature on, Sales issues, Sales owns: the owner's own order of steps.
    ("sales-owned/sales/created/send", row(SALES_BY_ORIGIN, "sales", "created", "send"), APPROVED),
    ("sales-owned/sales/sent/send", row(SALES_BY_ORIGIN, "sales", "sent", "send"), NOT_DRAFT),
    ("sales-owned/sales/created/delete", row(SALES_NAMED, "sales", "created", "delete"), APPROVED),
    ("sales-owned/sales/sent/delete", row(SALES_BY_ORIGIN, "sales", "sent", "delete"), NOT_DRAFT),
    ("sales-owned/sales/sent/confirm", row(SALES_BY_ORIGIN, "sales", "sent", "confirm"), APPROVED),
    ("sales-owned/sales/created/confirm", row(SALES_NAMED, "sales", "created", "confirm"), NOT_ACTIVE),
    ("sales-owned/sales/sent/revise", row(SALES_BY_ORIGIN, "sales", "sent", "revise"), APPROVED),
    ("sales-owned/sales/created/revise", row(SALES_BY_ORIGIN, "sales", "created", "revise"), NOT_ACTIVE),
    ("sales-owned/sales/sent/lose", row(SALES_NAMED, "sales", "sent", "lose"), APPROVED),
    ("sales-owned/sales/created/lose", row(SALES_BY_ORIGIN, "sales", "created", "lose"), NOT_ACTIVE),
    ("sales-owned/sales/lost/cancel", row(SALES_BY_ORIGIN, "sales", "lost", "cancel"), NOT_ACTIVE),
    ("sales-owned/sales/confirmed/delete", row(SALES_BY_ORIGIN, "sales", "confirmed", "delete"), NOT_DRAFT),
    # Change ownership.
    ("sales-owned/scm/created/change-ownership", row(SALES_BY_ORIGIN, "scm", "created", "change-ownership",
                                                     privilege=PRIV, new_ownership=SCM), APPROVED),
    ("scm-owned/scm/sent/change-ownership", row(SCM_BY_ORIGIN, "scm", "sent", "change-ownership",
                                                privilege=PRIV, new_ownership=SALES), APPROVED),
    ("sales-owned/scm/sent/change-ownership/to-origin", row(SALES_NAMED, "scm", "sent", "change-ownership",
                                                             privilege=PRIV, new_ownership=BASED_ON_ORIGIN),
     APPROVED),
    ("scm-owned/scm/created/change-ownership/unprivileged", row(SCM_BY_ORIGIN, "scm", "created",
                                                                "change-ownership", new_ownership=SALES),
     Outcome("ownership.missing-privilege", "You need the privilege ChangeDefaultedSalesQuotationOwnership")),
    ("scm-owned/scm/confirmed/change-ownership", row(SCM_BY_ORIGIN, "scm", "confirmed", "change-ownership",
                                                     privilege=PRIV, new_ownership=SALES),
     cannot("given a new owner", "confirmed")),
    ("sales-owned/scm/revised/change-ownership", row(SALES_BY_ORIGIN, "scm", "revised", "change-ownership",
                                                     privilege=PRIV, new_ownership=SCM),
     cannot("given a new owner", "revised")),
    ("scm-owned/scm/lost/change-ownership/unprivileged", row(SCM_BY_ORIGIN, "scm", "lost", "change-ownership",
                                                             new_ownership=SALES), MISSING_PRIVILEGE),
    ("sales-owned/sales/created/change-ownership", row(SALES_BY_ORIGIN, "sales", "created", "change-ownership",
                                                       privilege=PRIV, new_ownership=SCM), COMMAND_INVALID),
    ("sales-owned/sales/sent/change-ownership/unprivileged", row(SALES_BY_ORIGIN, "sales", "sent",
                                                                 "change-ownership", new_ownership=SCM),
     COMMAND_INVALID),
    ("scm-owned/scm/created/change-ownership/feature-off", row(SCM_BY_ORIGIN, "scm", "created",
                                                               "change-ownership", feature=OFF, privilege=PRIV,
                                                               new_ownership=SALES), COMMAND_INVALID),
    ("scm-owned/scm/created/change-ownership/no-new-ownership", row(SCM_BY_ORIGIN, "scm", "created",
                                                                    "change-ownership", privilege=PRIV,
                                                                    new_ownership=None), COMMAND_INVALID),
    # Feature off: no ownership restrictions for SCM; Sales lifecycle changes refused.
    ("feature-off/scm-owned/scm/created/send", row(SCM_BY_ORIGIN, "scm", "created", "send", feature=OFF),
     APPROVED),
    ("feature-off/sales-owned/scm/created/send", row(SALES_BY_ORIGIN, "scm", "created", "send", feature=OFF),
     APPROVED),
    ("feature-off/sales-owned/scm/sent/lose", row(SALES_NAMED, "scm", "sent", "lose", feature=OFF), APPROVED),
    ("feature-off/sales-owned/scm/sent/delete", row(SALES_BY_ORIGIN, "scm", "sent", "delete", feature=OFF),
     cannot("deleted", "sent")),
    ("feature-off/scm-owned/scm/sent/revise", row(SCM_BY_ORIGIN, "scm", "sent", "revise", feature=OFF),
     cannot("revised", "sent")),
    ("feature-off/sales-owned/sales/created/send", row(SALES_BY_ORIGIN, "sales", "created", "send", feature=OFF),
     LIFECYCLE_OFF),
    ("feature-off/scm-owned/sales/sent/confirm", row(SCM_BY_ORIGIN, "sales", "sent", "confirm", feature=OFF),
     LIFECYCLE_OFF),
]
IMPORTANT_IDS = [case_id for case_id, _, _ in IMPORTANT_CASES]


def test_important_case_ids_are_unique():
    assert len(IMPORTANT_IDS) == len(set(IMPORTANT_IDS))


@pytest.mark.parametrize(("fields", "expected"), [c[1:] for c in IMPORTANT_CASES], ids=IMPORTANT_IDS)
def test_important_case_is_decided_as_domain_says(fields, expected):
    assert_verdict(decide(make_case(**fields)), expected)


@pytest.mark.parametrize(("fields", "expected"), [c[1:] for c in IMPORTANT_CASES], ids=IMPORTANT_IDS)
def test_expectation_function_agrees_with_hand_written_row(fields, expected):
    assert expected_outcome(**fields) == expected


# --- effective_owner (DOMAIN.md §1) -----------------------------------------------------------

@pytest.mark.parametrize(
    ("origin", "ownership", "owner"),
    [
        (SCM, BASED_ON_ORIGIN, SCM),
        (SCM, SCM, SCM),
        (SCM, SALES, SALES),
        (SALES, BASED_ON_ORIGIN, SALES),
        (SALES, SCM, SCM),
        (SALES, SALES, SALES),
    ],
    ids=lambda v: {SCM: "scm", SALES: "sales", BASED_ON_ORIGIN: "based-on-origin"}[v],
)
def test_effective_owner_is_origin_when_based_on_origin_else_the_named_system(origin, ownership, owner):
    assert effective_owner(origin, ownership) == owner
    assert owner_of(origin, ownership) == owner


# --- Cross-cutting properties over the matrix ----------------------------------------------------

def test_every_approval_has_no_code_and_no_text_and_every_rejection_has_both():
    for fields in MATRIX:
        verdict = decide(make_case(**fields))
        if verdict.approved:
            assert verdict.code is None and verdict.text is None, (fields, verdict)
        else:
            assert isinstance(verdict.code, str) and verdict.code.strip(), (fields, verdict)
            assert isinstance(verdict.text, str) and verdict.text.strip(), (fields, verdict)


NON_OWNERSHIP_ROWS = [r for r in MATRIX if r["action"] != "change-ownership" and r["privileged"]]


@pytest.mark.parametrize("fields", NON_OWNERSHIP_ROWS, ids=lambda r: matrix_id(r).removesuffix("/privileged"))
def test_privilege_does_not_matter_for_actions_other_than_change_ownership(fields):
    with_privilege = decide(make_case(**fields))
    without_privilege = decide(make_case(**{**fields, "privileged": False}))
    assert with_privilege == without_privilege


@pytest.mark.parametrize("fields", NON_OWNERSHIP_ROWS, ids=lambda r: matrix_id(r).removesuffix("/privileged"))
def test_new_ownership_does_not_matter_for_actions_other_than_change_ownership(fields):
    case = make_case(**fields)
    baseline = decide(case)
    for new_ownership in (*OWNERSHIPS, "nonsense"):
        assert decide(replace(case, new_ownership=new_ownership)) == baseline


@pytest.mark.parametrize(("origin", "ownership"), list(itertools.product(ORIGINS, OWNERSHIPS)),
                         ids=lambda v: {SCM: "scm", SALES: "sales", BASED_ON_ORIGIN: "based-on-origin"}[v])
@pytest.mark.parametrize("status", ["created", "sent"])
def test_privilege_decides_change_ownership_whoever_the_owner_is(origin, ownership, status):
    fields = dict(origin=origin, ownership=ownership, issuer="scm", status=status, action="change-ownership",
                  feature_on=True)
    assert_verdict(decide(make_case(**fields, privileged=True)), APPROVED)
    assert_verdict(decide(make_case(**fields, privileged=False)), MISSING_PRIVILEGE)


@pytest.mark.parametrize(
    "privileges",
    [
        frozenset(),
        frozenset({"changedefaultedsalesquotationownership"}),
        frozenset({"Change defaulted sales quotation ownership"}),
        frozenset({"MaintainSalesQuotationOwnership", "SalesManager"}),
    ],
    ids=["none", "wrong-case", "label-not-name", "unrelated"],
)
def test_change_ownership_needs_exactly_the_named_privilege(privileges):
    case = Case(action="change-ownership", issuer="scm", status="created", origin=SCM, ownership=BASED_ON_ORIGIN,
                privileges=privileges, new_ownership=SALES)
    assert_verdict(decide(case), MISSING_PRIVILEGE)
    with_it = replace(case, privileges=privileges | {PRIVILEGE})
    assert_verdict(decide(with_it), APPROVED)


@pytest.mark.parametrize("new_ownership", OWNERSHIPS)
def test_change_ownership_accepts_each_ownership_value(new_ownership):
    case = Case(action="change-ownership", issuer="scm", status="sent", origin=SALES, ownership=BASED_ON_ORIGIN,
                privileges=frozenset({PRIVILEGE}), new_ownership=new_ownership)
    assert_verdict(decide(case), APPROVED)


@pytest.mark.parametrize(
    "new_ownership",
    [None, "", "scm", "sales", "Sales", "basedonorigin", "Based on origin", "Dynamics 365 Sales", " SCM"],
    ids=repr,
)
@pytest.mark.parametrize("privileged", [True, False], ids=["privileged", "unprivileged"])
def test_change_ownership_without_a_valid_new_ownership_is_an_invalid_command(new_ownership, privileged):
    case = make_case(origin=SCM, ownership=BASED_ON_ORIGIN, issuer="scm", status="created",
                     action="change-ownership", feature_on=True, privileged=privileged, new_ownership=new_ownership)
    assert_verdict(decide(case), COMMAND_INVALID)


@pytest.mark.parametrize("action", ["", "win", "activate", "close", "Send", "quote.send", "change_ownership", "edit"],
                         ids=repr)
@pytest.mark.parametrize("issuer", ISSUERS)
@pytest.mark.parametrize("feature_on", FEATURE_STATES, ids=["feature-on", "feature-off"])
def test_unknown_action_is_an_invalid_command(action, issuer, feature_on):
    case = make_case(origin=SALES, ownership=BASED_ON_ORIGIN, issuer=issuer, status="created", action=action,
                     feature_on=feature_on, privileged=True)
    assert expected_outcome(origin=SALES, ownership=BASED_ON_ORIGIN, issuer=issuer, status="created", action=action,
                            feature_on=feature_on, privileged=True) == COMMAND_INVALID
    assert_verdict(decide(case), COMMAND_INVALID)


@pytest.mark.parametrize("action", [a for a in ACTIONS if a != "change-ownership"])
def test_lifecycle_off_refusal_text_says_that_lifecycle_integration_is_off(action):
    verdict = decide(make_case(origin=SCM, ownership=BASED_ON_ORIGIN, issuer="sales", status="created",
                               action=action, feature_on=False, privileged=False))
    assert verdict.code == "quote.lifecycle-not-integrated"
    assert LIFECYCLE_OFF.text.search(verdict.text)


def test_decide_is_pure():
    for fields in MATRIX[::37]:
        case = make_case(**fields)
        assert decide(case) == decide(make_case(**fields))
        assert case == make_case(**fields)  # the case was not changed
