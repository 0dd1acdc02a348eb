"""Table maps as data (maps/*.yaml) and the code that interprets them.

A map declares everything about its table: the Dataverse table, its primary id, alternate
key and topics; the SCM entity, its key, the events that carry it and where in them; the
internal commands a Sales change becomes and the results that answer them; how Sales state
changes are treated (lifecycle steps or refusals); filters; constants; value maps; and the
columns with their direction, type and transform. The engine has no table-specific branch:
adding a table is a map (and, at most, a named transform).

Maps are parsed by pydantic models that forbid unknown keys, then checked against the
contract models and the Dataverse columns at start-up; a bad map stops the adapter with a
message naming the file, the map and the key."""

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

from q2c_contracts import features as catalog
from q2c_contracts import refusals
from q2c_contracts.invoice import InvoiceEvent, InvoiceLineSnapshot, InvoiceSnapshot
from q2c_contracts.order import OrderEvent, OrderLineSnapshot, OrderSnapshot, SalesOrderCommand, SalesOrderResult
from q2c_contracts.quote import (
    QuotationLineSnapshot,
    QuotationSnapshot,
    QuoteEvent,
    SalesQuoteCommand,
    SalesQuoteResult,
)
from q2c_contracts.scm import FeatureStateEvent

from . import dataverse, transforms

MAPS_DIR = Path(__file__).parent / "maps"

# The contract models a map may name (docs/contract.md §5, docs/orders-and-invoices.md).
EVENT_MODELS: dict[str, type[BaseModel]] = {
    "scm.quote.events": QuoteEvent, "scm.order.events": OrderEvent, "scm.invoice.events": InvoiceEvent,
    "scm.feature.events": FeatureStateEvent,
}
COMMAND_MODELS: dict[str, type[BaseModel]] = {"quote.sales-command": SalesQuoteCommand,
                                              "order.sales-command": SalesOrderCommand}
RESULT_MODELS: dict[str, type[BaseModel]] = {"quote.sales-result": SalesQuoteResult,
                                             "order.sales-result": SalesOrderResult}
# SCM entities: the fields of one mapped record. A line is the line plus its document's key.
def _line(line: type[BaseModel], document: type[BaseModel], key: str) -> dict[str, Any]:
    return {**line.model_fields, key: document.model_fields[key]}


ENTITIES: dict[str, dict[str, Any]] = {
    "quotation": QuotationSnapshot.model_fields,
    "quotation-line": _line(QuotationLineSnapshot, QuotationSnapshot, "SALESQUOTATIONNUMBER"),
    "order": OrderSnapshot.model_fields,
    "order-line": _line(OrderLineSnapshot, OrderSnapshot, "SALESORDERNUMBER"),
    "invoice": InvoiceSnapshot.model_fields,
    "invoice-line": _line(InvoiceLineSnapshot, InvoiceSnapshot, "INVOICENUMBER"),
    "feature": FeatureStateEvent.model_fields,
}
ENUM_OVERRIDES = {("feature", "value"): (True, False)}  # features only: parameters are not mapped
FEATURES = frozenset(catalog.FEATURES)  # a map's when_feature / unless_feature names one of these
# Codes a map may refuse a Sales change with, and their texts (DOMAIN.md §5).
REFUSALS: dict[str, str] = dict([refusals.ORDER_STATUS_IN_SCM, refusals.INVOICE_SCM_ONLY, refusals.ORDER_READ_ONLY,
                                 refusals.FEATURE_STATE_SCM_IS_MASTER])

Features = Mapping[str, Any]


class MapError(ValueError):
    """A table map that cannot be used; raised at start-up."""


class MappingFailed(ValueError):
    """A record that a map cannot translate (bad value); the change goes to the error log."""


def _names(value: Any) -> Any:
    """`column` or `[a, b]` in YAML → a tuple of names."""
    if value is None:
        return ()
    return tuple(value) if isinstance(value, list | tuple) else (value,)


Names = Annotated[tuple[str, ...], BeforeValidator(_names)]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Lookup(_Spec):
    """A Sales column taken from another Sales row the adapter mirrors, found by the SCM
    field's value as that row's alternate key (an invoice's owner = its order's owner)."""

    table: str
    column: str


