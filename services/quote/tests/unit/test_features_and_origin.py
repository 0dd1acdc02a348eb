"""The quote service's copy of features and parameters (DOMAIN.md §3), origin and ownership of
a new quotation (DOMAIN.md §1, §2, §3) and SCM quotation numbers (DOMAIN.md §4).

Feature and parameter names, defaults and values are spelled out literally from DOMAIN.md §3.
"""

import itertools
from dataclasses import asdict
from typing import Any

import pytest

from quote_service.domain import Features, format_number, origin_and_ownership

SCM = "SCM"
SALES = "Dynamics365Sales"
BASED_ON_ORIGIN = "BasedOnOrigin"
OWNERSHIPS = (BASED_ON_ORIGIN, SCM, SALES)

# DOMAIN.md §3: setting name -> (Features attribute, default, a non-default value).
SETTINGS: dict[str, tuple[str, Any, Any]] = {
    "IntegrateQuotationLifecycle": ("lifecycle_integration", True, False),
    "DefaultQuotationOwnership": ("default_ownership_feature", True, False),
    "UseMessageProcessor": ("use_message_processor", False, True),
    "DefaultOwnership": ("default_ownership", BASED_ON_ORIGIN, SALES),
    "CreateQuotationJournalInBatch": ("quotation_journal_in_batch", True, False),
    "CreateConfirmationJournalInBatch": ("confirmation_journal_in_batch", True, False),
    "MessageProcessorRunning": ("processor_running", True, False),
    "ScmQuotationNumberPrefix": ("number_prefix", "F-", "Q-"),
    "DefaultSite": ("default_site", "1", "2"),
    "DefaultWarehouse": ("default_warehouse", "11", "21"),
}


# --- Features ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attr", "default"),
    [pytest.param(attr, default, id=f"{name}={default!r}") for name, (attr, default, _) in SETTINGS.items()],
)
def test_features_defaults_are_the_domain_defaults(attr: str, default: Any) -> None:
    assert getattr(Features(), attr) == default


def test_features_has_exactly_the_settings_the_quote_service_uses() -> None:
    assert set(asdict(Features())) == {attr for attr, _, _ in SETTINGS.values()}


@pytest.mark.parametrize(
    ("name", "attr", "value"),
    [pytest.param(name, attr, value, id=f"{name}={value!r}") for name, (attr, _, value) in SETTINGS.items()],
)
def test_from_settings_maps_each_domain_name(name: str, attr: str, value: Any) -> None:
    features = Features.from_settings({name: value})

    assert getattr(features, attr) == value
    # Every other setting keeps its default.
    others = {a: v for a, v in asdict(features).items() if a != attr}
    assert others == {a: v for a, v in asdict(Features()).items() if a != attr}


def test_from_settings_maps_all_names_at_once() -> None:
    features = Features.from_settings({name: value for name, (_, _, value) in SETTINGS.items()})

    assert asdict(features) == {attr: value for attr, _, value in SETTINGS.values()}


@pytest.mark.parametrize(
    "values",
    [
        pytest.param({}, id="nothing"),
        pytest.param({"PriceMaster": True}, id="feature-not-used-by-quote"),
        pytest.param({"CopyQuotationDataToSalesOrders": False}, id="other-feature-not-used-by-quote"),
        pytest.param({"ScmSalesOrderNumberPrefix": "X-SO-"}, id="parameter-not-used-by-quote"),
        pytest.param({"SomethingNew": 42}, id="unknown-name"),
        pytest.param({"lifecycle_integration": False}, id="attribute-name-is-not-a-setting-name"),
    ],
)
def test_from_settings_ignores_unknown_names(values: dict[str, Any]) -> None:
    assert Features.from_settings(values) == Features()


def test_from_settings_ignores_unknown_names_next_to_known_ones() -> None:
    features = Features.from_settings({"UseMessageProcessor": True, "PriceMaster": True, "Whatever": "x"})

    assert features == Features(use_message_processor=True)


# --- origin and ownership of a new quotation ----------------------------------------------------


def _expected_origin_and_ownership(issuer: str, lifecycle: bool, default_feature: bool, default: str) -> tuple:
    if not lifecycle:
        # DOMAIN §2: feature off => every quotation has Origin SCM and Ownership BasedOnOrigin.
        return SCM, BASED_ON_ORIGIN
    origin = SCM if issuer == "scm" else SALES  # DOMAIN §1: the creating system
    ownership = default if default_feature else BASED_ON_ORIGIN  # DOMAIN §3
    return origin, ownership


ORIGIN_CASES = [
    pytest.param(
        issuer, lifecycle, default_feature, default,
        _expected_origin_and_ownership(issuer, lifecycle, default_feature, default),
        id=f"issuer={issuer}-lifecycle={'on' if lifecycle else 'off'}"
           f"-defaultownershipfeature={'on' if default_feature else 'off'}-DefaultOwnership={default}",
    )
    for issuer, lifecycle, default_feature, default in itertools.product(
        ("scm", "sales"), (True, False), (True, False), OWNERSHIPS)
]


@pytest.mark.parametrize(("issuer", "lifecycle", "default_feature", "default", "expected"), ORIGIN_CASES)
def test_origin_and_ownership(issuer: str, lifecycle: bool, default_feature: bool, default: str,
                              expected: tuple[str, str]) -> None:
    features = Features(lifecycle_integration=lifecycle, default_ownership_feature=default_feature,
                        default_ownership=default)

    assert origin_and_ownership(issuer, features) == expected


@pytest.mark.parametrize(
    ("issuer", "features", "expected"),
    [
        pytest.param("scm", Features(), (SCM, BASED_ON_ORIGIN), id="scm-defaults"),
        pytest.param("sales", Features(), (SALES, BASED_ON_ORIGIN), id="sales-defaults"),
        pytest.param("sales", Features(lifecycle_integration=False), (SCM, BASED_ON_ORIGIN),
                     id="sales-lifecycle-off-is-scm-origin"),
        pytest.param("sales", Features(lifecycle_integration=False, default_ownership=SALES),
                     (SCM, BASED_ON_ORIGIN), id="sales-lifecycle-off-ignores-default-ownership"),
        pytest.param("scm", Features(default_ownership=SALES), (SCM, SALES), id="scm-default-ownership-sales"),
        pytest.param("sales", Features(default_ownership=SCM), (SALES, SCM), id="sales-default-ownership-scm"),
        pytest.param("scm", Features(default_ownership_feature=False, default_ownership=SALES),
                     (SCM, BASED_ON_ORIGIN), id="scm-default-ownership-feature-off"),
    ],
)
def test_origin_and_ownership_hand_written(issuer: str, features: Features, expected: tuple[str, str]) -> None:
    assert origin_and_ownership(issuer, features) == expected


# --- numbers -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prefix", "value", "expected"),
    [
        pytest.param("F-", 7, "F-000007", id="contract-example"),
        pytest.param("F-", 1, "F-000001", id="first"),
        pytest.param("F-", 123456, "F-123456", id="six-digits"),
        pytest.param("F-", 1234567, "F-1234567", id="more-than-six-digits-not-truncated"),
        pytest.param("Q-", 42, "Q-000042", id="other-prefix"),
    ],
)
def test_format_number(prefix: str, value: int, expected: str) -> None:
    assert format_number(prefix, value) == expected


def test_features_default_to_the_catalog() -> None:
    # Features() is what the service assumes before it has heard any scm.feature.events value.
    from q2c_contracts.features import DEFAULTS

    assert Features() == Features.from_settings(DEFAULTS)
