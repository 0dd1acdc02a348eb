"""The rules of `feature.set` and `parameter.set` (DOMAIN.md §3, CONTRACT.md §4)."""

from typing import Any

import pytest

from feature_state_service.domain import (
    COMMAND_INVALID,
    Accepted,
    Rejected,
    Setting,
    decide,
    defaults,
)
from q2c_contracts.features import FEATURES, PARAMETERS

# DOMAIN.md §3, written out literally so a silent change to the defaults fails here.
EXPECTED_DEFAULTS: dict[tuple[str, str], bool | str] = {
    ("IntegrateQuotationLifecycle", "feature"): True,
    ("DefaultQuotationOwnership", "feature"): True,
    ("UseMessageProcessor", "feature"): False,
    ("PriceMaster", "feature"): False,
    ("CopyQuotationDataToSalesOrders", "feature"): True,
    ("DefaultOwnership", "parameter"): "BasedOnOrigin",
    ("CreateQuotationJournalInBatch", "parameter"): True,
    ("CreateConfirmationJournalInBatch", "parameter"): True,
    ("MessageProcessorRunning", "parameter"): True,
    ("ScmQuotationNumberPrefix", "parameter"): "F-",
    ("ScmSalesOrderNumberPrefix", "parameter"): "F-SO-",
    ("ScmInvoiceNumberPrefix", "parameter"): "F-INV-",
    ("DefaultSite", "parameter"): "1",
    ("DefaultWarehouse", "parameter"): "11",
}

FLAG_PARAMETERS = [n for n, spec in PARAMETERS.items() if spec.is_flag]
FREE_TEXT_PARAMETERS = [
    n for n, spec in PARAMETERS.items() if not spec.is_flag and not spec.choices
]


def _valid_parameter_values() -> list[tuple[str, bool | str]]:
    cases: list[tuple[str, bool | str]] = []
    for name in FLAG_PARAMETERS:
        cases += [(name, True), (name, False)]
    for name in FREE_TEXT_PARAMETERS:
        cases.append((name, "X-42"))
    for ownership in ("BasedOnOrigin", "SCM", "Dynamics365Sales"):
        cases.append(("DefaultOwnership", ownership))
    return cases


@pytest.mark.parametrize("enabled", [True, False])
@pytest.mark.parametrize("feature", list(FEATURES))
def test_feature_set_accepts_every_feature_on_and_off(feature: str, enabled: bool) -> None:
    decision = decide("feature.set", {"feature": feature, "enabled": enabled})

    assert decision == Accepted(Setting(feature, "feature", enabled))


@pytest.mark.parametrize(("name", "value"), _valid_parameter_values())
def test_parameter_set_accepts_a_valid_value_of_the_parameters_type(
    name: str, value: bool | str
) -> None:
    decision = decide("parameter.set", {"name": name, "value": value})

    assert decision == Accepted(Setting(name, "parameter", value))


def test_valid_parameter_cases_cover_every_parameter() -> None:
    assert {name for name, _ in _valid_parameter_values()} == set(PARAMETERS)


def test_accepted_value_keeps_its_type() -> None:
    # A flag stays a bool, text stays text: the event carries the typed value.
    flag = decide("parameter.set", {"name": "MessageProcessorRunning", "value": False})
    text = decide("parameter.set", {"name": "DefaultSite", "value": "2"})

    assert isinstance(flag, Accepted) and flag.setting.value is False
    assert isinstance(text, Accepted) and text.setting.value == "2"


def test_unknown_fields_in_data_are_ignored() -> None:
    decision = decide("feature.set", {"feature": "PriceMaster", "enabled": True, "note": "x"})

    assert decision == Accepted(Setting("PriceMaster", "feature", True))


