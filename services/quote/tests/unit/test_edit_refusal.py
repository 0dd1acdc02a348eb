"""Who may change header data and lines, and when (DOMAIN.md §1, §2; codes and texts §5).

- Revised, lost, cancelled and confirmed quotations are read-only in SCM (§1).
- The non-owner may edit while SCM status is `created`; once `sent` (or closed) it may change
  nothing (§2). An SCM edit the status forbids answers `quote.read-only` whoever owns the
  quotation; `quote.owned-by-sales` answers lifecycle commands only, never a data edit (§2).
  The effective owner is Origin when Ownership is BasedOnOrigin, else the named system (§1).
  SCM, as owner, edits while created or sent.
- A Sales change is refused with one Sales notification (§2, §5): not the owner and Active →
  `quote.read-only-not-owned-by-sales`; not the owner and closed → `quote.not-owned-by-sales`;
  the owner (or nobody owns, feature off) and not Draft → `quote.not-draft`.
- Lifecycle integration feature off: no ownership restrictions apply (§2).

The expectation is written out by `expected_refusal` from these rules, and again as literal
rows in `HAND_WRITTEN`, which check the rule function as much as the code. Codes and texts are
spelled out literally (DOMAIN.md §5), not imported from domain.py.
"""

import itertools

import pytest

from quote_service.domain import Features, Quotation, edit_refusal

SCM = "SCM"
SALES = "Dynamics365Sales"
BASED_ON_ORIGIN = "BasedOnOrigin"

STATUSES = ("created", "sent", "confirmed", "lost", "cancelled", "revised")
CLOSED = ("confirmed", "lost", "cancelled", "revised")

READ_ONLY = ("quote.read-only", "This quotation is read-only in its current status")
OWNED_BY_SALES = ("quote.owned-by-sales", "This quotation is owned by Dynamics 365 Sales")
NOT_OWNED_BY_SALES = ("quote.not-owned-by-sales", "This quote is not owned by Dynamics 365 Sales")
READ_ONLY_NOT_OWNED = ("quote.read-only-not-owned-by-sales",
                       "Read-only This record's status: Active\nThis quote is not owned by Dynamics 365 Sales")
NOT_DRAFT = ("quote.not-draft", "Only a draft quote can be activated, edited or deleted")

# Every (origin, ownership) pair, by the effective owner it gives (DOMAIN §1).
OWNED_BY = {
    SCM: ((SCM, BASED_ON_ORIGIN), (SCM, SCM), (SALES, SCM)),
    SALES: ((SALES, BASED_ON_ORIGIN), (SALES, SALES), (SCM, SALES)),
}


def quote(status: str, origin: str, ownership: str) -> Quotation:
    return Quotation(number="F-000007", status=status, origin=origin, ownership=ownership, customer="US-001",
                     currency="USD")


def effective_owner(origin: str, ownership: str) -> str:
    return origin if ownership == BASED_ON_ORIGIN else ownership


def expected_refusal(issuer: str, owner: str, status: str, lifecycle: bool) -> tuple[str, str] | None:
    ownership_applies = lifecycle
    if issuer == "scm":
        if status in CLOSED:
            return READ_ONLY
        if ownership_applies and owner == SALES and status != "created":
            return READ_ONLY
        return None
    if status == "created":
        return None
    if ownership_applies and owner != SALES:
        return READ_ONLY_NOT_OWNED if status == "sent" else NOT_OWNED_BY_SALES
    return NOT_DRAFT


def _owner_label(owner: str) -> str:
    return "Sales" if owner == SALES else "SCM"


MATRIX = [
    pytest.param(
        issuer, status, origin, ownership, lifecycle, expected_refusal(issuer, owner, status, lifecycle),
        id=f"{issuer}-{status}-owner={_owner_label(owner)}(origin={origin},ownership={ownership})"
           f"-lifecycle={'on' if lifecycle else 'off'}",
    )
    for issuer, status, owner, lifecycle in itertools.product(("scm", "sales"), STATUSES, (SCM, SALES), (True, False))
    for origin, ownership in OWNED_BY[owner]
]


@pytest.mark.parametrize(("issuer", "status", "origin", "ownership", "lifecycle", "expected"), MATRIX)
def test_edit_refusal_matrix(issuer: str, status: str, origin: str, ownership: str, lifecycle: bool,
                             expected: tuple[str, str] | None) -> None:
    assert quote(status, origin, ownership).effective_owner == effective_owner(origin, ownership)
    features = Features(lifecycle_integration=lifecycle)

    assert edit_refusal(quote(status, origin, ownership), issuer, features) == expected


