"""Table maps as data (maps/*.yaml) and the code that interprets them. Adding a column is
an edit to a map; the code knows directions, value maps, types and the named transforms.
Maps are validated at start-up, with errors that say which map and which field."""

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, get_args

import yaml

from q2c_contracts.quote import QuotationLineSnapshot, QuotationSnapshot
from q2c_contracts.scm import FeatureStateEvent

from . import dataverse, transforms

MAPS_DIR = Path(__file__).parent / "maps"
DIRECTIONS = ("two-way", "to-sales", "to-scm")
TYPES = (None, "money", "quantity")
TRANSFORMS = {"sales-state", "discount-split"}
# The SCM shapes a map may name (CONTRACT.md §5), with each field's annotation.
ENTITIES = {
    "quotation": QuotationSnapshot.model_fields,
    # a line as the adapter maps it: the line plus its quotation's number (the key's first part)
    "quotation-line": {**QuotationLineSnapshot.model_fields,
                       "SALESQUOTATIONNUMBER": QuotationSnapshot.model_fields["SALESQUOTATIONNUMBER"]},
    "feature": FeatureStateEvent.model_fields,
}
ENUM_OVERRIDES = {("feature", "value"): (True, False)}  # features only: parameters are not mapped

Features = Mapping[str, Any]


class MapError(ValueError):
    """A table map that cannot be used; raised at start-up."""


class MappingFailed(ValueError):
    """A record that a map cannot translate (bad value); the change goes to the error log."""


@dataclass(frozen=True)
class FieldMap:
    sales: tuple[str, ...]
    scm: tuple[str, ...]
    direction: str
    command_field: tuple[str, ...] = ()
    value_map: str | None = None
    transform: str | None = None
    type: str | None = None
    when_feature: str | None = None
    unless_feature: str | None = None

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


@dataclass(frozen=True)
class TableMap:
    name: str
    title: str
    sales_table: str
    scm_entity: str
    sales_keys: tuple[str, ...]
    scm_keys: tuple[str, ...]
    fields: tuple[FieldMap, ...]
    value_maps: dict[str, dict[Any, Any]]

    # --- SCM → Sales -----------------------------------------------------------------------

    def to_sales(self, scm: Mapping[str, Any], features: Features) -> dict[str, Any]:
        """Every active mapped column of the Sales row, from the SCM record."""
        record: dict[str, Any] = {}
        for f in self.fields:
            if f.to_sales and f.active(features):
                record.update(self._sales_values(f, scm))
        return record

    def scm_owned_columns(self, features: Features) -> set[str]:
        """Columns only SCM writes (one-way to Sales): status, origin, ownership, amounts."""
        return {c for f in self.fields if f.direction == "to-sales" and f.active(features) for c in f.sales}

    def alternate_key(self, record: Mapping[str, Any]) -> dict[str, Any]:
        return {k: record[k] for k in self.sales_keys}

    def key_string(self, record: Mapping[str, Any]) -> str:
        """The Kafka key of a write (CONTRACT.md §2): the alternate key parts joined by '/'."""
        return "/".join(str(record[k]) for k in self.sales_keys)

    def _sales_values(self, f: FieldMap, scm: Mapping[str, Any]) -> dict[str, Any]:
        values = [scm.get(name) for name in f.scm]
        if f.transform == "sales-state":
            state = transforms.SALES_STATE[values[0]]
            return dict(zip(f.sales, state, strict=True))
        if f.transform == "discount-split":
            per_unit, charge, qty = (_decimal(v, f.scm[n]) for n, v in enumerate(values))
            return {f.sales[0]: transforms.money(transforms.join_discount(per_unit, charge, qty))}
        value = values[0]
        if f.value_map is not None and value is not None:
            value = self.value_maps[f.value_map][value]
        return {f.sales[0]: _typed(value, f.type, f.sales[0])}

    # --- Sales → SCM --------------------------------------------------------------------------

    def command_data(self, sales_row: Mapping[str, Any], features: Features,
                     changed: set[str] | None = None) -> dict[str, Any]:
        """The quote command's data for the mapped columns of a Sales row (all of them, or
        only those touching `changed`)."""
        data: dict[str, Any] = {}
        for f in self.fields:
            if not (f.to_scm and f.command_field and f.active(features)):
                continue
            inputs = set(f.sales) | ({"quantity"} if f.transform == "discount-split" else set())
            if changed is not None and not inputs & changed:
                continue
            if not any(c in sales_row for c in f.sales):
                continue
            data.update(self._command_values(f, sales_row))
        return data

    def _command_values(self, f: FieldMap, row: Mapping[str, Any]) -> dict[str, Any]:
        value = row.get(f.sales[0])
        if f.transform == "discount-split":
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