class FieldMap(_Spec):
    sales: Names
    scm: Names
    direction: Literal["two-way", "to-sales", "to-scm"]
    command_field: Names = ()
    value_map: str | None = None
    transform: str | None = None
    type: Literal["money", "quantity"] | None = None
    when_feature: str | None = None
    unless_feature: str | None = None
    lookup: Lookup | None = None

    def active(self, features: Features) -> bool:
        if self.when_feature and not features.get(self.when_feature, False):
            return False
        return not (self.unless_feature and features.get(self.unless_feature, False))

    @property
    def to_sales(self) -> bool:
        return self.direction in ("two-way", "to-sales")

    @property
    def to_scm(self) -> bool:
        return self.direction in ("two-way", "to-scm")


class SalesSide(_Spec):
    table: str
    primary_id: str | None = None
    key: Names
    changes: str | None = None  # no topic: Sales never sends changes of this table
    writes: str


class Filter(_Spec):
    """A document passes when `field` equals `equals`, or (present: true) is set."""

    field: str
    equals: Any = None
    present: bool | None = None

    def passes(self, document: Mapping[str, Any]) -> bool:
        value = document.get(self.field)
        if self.present is not None:
            return (value not in (None, "")) == self.present
        return bool(value == self.equals)


class ScmSide(_Spec):
    entity: str
    events: str
    document: str | None = None  # the event field holding the document; None: the event itself
    rows: str | None = None  # the document's list of this map's rows (lines)
    key: Names
    deleted_event: str | None = None
    only_if: Filter | None = None  # evaluated on the document


class Commands(_Spec):
    topic: str
    envelope: str
    create: str
    update: str
    delete: str


class Results(_Spec):
    topic: str
    envelope: str
    document: str  # the result field that carries the authoritative document


class Step(_Spec):
    to: dict[str, int]
    command: str


class StateChanges(_Spec):
    """Sales columns that are not data: a change of them is a lifecycle step (`steps`) or is
    refused (`refuse`, with what a create may carry in `allowed_on_create`)."""

    columns: Names
    when_feature: str | None = None
    steps: tuple[Step, ...] = ()
    refuse: str | None = None
    allowed_on_create: dict[str, list[Any]] | None = None
    # The values the columns may take together (Sales' state/status-reason pairs); a change
    # to any other is refused with command.invalid. Empty: not checked.
    pairs: tuple[tuple[int, ...], ...] = ()


