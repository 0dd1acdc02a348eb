"""The feature and parameter catalog (DOMAIN.md §3) and the ownership vocabulary (§1), the one
home of the defaults every service assumes until it has heard the feature-state service."""

import pytest

from q2c_contracts import features
from q2c_contracts.vocabulary import effective_owner

# DOMAIN.md §3, written out literally so a silent change to the catalog fails here.
DOMAIN_3: dict[str, tuple[str, bool | str]] = {
    "IntegrateQuotationLifecycle": ("feature", True),
    "DefaultQuotationOwnership": ("feature", True),
    "UseMessageProcessor": ("feature", False),
    "PriceMaster": ("feature", False),
    "CopyQuotationDataToSalesOrders": ("feature", True),
    "DefaultOwnership": ("parameter", "BasedOnOrigin"),
    "CreateQuotationJournalInBatch": ("parameter", True),
    "CreateConfirmationJournalInBatch": ("parameter", True),
    "MessageProcessorRunning": ("parameter", True),
    "ScmQuotationNumberPrefix": ("parameter", "F-"),
    "ScmSalesOrderNumberPrefix": ("parameter", "F-SO-"),
    "ScmInvoiceNumberPrefix": ("parameter", "F-INV-"),
    "DefaultSite": ("parameter", "1"),
    "DefaultWarehouse": ("parameter", "11"),
}


def test_the_catalog_is_domain_3() -> None:
    assert {s.name: (s.kind, s.default) for s in features.CATALOG} == DOMAIN_3
    assert len(features.CATALOG) == len(DOMAIN_3)  # no name twice


def test_default_ownership_takes_the_ownership_values() -> None:
    assert features.PARAMETERS["DefaultOwnership"].choices == ("BasedOnOrigin", "SCM", "Dynamics365Sales")


@pytest.mark.parametrize("name", [n for n, (_, d) in DOMAIN_3.items() if isinstance(d, bool)])
def test_flag_default(name: str) -> None:
    assert features.flag_default(name) is DOMAIN_3[name][1]
    with pytest.raises(TypeError):
        features.text_default(name)


@pytest.mark.parametrize("name", [n for n, (_, d) in DOMAIN_3.items() if isinstance(d, str)])
def test_text_default(name: str) -> None:
    assert features.text_default(name) == DOMAIN_3[name][1]
    with pytest.raises(TypeError):
        features.flag_default(name)


def test_heard_values_win_over_the_defaults() -> None:
    merged = features.with_defaults({"PriceMaster": True, "Unknown": 1})
    assert merged["PriceMaster"] is True
    assert merged["IntegrateQuotationLifecycle"] is True
    assert merged["Unknown"] == 1
    assert set(merged) == set(DOMAIN_3) | {"Unknown"}


@pytest.mark.parametrize(
    ("origin", "ownership", "owner"),
    [
        ("SCM", "BasedOnOrigin", "SCM"),
        ("SCM", "SCM", "SCM"),
        ("SCM", "Dynamics365Sales", "Dynamics365Sales"),
        ("Dynamics365Sales", "BasedOnOrigin", "Dynamics365Sales"),
        ("Dynamics365Sales", "SCM", "SCM"),
        ("Dynamics365Sales", "Dynamics365Sales", "Dynamics365Sales"),
    ],
)
def test_effective_owner(origin: str, ownership: str, owner: str) -> None:
    assert effective_owner(origin, ownership) == owner