# (issuer, status, origin, ownership, lifecycle on?) -> refusal, written out by hand.
HAND_WRITTEN = [
    # SCM as owner edits while created and sent, never once closed.
    ("scm", "created", SCM, BASED_ON_ORIGIN, True, None),
    ("scm", "sent", SCM, BASED_ON_ORIGIN, True, None),
    ("scm", "confirmed", SCM, BASED_ON_ORIGIN, True, READ_ONLY),
    ("scm", "lost", SCM, SCM, True, READ_ONLY),
    ("scm", "cancelled", SALES, SCM, True, READ_ONLY),
    ("scm", "revised", SCM, BASED_ON_ORIGIN, True, READ_ONLY),
    # SCM as non-owner: only while created.
    ("scm", "created", SALES, BASED_ON_ORIGIN, True, None),
    ("scm", "created", SCM, SALES, True, None),
    ("scm", "sent", SALES, BASED_ON_ORIGIN, True, READ_ONLY),
    ("scm", "sent", SCM, SALES, True, READ_ONLY),
    ("scm", "sent", SALES, SALES, True, READ_ONLY),
    ("scm", "confirmed", SALES, BASED_ON_ORIGIN, True, READ_ONLY),
    ("scm", "revised", SALES, SALES, True, READ_ONLY),
    # Feature off: no ownership restriction for SCM; closed is still read-only.
    ("scm", "sent", SALES, BASED_ON_ORIGIN, False, None),
    ("scm", "sent", SCM, SALES, False, None),
    ("scm", "lost", SALES, BASED_ON_ORIGIN, False, READ_ONLY),
    ("scm", "created", SCM, BASED_ON_ORIGIN, False, None),
    # Sales: a draft may be edited whoever owns it.
    ("sales", "created", SALES, BASED_ON_ORIGIN, True, None),
    ("sales", "created", SCM, BASED_ON_ORIGIN, True, None),
    ("sales", "created", SALES, SCM, True, None),
    ("sales", "created", SCM, BASED_ON_ORIGIN, False, None),
    # Sales as non-owner of a quote that is no longer a draft.
    ("sales", "sent", SCM, BASED_ON_ORIGIN, True, READ_ONLY_NOT_OWNED),
    ("sales", "sent", SALES, SCM, True, READ_ONLY_NOT_OWNED),
    ("sales", "confirmed", SCM, BASED_ON_ORIGIN, True, NOT_OWNED_BY_SALES),
    ("sales", "lost", SCM, SCM, True, NOT_OWNED_BY_SALES),
    ("sales", "cancelled", SALES, SCM, True, NOT_OWNED_BY_SALES),
    ("sales", "revised", SCM, BASED_ON_ORIGIN, True, NOT_OWNED_BY_SALES),
    # Sales as owner: only a draft can be edited.
    ("sales", "sent", SALES, BASED_ON_ORIGIN, True, NOT_DRAFT),
    ("sales", "sent", SCM, SALES, True, NOT_DRAFT),
    ("sales", "confirmed", SALES, BASED_ON_ORIGIN, True, NOT_DRAFT),
    ("sales", "revised", SALES, SALES, True, NOT_DRAFT),
    # Feature off: no ownership message, only the draft rule.
    ("sales", "sent", SCM, BASED_ON_ORIGIN, False, NOT_DRAFT),
    ("sales", "lost", SCM, BASED_ON_ORIGIN, False, NOT_DRAFT),
    ("sales", "sent", SALES, BASED_ON_ORIGIN, False, NOT_DRAFT),
]


@pytest.mark.parametrize(
    ("issuer", "status", "origin", "ownership", "lifecycle", "expected"),
    [pytest.param(*row, id=f"{row[0]}-{row[1]}-origin={row[2]}-ownership={row[3]}"
                          f"-lifecycle={'on' if row[4] else 'off'}")
     for row in HAND_WRITTEN],
)
def test_edit_refusal_hand_written(issuer: str, status: str, origin: str, ownership: str, lifecycle: bool,
                                   expected: tuple[str, str] | None) -> None:
    assert expected_refusal(issuer, effective_owner(origin, ownership), status, lifecycle) == expected
    assert edit_refusal(quote(status, origin, ownership), issuer, Features(lifecycle_integration=lifecycle)) \
        == expected


@pytest.mark.parametrize(
    "features",
    [
        pytest.param(Features(use_message_processor=True), id="message-processor-on"),
        pytest.param(Features(default_ownership=SALES), id="default-ownership-sales"),
        pytest.param(Features(default_ownership_feature=False), id="default-ownership-feature-off"),
    ],
)
@pytest.mark.parametrize(
    ("issuer", "status", "origin", "ownership", "expected"),
    [
        pytest.param("scm", "sent", SALES, BASED_ON_ORIGIN, READ_ONLY, id="scm-sent-sales-owned"),
        pytest.param("sales", "sent", SCM, BASED_ON_ORIGIN, READ_ONLY_NOT_OWNED, id="sales-sent-scm-owned"),
        pytest.param("scm", "sent", SCM, BASED_ON_ORIGIN, None, id="scm-sent-scm-owned"),
    ],
)
def test_edit_refusal_depends_only_on_the_lifecycle_feature(features: Features, issuer: str, status: str,
                                                             origin: str, ownership: str,
                                                             expected: tuple[str, str] | None) -> None:
    # Default ownership applies to new quotes only; the processor only to journals.
    assert edit_refusal(quote(status, origin, ownership), issuer, features) == expected


@pytest.mark.parametrize(("issuer", "status", "origin", "ownership", "lifecycle", "expected"),
                         [p for p in MATRIX if p.values[0] == "scm"])
def test_an_scm_data_edit_never_answers_an_ownership_code(issuer: str, status: str, origin: str, ownership: str,
                                                          lifecycle: bool, expected: tuple[str, str] | None) -> None:
    # DOMAIN §2: a refused SCM data edit carries quote.read-only whoever owns the quotation;
    # quote.owned-by-sales answers lifecycle commands (the ownership service's) only.
    refusal = edit_refusal(quote(status, origin, ownership), issuer, Features(lifecycle_integration=lifecycle))
    assert refusal in (None, READ_ONLY)
    assert refusal != OWNED_BY_SALES