class TableMap(_Spec):
    name: str
    title: str
    initial_sync: int
    parent: str | None = None
    sales: SalesSide
    scm: ScmSide
    commands: Commands | None = None
    results: Results | None = None
    state_changes: StateChanges | None = None
    refuse_sales_changes: str | None = None
    constants: dict[str, Any] = {}
    fields: tuple[FieldMap, ...]
    value_maps: dict[str, dict[Any, Any]] = {}

    # --- the shape of keys and records ------------------------------------------------------

    @property
    def sales_table(self) -> str:
        return self.sales.table

    @property
    def sales_keys(self) -> tuple[str, ...]:
        return self.sales.key

    @property
    def written_columns(self) -> frozenset[str]:
        """Every Sales column a write of this map may carry: the key, the mapped columns, constants."""
        return frozenset({*self.sales.key, *(c for f in self.fields for c in f.sales), *self.constants})

    def alternate_key(self, record: Mapping[str, Any]) -> dict[str, Any]:
        return {k: record[k] for k in self.sales.key}

    def key_string(self, record: Mapping[str, Any]) -> str:
        """The Kafka key of a write (docs/contract.md §2): the alternate key parts joined by '/'."""
        return "/".join(str(record[k]) for k in self.sales.key)

    def key_record(self, key: str) -> dict[str, Any]:
        """The alternate key from its key string (a document number may hold '/'; only the
        last part of a line's key is its sequence number)."""
        parts = list(key.rsplit("/", len(self.sales.key) - 1)) if len(self.sales.key) > 1 else [key]
        return {column: int(part) if column in dataverse.INTEGER_KEY_COLUMNS else part
                for column, part in zip(self.sales.key, parts, strict=True)}

    def parent_key(self, key: str) -> str:
        """A child row's parent document key: its key less the last part."""
        return key.rpartition("/")[0]

    def scm_records(self, document: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The SCM records this map writes from one document: the document itself, or each of
        its rows with the document's key fields added."""
        if self.scm.rows is None:
            return [dict(document)]
        inherited = {k: document[k] for k in self.scm.key if k in document}
        return [{**row, **inherited} for row in document.get(self.scm.rows) or []]

    def applies_to(self, document: Mapping[str, Any]) -> bool:
        return self.scm.only_if is None or self.scm.only_if.passes(document)

    def lookups(self, scm: Mapping[str, Any]) -> list[tuple[str, str]]:
        """The (table, alternate key) of every Sales row this record's lookups read."""
        return [(f.lookup.table, str(scm[f.scm[0]])) for f in self.fields
                if f.lookup is not None and scm.get(f.scm[0]) is not None]

    # --- SCM → Sales -----------------------------------------------------------------------

    def to_sales(self, scm: Mapping[str, Any], features: Features,
                 looked_up: Mapping[tuple[str, str], Mapping[str, Any]] | None = None) -> dict[str, Any]:
        """Every active mapped column of the Sales row, from the SCM record, plus constants."""
        record: dict[str, Any] = {}
        for f in self.fields:
            if f.to_sales and f.active(features):
                record.update(self._sales_values(f, scm, looked_up or {}))
        return {**record, **self.constants}

    def scm_owned_columns(self, features: Features) -> set[str]:
        """Columns only SCM writes (one-way to Sales): status, origin, ownership, amounts."""
        owned = {c for f in self.fields if f.direction == "to-sales" and f.active(features) for c in f.sales}
        return owned | set(self.constants)

    def _sales_values(self, f: FieldMap, scm: Mapping[str, Any],
                      looked_up: Mapping[tuple[str, str], Mapping[str, Any]]) -> dict[str, Any]:
        values: list[Any] = [scm.get(name) for name in f.scm]
        if f.lookup is not None:
            row = looked_up.get((f.lookup.table, str(values[0]))) if values[0] is not None else None
            return {f.sales[0]: (row or {}).get(f.lookup.column)}
        if f.transform in transforms.STATE_TRANSFORMS:
            state = transforms.STATE_TRANSFORMS[f.transform][values[0]]
            return dict(zip(f.sales, state, strict=True))
        if f.transform == transforms.DISCOUNT_SPLIT:
            per_unit, charge, qty = (_decimal(v, f.scm[n]) for n, v in enumerate(values))
            return {f.sales[0]: transforms.money(transforms.join_discount(per_unit, charge, qty))}
        value = values[0]
        if f.value_map is not None and value is not None:
            value = self.value_maps[f.value_map][value]
        return {f.sales[0]: _typed(value, f.type, f.sales[0])}

    # --- Sales → SCM --------------------------------------------------------------------------

    def command_data(self, sales_row: Mapping[str, Any], features: Features,
                     changed: set[str] | None = None) -> dict[str, Any]:
        """The command's data for the mapped columns of a Sales row (all of them, or only
        those touching `changed`)."""
        data: dict[str, Any] = {}
        for f in self.fields:
            if not (f.to_scm and f.command_field and f.active(features)):
                continue
            inputs = set(f.sales) | ({"quantity"} if f.transform == transforms.DISCOUNT_SPLIT else set())
            if changed is not None and not inputs & changed:
                continue
            if not any(c in sales_row for c in f.sales):
                continue
            if f.transform == transforms.DISCOUNT_SPLIT and sales_row.get("quantity") is None:
                continue  # no quantity to split over: the SCM service refuses the line for its quantity
            data.update(self._command_values(f, sales_row))
        return data

    def key_command_data(self, sales_row: Mapping[str, Any]) -> dict[str, Any]:
        """What names a child row in its commands: the command fields of its own key columns
        beyond the parent's (a line's `sequence_number`)."""
        own = self.sales.key[1:] if self.parent else ()
        return {f.command_field[0]: sales_row[f.sales[0]] for f in self.fields
                if f.command_field and f.sales[0] in own and f.sales[0] in sales_row}

    def _command_values(self, f: FieldMap, row: Mapping[str, Any]) -> dict[str, Any]:
        value = row.get(f.sales[0])
        if f.transform == transforms.DISCOUNT_SPLIT:
            total = _decimal(value if value is not None else "0", f.sales[0])
            qty = _decimal(row.get("quantity"), "quantity")
            per_unit, charge = transforms.split_discount(total, qty)
            return dict(zip(f.command_field, (transforms.money(per_unit), transforms.money(charge)), strict=True))
        if f.value_map is not None and value is not None:
            reverse = {v: k for k, v in self.value_maps[f.value_map].items()}
            if value not in reverse:
                raise MappingFailed(f"{self.name}: {f.sales[0]} = {value!r} has no SCM value")
            value = reverse[value]
        return {f.command_field[0]: _typed(value, f.type, f.sales[0])}

    def same(self, a: Mapping[str, Any], b: Mapping[str, Any], columns: set[str]) -> bool:
        """Whether two Sales rows agree on `columns`: amounts and quantities by value ("3" is
        "3.00"), everything else (codes, numbers of documents, sites) exactly."""
        return all(self._comparable(c, a.get(c)) == self._comparable(c, b.get(c)) for c in columns)

    def _comparable(self, column: str, value: Any) -> Any:
        if value is None or column not in self._decimal_columns:
            return value
        try:
            return _decimal(value, column).normalize()
        except MappingFailed:
            return value

    @property
    def _decimal_columns(self) -> frozenset[str]:
        return frozenset(c for f in self.fields if f.type is not None for c in f.sales)


def _decimal(value: Any, what: str) -> Decimal:
    if isinstance(value, bool) or value is None or isinstance(value, float):
        raise MappingFailed(f"{what} must be a decimal string, got {value!r}")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise MappingFailed(f"{what} must be a decimal string, got {value!r}") from None
    if not number.is_finite():
        raise MappingFailed(f"{what} must be a finite decimal, got {value!r}")
    return number


def _typed(value: Any, type_: str | None, what: str) -> Any:
    if value is None or type_ is None:
        return value
    number = _decimal(value, what)
    return transforms.money(number) if type_ == "money" else transforms.quantity(number)


# --- loading and validation ---------------------------------------------------------------------

def parse_map(document: Any, source: str = "map") -> TableMap:
    """One map from its YAML document; MapError names the file, the map and the key."""
    name = document.get("name", "?") if isinstance(document, dict) else "?"
    try:
        tmap = TableMap.model_validate(document)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'map'}: {_problem(e)}" for e in exc.errors())
        raise MapError(f"{source}: map {name!r}: {problems}") from None
    validate(tmap, source)
    return tmap


