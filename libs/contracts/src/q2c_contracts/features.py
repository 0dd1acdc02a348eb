"""The catalog of features and parameters (DOMAIN.md §3) with their defaults, as data: the
one place that says which names exist, what kind and type each is, and what a service
assumes until it has heard the feature-state service's value. Pure."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from .vocabulary import OWNERSHIPS

Kind = Literal["feature", "parameter"]
Value = bool | str

# Features (`feature.set`).
INTEGRATE_QUOTATION_LIFECYCLE = "IntegrateQuotationLifecycle"
DEFAULT_QUOTATION_OWNERSHIP = "DefaultQuotationOwnership"
USE_MESSAGE_PROCESSOR = "UseMessageProcessor"
PRICE_MASTER = "PriceMaster"
COPY_QUOTATION_DATA_TO_SALES_ORDERS = "CopyQuotationDataToSalesOrders"
# Parameters (`parameter.set`).
DEFAULT_OWNERSHIP = "DefaultOwnership"
CREATE_QUOTATION_JOURNAL_IN_BATCH = "CreateQuotationJournalInBatch"
CREATE_CONFIRMATION_JOURNAL_IN_BATCH = "CreateConfirmationJournalInBatch"
MESSAGE_PROCESSOR_RUNNING = "MessageProcessorRunning"
SCM_QUOTATION_NUMBER_PREFIX = "ScmQuotationNumberPrefix"
SCM_SALES_ORDER_NUMBER_PREFIX = "ScmSalesOrderNumberPrefix"
SCM_INVOICE_NUMBER_PREFIX = "ScmInvoiceNumberPrefix"
DEFAULT_SITE = "DefaultSite"
DEFAULT_WAREHOUSE = "DefaultWarehouse"


@dataclass(frozen=True)
class Spec:
    """One feature or parameter: its kind, its default (whose Python type is the value's type:
    bool for a feature or flag parameter, str for a text one) and, for an enumerated text
    parameter, its choices."""

    name: str
    kind: Kind
    default: Value
    choices: tuple[str, ...] = ()

    @property
    def is_flag(self) -> bool:
        return isinstance(self.default, bool)


CATALOG: tuple[Spec, ...] = (
    Spec(INTEGRATE_QUOTATION_LIFECYCLE, "feature", True),
    Spec(DEFAULT_QUOTATION_OWNERSHIP, "feature", True),
    Spec(USE_MESSAGE_PROCESSOR, "feature", False),
    Spec(PRICE_MASTER, "feature", False),
    Spec(COPY_QUOTATION_DATA_TO_SALES_ORDERS, "feature", True),
    Spec(DEFAULT_OWNERSHIP, "parameter", "BasedOnOrigin", OWNERSHIPS),
    Spec(CREATE_QUOTATION_JOURNAL_IN_BATCH, "parameter", True),
    Spec(CREATE_CONFIRMATION_JOURNAL_IN_BATCH, "parameter", True),
    Spec(MESSAGE_PROCESSOR_RUNNING, "parameter", True),
    Spec(SCM_QUOTATION_NUMBER_PREFIX, "parameter", "F-"),
    Spec(SCM_SALES_ORDER_NUMBER_PREFIX, "parameter", "F-SO-"),
    Spec(SCM_INVOICE_NUMBER_PREFIX, "parameter", "F-INV-"),
    Spec(DEFAULT_SITE, "parameter", "1"),
    Spec(DEFAULT_WAREHOUSE, "parameter", "11"),
)

FEATURES: dict[str, Spec] = {s.name: s for s in CATALOG if s.kind == "feature"}
PARAMETERS: dict[str, Spec] = {s.name: s for s in CATALOG if s.kind == "parameter"}
DEFAULTS: dict[str, Value] = {s.name: s.default for s in CATALOG}


def flag_default(name: str) -> bool:
    """The default of a feature or flag parameter, typed."""
    value = DEFAULTS[name]
    if not isinstance(value, bool):
        raise TypeError(f"{name} is not a flag")
    return value


def text_default(name: str) -> str:
    """The default of a text parameter, typed."""
    value = DEFAULTS[name]
    if not isinstance(value, str):
        raise TypeError(f"{name} is not a text parameter")
    return value


def with_defaults(heard: Mapping[str, Any]) -> dict[str, Any]:
    """Every feature and parameter: the values heard so far over the defaults."""
    return {**DEFAULTS, **heard}
