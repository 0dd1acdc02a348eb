"""The `record` of `dataverse.<table>.writes` and `dataverse.<table>.changes`, column by column,
for the contract's JSON Schemas (docs/contract-testing.md, "Record columns").

The columns come from the adapter itself, so the schemas cannot drift from what it writes and
reads: their JSON types from its column registry (`dual_write_adapter.dataverse.COLUMN_TYPES`),
their option values from the table maps (`maps/*.yaml`: value maps, integer constants, the
statecode/statuscode transforms of `dual_write_adapter.transforms.STATE_TRANSFORMS`, and, for
the Sales state columns q2c reads, the pairs and create values of `state_changes`).

- **writes**: the columns the table's map writes to Sales (two-way and to-sales fields, and its
  constants). On an `upsert` the record holds every column whose field does not depend on a
  feature (docs/contract.md §2: "never a diff"), and the constants: those are `required` of the
  record when `operation` is `upsert`. A `delete` carries the alternate key only. Columns written
  only with a feature on or off (`when_feature`, `unless_feature`: the quote's statecode and
  statuscode, a line's two discount columns) are described but not required.
- **changes**: every column q2c knows of the table (the registry; any other column is ignored,
  docs/contract.md §1); the alternate key is required (the adapter dead-letters a change without
  it). Option values are listed only for the columns whose value q2c reads from Sales: mapped
  two-way or to SCM through a value map, and the Sales state columns of `state_changes`. A value
  q2c does not know there is answered with a refusal (docs/contract.md §0), never dropped.

Every column but the alternate key may be null (a cleared column)."""

from collections.abc import Iterable, Mapping
from typing import Any, Literal

from dual_write_adapter import dataverse, transforms
from dual_write_adapter.tablemap import TableMap, load_maps

Kind = Literal["writes", "changes"]
Maps = Mapping[str, TableMap]
JSON_TYPES: dict[str, str] = {dataverse.TEXT: "string", dataverse.MONEY: "string", dataverse.QUANTITY: "string",
                              dataverse.INTEGER: "integer", dataverse.BOOLEAN: "boolean"}
DESCRIPTIONS: dict[str, str] = {dataverse.MONEY: "an amount: a decimal string, e.g. \"1490.00\"",
                                dataverse.QUANTITY: "a quantity: a decimal string, e.g. \"3\""}


def default_maps() -> dict[str, TableMap]:
    return load_maps()


def map_of(table: str, maps: Maps) -> TableMap | None:
    return next((m for m in maps.values() if m.sales.table == table), None)


def written_columns(tmap: TableMap) -> list[str]:
    """Every column the map may write to Sales, in the map's order."""
    columns = [c for f in tmap.fields if f.to_sales for c in f.sales]
    return list(dict.fromkeys([*columns, *tmap.constants]))


def always_written(tmap: TableMap) -> list[str]:
    """The columns of every upsert: fields that depend on no feature, and the constants."""
    columns = [c for f in tmap.fields if f.to_sales and not f.when_feature and not f.unless_feature for c in f.sales]
    return list(dict.fromkeys([*columns, *tmap.constants]))


def _add(values: dict[str, set[Any]], column: str, found: Iterable[Any]) -> None:
    values.setdefault(column, set()).update(v for v in found if v is not None)


def written_options(tmap: TableMap) -> dict[str, set[Any]]:
    """The option values q2c writes, per option-set column."""
    values: dict[str, set[Any]] = {}
    for f in tmap.fields:
        if not f.to_sales:
            continue
        if f.value_map is not None:
            _add(values, f.sales[0], tmap.value_maps[f.value_map].values())
        if f.transform in transforms.STATE_TRANSFORMS:
            for combination in transforms.STATE_TRANSFORMS[f.transform].values():
                for column, value in zip(f.sales, combination, strict=True):
                    _add(values, column, [value])
    for column, value in tmap.constants.items():
        if dataverse.COLUMN_TYPES[tmap.sales.table][column] == dataverse.INTEGER:
            _add(values, column, [value])
    return values


def read_options(tmap: TableMap) -> dict[str, set[Any]]:
    """The option values q2c knows in a Sales change, for the columns whose value it reads."""
    values: dict[str, set[Any]] = {}
    for f in tmap.fields:
        if f.to_scm and f.value_map is not None:
            _add(values, f.sales[0], tmap.value_maps[f.value_map].values())
    state = tmap.state_changes
    if state is not None:
        known = written_options(tmap)
        for n, column in enumerate(state.columns):
            _add(values, column, known.get(column, ()))
            _add(values, column, (pair[n] for pair in state.pairs))
            _add(values, column, (state.allowed_on_create or {}).get(column, ()))
    return values


def column_schema(table: str, column: str, options: set[Any] | None, *, key: bool) -> dict[str, Any]:
    kind = dataverse.COLUMN_TYPES[table][column]
    own: dict[str, Any] = {"type": JSON_TYPES[kind]}
    if options:
        own["enum"] = sorted(options)
    if kind in DESCRIPTIONS:
        own["description"] = DESCRIPTIONS[kind]
    return own if key else {"anyOf": [own, {"type": "null"}]}


def record_schema(table: str, kind: Kind, maps: Maps | None = None) -> tuple[dict[str, Any], list[str]]:
    """The schema of the topic's `record`, and (writes) the columns every upsert carries."""
    maps = default_maps() if maps is None else maps
    tmap = map_of(table, maps)
    if tmap is None:
        raise ValueError(f"dataverse.{table}.{kind}: no table map writes or reads {table}")
    keys = list(tmap.sales.key)
    if kind == "writes":
        columns, options, upsert = written_columns(tmap), written_options(tmap), always_written(tmap)
        description = ("The mapped columns. On an upsert every column in the topic's `then` list is present "
                       "(its value may be null unless it is the alternate key); a delete carries the alternate "
                       "key only.")
    else:
        columns, options, upsert = sorted(dataverse.COLUMN_TYPES[table]), read_options(tmap), []
        description = ("The columns q2c knows of the table (others are ignored); the alternate key is always "
                       "present.")
    properties = {c: column_schema(table, c, options.get(c), key=c in keys) for c in columns}
    return ({"title": "Record", "description": description, "type": "object", "properties": properties,
             "required": keys, "additionalProperties": True}, upsert)