def _problem(error: Any) -> str:
    return "unknown key (not part of the map language)" if error["type"] == "extra_forbidden" else error["msg"]


def validate(tmap: TableMap, source: str) -> None:
    """Check one map against the contract models and the Dataverse columns."""
    here = f"{source}: map {tmap.name!r}"
    columns = dataverse.COLUMNS.get(tmap.sales.table)
    if columns is None:
        raise MapError(f"{here}: sales.table: unknown Dataverse table {tmap.sales.table!r}")
    entity = ENTITIES.get(tmap.scm.entity)
    if entity is None:
        raise MapError(f"{here}: scm.entity: unknown SCM entity {tmap.scm.entity!r}")
    _validate_sales_side(tmap, here, columns)
    _validate_scm_side(tmap, here, entity)
    _validate_behaviour(tmap, here, columns)
    for n, f in enumerate(tmap.fields):
        _validate_field(tmap, f, f"{here}: fields[{n}] {'/'.join(f.sales)} ⇄ {'/'.join(f.scm)}", columns, entity)


def _validate_sales_side(tmap: TableMap, here: str, columns: frozenset[str]) -> None:
    table = tmap.sales.table
    for key in tmap.sales.key:
        if key not in columns:
            raise MapError(f"{here}: sales.key: {key!r} is not a column of {table}")
    if tmap.sales.primary_id is not None and tmap.sales.primary_id not in columns:
        raise MapError(f"{here}: sales.primary_id: {tmap.sales.primary_id!r} is not a column of {table}")
    if tmap.sales.changes not in (None, f"dataverse.{table}.changes"):
        raise MapError(f"{here}: sales.changes: the contract's topic is dataverse.{table}.changes")
    if tmap.sales.writes != f"dataverse.{table}.writes":
        raise MapError(f"{here}: sales.writes: the contract's topic is dataverse.{table}.writes")
    for column in tmap.constants:
        if column not in columns:
            raise MapError(f"{here}: constants: {column!r} is not a column of {table}")