@pytest.mark.parametrize(
    ("command_type", "data", "fragments"),
    [
        pytest.param(
            "feature.toggle", {"feature": "PriceMaster", "enabled": True},
            ["'feature.toggle'", "feature.set", "parameter.set"], id="unknown-command-type",
        ),
        pytest.param("", {}, ["Unknown command type", "feature.set"], id="empty-command-type"),
        pytest.param("feature.set", {"enabled": True}, ["data.feature", "required"],
                     id="feature-missing"),
        pytest.param("feature.set", {"feature": "", "enabled": True},
                     ["data.feature", "required"], id="feature-empty"),
        pytest.param("feature.set", {"feature": 7, "enabled": True},
                     ["data.feature", "required"], id="feature-not-text"),
        pytest.param(
            "feature.set", {"feature": "Teleport", "enabled": True},
            ["'Teleport'", *FEATURES], id="feature-unknown-lists-known",
        ),
        pytest.param(
            "feature.set", {"feature": "usemessageprocessor", "enabled": True},
            ["'usemessageprocessor'", "did you mean UseMessageProcessor"], id="feature-case",
        ),
        pytest.param("feature.set", {"feature": "PriceMaster", "enabled": "true"},
                     ["data.enabled", "PriceMaster", '"true"', "text"], id="enabled-string"),
        pytest.param("feature.set", {"feature": "PriceMaster", "enabled": 1},
                     ["data.enabled", "PriceMaster", "1", "number"], id="enabled-number"),
        pytest.param("feature.set", {"feature": "PriceMaster", "enabled": None},
                     ["data.enabled", "PriceMaster", "nothing"], id="enabled-null"),
        pytest.param("feature.set", {"feature": "PriceMaster"},
                     ["data.enabled", "PriceMaster", "nothing"], id="enabled-missing"),
        pytest.param("parameter.set", {"value": "1"}, ["data.name", "required"],
                     id="parameter-name-missing"),
        pytest.param(
            "parameter.set", {"name": "DefaultColour", "value": "red"},
            ["'DefaultColour'", *PARAMETERS], id="parameter-unknown-lists-known",
        ),
        pytest.param(
            "parameter.set", {"name": "defaultsite", "value": "1"},
            ["did you mean DefaultSite"], id="parameter-case",
        ),
        pytest.param("parameter.set", {"name": "DefaultSite"},
                     ["data.value", "required", "DefaultSite"], id="parameter-value-missing"),
        pytest.param(
            "parameter.set", {"name": "CreateQuotationJournalInBatch", "value": "yes"},
            ["CreateQuotationJournalInBatch", "true or false", '"yes"'], id="flag-given-text",
        ),
        pytest.param(
            "parameter.set", {"name": "MessageProcessorRunning", "value": None},
            ["MessageProcessorRunning", "true or false", "nothing"], id="flag-given-null",
        ),
        pytest.param("parameter.set", {"name": "DefaultSite", "value": 1},
                     ["DefaultSite", "non-empty text", "number"], id="text-given-number"),
        pytest.param("parameter.set", {"name": "DefaultWarehouse", "value": ""},
                     ["DefaultWarehouse", "non-empty text"], id="text-given-empty"),
        pytest.param("parameter.set", {"name": "ScmQuotationNumberPrefix", "value": "   "},
                     ["ScmQuotationNumberPrefix", "non-empty text"], id="text-given-blank"),
        pytest.param("parameter.set", {"name": "DefaultSite", "value": True},
                     ["DefaultSite", "non-empty text", "boolean"], id="text-given-bool"),
        pytest.param(
            "parameter.set", {"name": "DefaultOwnership", "value": "Sales"},
            ["DefaultOwnership", "BasedOnOrigin", "SCM", "Dynamics365Sales", '"Sales"'],
            id="ownership-not-a-choice",
        ),
        pytest.param(
            "parameter.set", {"name": "DefaultOwnership", "value": "scm"},
            ["DefaultOwnership", '"scm"'], id="ownership-case",
        ),
    ],
)
def test_invalid_commands_are_rejected_with_a_text_naming_the_problem(
    command_type: str, data: dict[str, Any], fragments: list[str]
) -> None:
    decision = decide(command_type, data)

    assert isinstance(decision, Rejected)
    assert decision.code == COMMAND_INVALID == "command.invalid"
    missing = [f for f in fragments if f not in decision.text]
    assert not missing, f"{decision.text!r} lacks {missing}"


def test_case_mismatch_suggests_instead_of_listing() -> None:
    decision = decide("feature.set", {"feature": "PRICEMASTER", "enabled": True})

    assert isinstance(decision, Rejected)
    assert decision.text.endswith("did you mean PriceMaster?")
    assert "known features" not in decision.text


def test_defaults_hold_exactly_the_features_and_parameters_of_the_domain() -> None:
    settings = defaults()

    assert {(s.name, s.kind): s.value for s in settings} == EXPECTED_DEFAULTS
    assert len(settings) == len(EXPECTED_DEFAULTS) == 14
    assert sum(s.kind == "feature" for s in settings) == 5
    assert sum(s.kind == "parameter" for s in settings) == 9


@pytest.mark.parametrize("setting", defaults(), ids=lambda s: s.name)
def test_every_default_is_itself_an_acceptable_value(setting: Setting) -> None:
    if setting.kind == "feature":
        decision = decide("feature.set", {"feature": setting.name, "enabled": setting.value})
    else:
        decision = decide("parameter.set", {"name": setting.name, "value": setting.value})

    assert decision == Accepted(setting)


@pytest.mark.parametrize("setting", defaults(), ids=lambda s: s.name)
def test_every_default_value_has_the_json_type_of_its_kind(setting: Setting) -> None:
    expected = bool if setting.kind == "feature" or PARAMETERS[setting.name].is_flag else str
    assert type(setting.value) is expected