def _tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    return tuple(value) if isinstance(value, list) else (value,)


def parse_map(document: dict[str, Any], source: str = "map") -> TableMap:
    try:
        fields = tuple(
            FieldMap(sales=_tuple(f["sales"]), scm=_tuple(f["scm"]), direction=f["direction"],
                     command_field=_tuple(f.get("command_field")), value_map=f.get("value_map"),
                     transform=f.get("transform"), type=f.get("type"), when_feature=f.get("when_feature"),
                     unless_feature=f.get("unless_feature"))
            for f in document["fields"]
        )
        tmap = TableMap(name=document["name"], title=document.get("title", document["name"]),
                        sales_table=document["sales_table"], scm_entity=document["scm_entity"],
                        sales_keys=_tuple(document["keys"]["sales"]), scm_keys=_tuple(document["keys"]["scm"]),
                        fields=fields, value_maps=document.get("value_maps") or {})
    except (KeyError, TypeError) as exc:
        raise MapError(f"{source}: missing or malformed entry {exc}") from None
    validate(tmap, source)
    return tmap


def validate(tmap: TableMap, source: str) -> None:
    columns = dataverse.COLUMNS.get(tmap.sales_table)
    if columns is None:
        raise MapError(f"{source}: unknown Sales table {tmap.sales_table!r}")
    entity = ENTITIES.get(tmap.scm_entity)
    if entity is None:
        raise MapError(f"{source}: unknown SCM entity {tmap.scm_entity!r}")
    for key in tmap.sales_keys:
        if key not in columns:
            raise MapError(f"{source}: key column {key!r} is not a column of {tmap.sales_table}")
    for f in tmap.fields:
        where = f"{source}: field {'/'.join(f.sales)} ⇄ {'/'.join(f.scm)}"
        if f.direction not in DIRECTIONS:
            raise MapError(f"{where}: direction {f.direction!r} is not one of {', '.join(DIRECTIONS)}")
        for column in f.sales:
            if column not in columns:
                raise MapError(f"{where}: {column!r} is not a column of Dataverse table {tmap.sales_table}")
        for name in f.scm:
            if name not in entity:
                raise MapError(f"{where}: {name!r} is not a field of SCM {tmap.scm_entity}")
        if f.type not in TYPES:
            raise MapError(f"{where}: type {f.type!r} is not one of money, quantity")
        if f.transform is not None and f.transform not in TRANSFORMS:
            raise MapError(f"{where}: unknown transform {f.transform!r}")
        if f.transform is None and (len(f.sales) != 1 or len(f.scm) != 1):
            raise MapError(f"{where}: several columns need a transform")
        if f.command_field and not f.to_scm:
            raise MapError(f"{where}: a command_field needs direction two-way or to-scm")
        if f.value_map is not None:
            _validate_value_map(tmap, f, where, entity)


def _validate_value_map(tmap: TableMap, f: FieldMap, where: str, entity: Mapping[str, Any]) -> None:
    values = tmap.value_maps.get(f.value_map)  # type: ignore[arg-type]
    if values is None:
        raise MapError(f"{where}: value map {f.value_map!r} is not defined")
    enum = ENUM_OVERRIDES.get((tmap.scm_entity, f.scm[0])) or _literal_values(entity[f.scm[0]].annotation)
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


def load_maps(directory: Path = MAPS_DIR) -> dict[str, TableMap]:
    maps: dict[str, TableMap] = {}
    for path in sorted(directory.glob("*.yaml")):
        tmap = parse_map(yaml.safe_load(path.read_text()), path.name)
        if tmap.name in maps:
            raise MapError(f"{path.name}: a map named {tmap.name!r} exists already")
        maps[tmap.name] = tmap
    return maps