def _validate_scm_side(tmap: TableMap, here: str, entity: Mapping[str, Any]) -> None:
    event_model = EVENT_MODELS.get(tmap.scm.events)
    if event_model is None:
        raise MapError(f"{here}: scm.events: {tmap.scm.events!r} is not an SCM event topic "
                       f"({', '.join(EVENT_MODELS)})")
    document_fields: Mapping[str, Any] = event_model.model_fields
    if tmap.scm.document is not None:
        if tmap.scm.document not in event_model.model_fields:
            raise MapError(f"{here}: scm.document: {tmap.scm.document!r} is not a field of {event_model.__name__}")
        annotation = event_model.model_fields[tmap.scm.document].annotation
        document_fields = annotation.model_fields if isinstance(annotation, type) else {}
    if tmap.scm.rows is not None and tmap.scm.rows not in document_fields:
        raise MapError(f"{here}: scm.rows: {tmap.scm.rows!r} is not a field of the {tmap.scm.document} document")
    for key in tmap.scm.key:
        if key not in entity:
            raise MapError(f"{here}: scm.key: {key!r} is not a field of SCM {tmap.scm.entity}")
    if tmap.scm.only_if is not None and tmap.scm.only_if.field not in document_fields:
        raise MapError(f"{here}: scm.only_if: {tmap.scm.only_if.field!r} is not a field of the document")


def _validate_behaviour(tmap: TableMap, here: str, columns: frozenset[str]) -> None:
    if tmap.sales.changes is not None and tmap.commands is None and tmap.refuse_sales_changes is None:
        raise MapError(f"{here}: a map that reads Sales changes needs commands or refuse_sales_changes")
    if tmap.commands is not None:
        if tmap.results is None:
            raise MapError(f"{here}: commands need results (how the SCM service answers them)")
        if tmap.commands.envelope not in COMMAND_MODELS:
            raise MapError(f"{here}: commands.envelope: unknown command {tmap.commands.envelope!r}")
    if tmap.results is not None:
        model = RESULT_MODELS.get(tmap.results.envelope)
        if model is None:
            raise MapError(f"{here}: results.envelope: unknown result {tmap.results.envelope!r}")
        if tmap.results.document not in model.model_fields:
            raise MapError(f"{here}: results.document: {tmap.results.document!r} is not a field of {model.__name__}")
    for code in (tmap.refuse_sales_changes, tmap.state_changes.refuse if tmap.state_changes else None):
        if code is not None and code not in REFUSALS:
            raise MapError(f"{here}: refusal code {code!r} is not one of {', '.join(sorted(REFUSALS))}")
    if tmap.state_changes is not None:
        changes = tmap.state_changes
        for column in [*changes.columns, *(changes.allowed_on_create or {})]:
            if column not in columns:
                raise MapError(f"{here}: state_changes: {column!r} is not a column of {tmap.sales.table}")
        if bool(changes.steps) == bool(changes.refuse):
            raise MapError(f"{here}: state_changes needs either steps or refuse")
        for pair in changes.pairs:
            if len(pair) != len(changes.columns):
                raise MapError(f"{here}: state_changes.pairs: {list(pair)} needs one value per column "
                               f"{list(changes.columns)}")
        _validate_feature(changes.when_feature, f"{here}: state_changes.when_feature")


def _validate_field(tmap: TableMap, f: FieldMap, where: str, columns: frozenset[str],
                    entity: Mapping[str, Any]) -> None:
    for column in f.sales:
        if column not in columns:
            raise MapError(f"{where}: {column!r} is not a column of Dataverse table {tmap.sales.table}")
    for name in f.scm:
        if name not in entity:
            raise MapError(f"{where}: {name!r} is not a field of SCM {tmap.scm.entity}")
    if f.transform is not None and f.transform not in transforms.TRANSFORMS:
        raise MapError(f"{where}: unknown transform {f.transform!r}; known: {', '.join(sorted(transforms.TRANSFORMS))}")
    if f.transform is None and (len(f.sales) != 1 or len(f.scm) != 1):
        raise MapError(f"{where}: several columns need a transform")
    if f.command_field and not f.to_scm:
        raise MapError(f"{where}: a command_field needs direction two-way or to-scm")
    if f.lookup is not None:
        if f.lookup.table not in dataverse.COLUMNS or f.lookup.column not in dataverse.COLUMNS[f.lookup.table]:
            raise MapError(f"{where}: lookup: {f.lookup.table}.{f.lookup.column} is not a Dataverse column")
        if f.direction != "to-sales":
            raise MapError(f"{where}: a lookup is one-way to Sales")
    _validate_feature(f.when_feature, f"{where}: when_feature")
    _validate_feature(f.unless_feature, f"{where}: unless_feature")
    if f.value_map is not None:
        _validate_value_map(tmap, f, where, entity)


def _validate_feature(name: str | None, where: str) -> None:
    if name is not None and name not in FEATURES:
        raise MapError(f"{where}: {name!r} is not a feature ({', '.join(sorted(FEATURES))})")


def _validate_value_map(tmap: TableMap, f: FieldMap, where: str, entity: Mapping[str, Any]) -> None:
    # Why the ignore[arg-type]: called only for a field whose value_map is set (see the caller).
    values = tmap.value_maps.get(f.value_map)  # type: ignore[arg-type]
    if values is None:
        raise MapError(f"{where}: value map {f.value_map!r} is not defined")
    enum = ENUM_OVERRIDES.get((tmap.scm.entity, f.scm[0])) or _literal_values(entity[f.scm[0]].annotation)
    if enum is None:
        raise MapError(f"{where}: SCM field {f.scm[0]} is not an enum; a value map does not apply")
    missing = [v for v in enum if v not in values]
    extra = [v for v in values if v not in enum]
    if missing or extra:
        raise MapError(f"{where}: value map {f.value_map!r} must cover exactly {list(enum)}"
                       + (f"; missing {missing}" if missing else "") + (f"; unknown {extra}" if extra else ""))
    if len(set(values.values())) != len(values):
        raise MapError(f"{where}: value map {f.value_map!r} maps two SCM values to one Dataverse value")


def _literal_values(annotation: Any) -> tuple[Any, ...] | None:
    args = [a for a in get_args(annotation) if a is not type(None)]
    if args and all(isinstance(a, str | bool) for a in args):
        return tuple(args)
    for arg in args:  # Optional[Literal[...]]
        inner = get_args(arg)
        if inner and all(isinstance(a, str) for a in inner):
            return inner
    return None


def check_relations(maps: Mapping[str, TableMap]) -> None:
    """What no single map can check: parents exist and keys nest, lookups name a mapped
    table, and one Sales table has one map."""
    tables: dict[str, str] = {}
    for tmap in maps.values():
        here = f"map {tmap.name!r}"
        if tmap.sales.table in tables:
            raise MapError(f"{here}: table {tmap.sales.table} is mapped by {tables[tmap.sales.table]!r} already")
        tables[tmap.sales.table] = tmap.name
    for tmap in maps.values():
        here = f"map {tmap.name!r}"
        if tmap.parent is not None:
            parent = maps.get(tmap.parent)
            if parent is None:
                raise MapError(f"{here}: parent: no map named {tmap.parent!r}")
            if tmap.sales.key[:-1] != parent.sales.key or tmap.scm.events != parent.scm.events:
                raise MapError(f"{here}: parent: its key must be {parent.name!r}'s key plus one column, "
                               "on the same events")
        for f in tmap.fields:
            if f.lookup is not None and f.lookup.table not in tables:
                raise MapError(f"{here}: lookup: no map mirrors Sales table {f.lookup.table!r}")


def load_maps(directory: Path = MAPS_DIR) -> dict[str, TableMap]:
    maps: dict[str, TableMap] = {}
    for path in sorted(directory.glob("*.yaml")):
        tmap = parse_map(yaml.safe_load(path.read_text()), path.name)
        if tmap.name in maps:
            raise MapError(f"{path.name}: a map named {tmap.name!r} exists already")
        maps[tmap.name] = tmap
    check_relations(maps)
    return dict(sorted(maps.items(), key=lambda item: item[1].initial_sync))
