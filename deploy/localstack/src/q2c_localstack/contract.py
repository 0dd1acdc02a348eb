"""The contract as files: one JSON Schema per topic, generated from the pydantic models of
`q2c_contracts` and the topic catalog, and the compatibility gate that compares them with the
last released snapshot (`contracts/schemas/<version>/`, docs/contract-testing.md).

`python -m q2c_localstack contract check` runs the gate; `python -m q2c_localstack contract
release <version>` writes a snapshot: the latest version again (only if compatible) or a new
version (the only way to publish a breaking change)."""

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from q2c_contracts.envelope import Envelope
from q2c_messaging.catalog import TopicCatalog, TopicSpec

from . import records
from .asyncapi import INTERNAL, _model_for
from .config import DEPLOY

REPO = DEPLOY.parent
CONTRACTS = REPO / "contracts"
SCHEMAS = CONTRACTS / "schemas"
RELEASES = SCHEMAS / "releases.json"
OUTSIDE = frozenset({"sales", "scm-users"})  # the outside parties of the catalog
DIALECT = "https://json-schema.org/draft/2020-12/schema"

# The record key of every topic (docs/contract.md §0 and the catalog's descriptions). A
# changed key is a breaking change: consumers partition, compact and look up by it.
KEYS: dict[str, str] = {
    "dataverse.quote.changes": "quoteid",
    "dataverse.quotedetail.changes": "quotedetailid",
    "dataverse.salesorder.changes": "salesorderid",
    "dataverse.salesorderdetail.changes": "salesorderdetailid",
    "dataverse.invoice.changes": "invoiceid",
    "dataverse.invoicedetail.changes": "invoicedetailid",
    "dataverse.quote.writes": "msdyn_quotenumber",
    "dataverse.quotedetail.writes": "<msdyn_quotenumber>/<sequencenumber>",
    "dataverse.salesorder.writes": "msdyn_salesordernumber",
    "dataverse.salesorderdetail.writes": "<msdyn_salesordernumber>/<sequencenumber>",
    "dataverse.invoice.writes": "msdyn_invoicenumber",
    "dataverse.invoicedetail.writes": "<msdyn_invoicenumber>/<sequencenumber>",
    "dataverse.msdyn_supplychainfeaturestate.writes": "msdyn_name",
    "dataverse.notifications": "alternate key of the row concerned",
    "scm.quote.commands": "quotation number",
    "scm.order.commands": "sales order number",
    "scm.invoice.commands": "sales order number (invoice.post)",
    "scm.feature.commands": "feature or parameter name",
    "scm.command.results": "command_id",
    "scm.quote.events": "quotation number",
    "scm.order.events": "sales order number",
    "scm.invoice.events": "invoice number",
    "scm.feature.events": "feature or parameter name",
    "scm.processor.events": "message id",
    "quote.sales-commands": "quotation number",
    "quote.sales-results": "quotation number",
    "ownership.requests": "quotation number",
    "ownership.decisions": "quotation number",
    "order.sales-commands": "sales order number",
    "order.sales-results": "sales order number",
    "order.invoicing-requests": "sales order number",
    "order.invoicing-decisions": "sales order number",
}


class ContractError(RuntimeError):
    """A release that may not be made, or a contract folder that is not as it must be."""


# --- generating the schemas ---------------------------------------------------------------------

def is_external(spec: TopicSpec) -> bool:
    return bool((spec.writers | spec.consumers) & OUTSIDE)


def _model_schema(model: type[BaseModel], mode: str) -> dict[str, Any]:
    # Why the ignore: `mode` is pydantic's Literal["validation", "serialization"], carried here as str.
    return model.model_json_schema(mode=mode, ref_template="#/$defs/{model}")  # type: ignore[arg-type]


DATAVERSE_TOPIC = re.compile(r"dataverse\.(?P<table>\w+)\.(?P<kind>writes|changes)")


def topic_schema(spec: TopicSpec, maps: records.Maps | None = None) -> dict[str, Any]:
    """The JSON Schema of one topic's record value. Messages that outside parties send are
    described as q2c accepts them (validation), those q2c sends as it writes them. The `record`
    of a Dataverse table's writes and changes is described column by column from the adapter's
    table maps (`maps`, default: the adapter's own; q2c_localstack.records)."""
    mode = "validation" if spec.writers & OUTSIDE else "serialization"
    if spec.name in INTERNAL:
        schema = _model_schema(Envelope, mode)
        payload = _model_schema(INTERNAL[spec.name], mode)
        defs = {**schema.pop("$defs", {}), **payload.pop("$defs", {})}
        defs[INTERNAL[spec.name].__name__] = payload
        schema["properties"]["payload"] = {"$ref": f"#/$defs/{INTERNAL[spec.name].__name__}"}
        schema["$defs"] = defs
    else:
        model = _model_for(spec.name)
        if model is None:
            raise ContractError(f"{spec.name}: no message model (deploy/localstack/src/q2c_localstack/asyncapi.py)")
        schema = _model_schema(model, mode)
        dataverse_topic = DATAVERSE_TOPIC.fullmatch(spec.name)
        if dataverse_topic:
            # Why the ignore: the pattern's `kind` group matches only "writes" or "changes" (records.Kind).
            _describe_record(schema, dataverse_topic["table"], dataverse_topic["kind"], maps)  # type: ignore[arg-type]
    if spec.name not in KEYS:
        raise ContractError(f"{spec.name}: no record key named in q2c_localstack.contract.KEYS")
    return {
        "$schema": DIALECT,
        "$id": f"q2c:{spec.name}",
        "x-q2c-topic": spec.name,
        "x-q2c-key": KEYS[spec.name],
        "x-q2c-writers": sorted(spec.writers),
        "x-q2c-consumers": sorted(spec.consumers),
        **{k: v for k, v in schema.items() if k != "$defs"},
        **({"$defs": dict(sorted(schema["$defs"].items()))} if schema.get("$defs") else {}),
    }


def _describe_record(schema: dict[str, Any], table: str, kind: records.Kind, maps: records.Maps | None) -> None:
    """The per-table `record`; on writes, the columns every upsert carries as the `then` of an
    `if operation is upsert` (a delete carries the alternate key only)."""
    record, upsert = records.record_schema(table, kind, maps)
    schema["properties"]["record"] = record
    if upsert:
        schema["if"] = {"properties": {"operation": {"const": "upsert"}}, "required": ["operation"]}
        schema["then"] = {"properties": {"record": {"required": upsert}}}


def generate(catalog: TopicCatalog, maps: records.Maps | None = None) -> dict[str, dict[str, Any]]:
    """Every topic's schema by relative path: `<topic>.json`, internal ones `internal/<topic>.json`.
    Dead-letter topics carry the original value untouched and have no schema of their own."""
    out: dict[str, dict[str, Any]] = {}
    maps = records.default_maps() if maps is None else maps
    for spec in sorted(catalog, key=lambda s: s.name):
        if spec.dead_letter:
            continue
        path = f"{spec.name}.json" if is_external(spec) else f"internal/{spec.name}.json"
        out[path] = topic_schema(spec, maps)
    return out


def render(schema: Mapping[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=False) + "\n"


def read_snapshot(directory: Path) -> dict[str, dict[str, Any]]:
    return {p.relative_to(directory).as_posix(): json.loads(p.read_text())
            for p in sorted(directory.rglob("*.json"))}


def released_versions() -> list[str]:
    return list(json.loads(RELEASES.read_text())["versions"])


def latest_version() -> str:
    return released_versions()[-1]


# --- comparing two contracts ---------------------------------------------------------------------

@dataclass(frozen=True, order=True)
class Change:
    topic: str
    path: str  # JSON path of the field in the record value ("$" is the value)
    kind: str
    breaking: bool
    detail: str = ""

    def __str__(self) -> str:
        verdict = "BREAKING" if self.breaking else "compatible"
        return f"{verdict}: {self.topic} {self.path}: {self.kind}{' (' + self.detail + ')' if self.detail else ''}"


BREAKING_KINDS = {
    "removed topic", "changed key", "removed or renamed field", "changed type",
    "newly required field", "removed enum value", "field no longer always present",
}


def compare(old: Mapping[str, Mapping[str, Any]], new: Mapping[str, Mapping[str, Any]]) -> list[Change]:
    """Every difference between two contracts (schema file sets) that a consumer or producer can
    notice, each classified. Breaking: a removed topic, a changed key, a removed (or renamed)
    field, a changed type, a newly required field, a removed enum value, and, on topics q2c
    writes to its consumers, a field that stops being always present. Compatible: a new topic, a
    new optional field, a new enum value, a field that stops being required of a sender."""
    changes: list[Change] = []
    for path in sorted(old.keys() - new.keys()):
        changes.append(Change(_topic(old[path], path), "$", "removed topic", True))
    for path in sorted(new.keys() - old.keys()):
        changes.append(Change(_topic(new[path], path), "$", "new topic", False))
    for path in sorted(old.keys() & new.keys()):
        a, b = old[path], new[path]
        topic = _topic(b, path)
        if a.get("x-q2c-key") != b.get("x-q2c-key"):
            changes.append(Change(topic, "$", "changed key", True, f"{a.get('x-q2c-key')} -> {b.get('x-q2c-key')}"))
        sent_by_q2c = not (set(b.get("x-q2c-writers", [])) & OUTSIDE)
        changes.extend(_compare_node(topic, "$", a, a, b, b, sent_by_q2c, set()))
    return sorted(changes)


def breaking(changes: list[Change]) -> list[Change]:
    return [c for c in changes if c.breaking]


def _topic(schema: Mapping[str, Any], path: str) -> str:
    return str(schema.get("x-q2c-topic") or path.removesuffix(".json").removeprefix("internal/"))


def _resolve(node: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    while "$ref" in node:
        ref = node["$ref"]
        if not ref.startswith("#/"):
            raise ContractError(f"only local references are supported, not {ref}")
        target: Any = root
        for part in ref[2:].split("/"):
            target = target[part]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def _alternatives(node: Mapping[str, Any], root: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    node = _resolve(node, root)
    for key in ("anyOf", "oneOf"):
        if key in node:
            return [a for alt in node[key] for a in _alternatives(alt, root)]
    return [node]


def _types(node: Mapping[str, Any], root: Mapping[str, Any]) -> frozenset[str]:
    found: set[str] = set()
    for alt in _alternatives(node, root):
        declared = alt.get("type")
        if isinstance(declared, list):
            found.update(declared)
        elif isinstance(declared, str):
            found.add(declared)
        elif "const" in alt or "enum" in alt:
            values = [alt["const"]] if "const" in alt else alt["enum"]
            found.update(_json_type(v) for v in values)
        elif "properties" in alt:
            found.add("object")
        else:
            found.add("any")
    if "integer" in found and "number" in found:
        found.discard("integer")
    return frozenset(found)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _enum(node: Mapping[str, Any], root: Mapping[str, Any]) -> set[Any] | None:
    """The allowed values, or None when any value of the type is allowed."""
    values: set[Any] = set()
    for alt in _alternatives(node, root):
        if "const" in alt:
            values.add(json.dumps(alt["const"]))
        elif "enum" in alt:
            values.update(json.dumps(v) for v in alt["enum"])
        elif alt.get("type") == "null":
            values.add("null")
        else:
            return None
    return values


# Value constraints are reported, not classified as breaking: they say which values q2c accepts
# (refusals are answered, never dropped, docs/contract.md §0), not the shape consumers parse.
CONSTRAINTS = ("minLength", "maxLength", "pattern", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
               "minItems", "maxItems", "format")


def _constraint(node: Mapping[str, Any], root: Mapping[str, Any], keyword: str) -> Any:
    values = [alt[keyword] for alt in _alternatives(node, root) if keyword in alt]
    return values[0] if len(values) == 1 else (tuple(values) or None)


def _objects(node: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any] | None:
    objects = [alt for alt in _alternatives(node, root) if "properties" in alt]
    return objects[0] if len(objects) == 1 else None


def _items(node: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any] | None:
    arrays = [alt for alt in _alternatives(node, root) if alt.get("type") == "array" and "items" in alt]
    return arrays[0]["items"] if len(arrays) == 1 else None


def _compare_node(topic: str, path: str, a: Mapping[str, Any], root_a: Mapping[str, Any], b: Mapping[str, Any],
                  root_b: Mapping[str, Any], sent_by_q2c: bool, seen: set[tuple[str, int, int]]) -> Iterator[Change]:
    marker = (path, id(_resolve(a, root_a)), id(_resolve(b, root_b)))
    if marker in seen:
        return
    seen.add(marker)
    types_a, types_b = _types(a, root_a), _types(b, root_b)
    if types_a != types_b and "any" not in types_a:
        yield Change(topic, path, "changed type", True, f"{'|'.join(sorted(types_a))} -> {'|'.join(sorted(types_b))}")
        return
    enum_a, enum_b = _enum(a, root_a), _enum(b, root_b)
    if enum_a is not None:
        if enum_b is not None:
            for value in sorted(enum_a - enum_b):
                yield Change(topic, path, "removed enum value", True, value)
            for value in sorted(enum_b - enum_a):
                yield Change(topic, path, "new enum value", False, value)
        else:
            yield Change(topic, path, "any value allowed", False, "was an enum")
    elif enum_b is not None:
        yield Change(topic, path, "values restricted to an enum", True, ", ".join(sorted(enum_b)))
    for keyword in CONSTRAINTS:
        before, after = _constraint(a, root_a, keyword), _constraint(b, root_b, keyword)
        if before != after:
            yield Change(topic, path, "changed constraint", False, f"{keyword}: {before} -> {after}")
    obj_a, obj_b = _objects(a, root_a), _objects(b, root_b)
    if obj_a is not None and obj_b is not None:
        yield from _compare_conditional_required(topic, path, obj_a, root_a, obj_b, root_b, sent_by_q2c)
        props_a, props_b = obj_a.get("properties", {}), obj_b.get("properties", {})
        req_a, req_b = set(obj_a.get("required", [])), set(obj_b.get("required", []))
        for name in sorted(props_a.keys() - props_b.keys()):
            yield Change(topic, f"{path}.{name}", "removed or renamed field", True)
        for name in sorted(props_b.keys() - props_a.keys()):
            if name in req_b:
                yield Change(topic, f"{path}.{name}", "newly required field", True)
            else:
                yield Change(topic, f"{path}.{name}", "new optional field", False)
        for name in sorted(props_a.keys() & props_b.keys()):
            if name in req_b and name not in req_a:
                yield Change(topic, f"{path}.{name}", "newly required field", True)
            elif name in req_a and name not in req_b:
                yield Change(topic, f"{path}.{name}", "field no longer always present" if sent_by_q2c
                             else "field no longer required", sent_by_q2c)
            yield from _compare_node(topic, f"{path}.{name}", props_a[name], root_a, props_b[name], root_b,
                                     sent_by_q2c, seen)
    items_a, items_b = _items(a, root_a), _items(b, root_b)
    if items_a is not None and items_b is not None:
        yield from _compare_node(topic, f"{path}[]", items_a, root_a, items_b, root_b, sent_by_q2c, seen)


def _conditional_required(obj: Mapping[str, Any]) -> dict[tuple[str, str], set[str]]:
    """What an `if`/`then` of this object requires of its properties' objects, by (condition,
    property): `if operation is upsert then record requires these columns`."""
    found: dict[tuple[str, str], set[str]] = {}
    for branch in [obj, *obj.get("allOf", [])]:
        if "if" in branch and "then" in branch:
            condition = json.dumps(branch["if"], sort_keys=True)
            for name, sub in branch["then"].get("properties", {}).items():
                found.setdefault((condition, name), set()).update(sub.get("required", []))
    return found


def _condition(condition: str) -> str:
    consts = {k: v["const"] for k, v in json.loads(condition).get("properties", {}).items() if "const" in v}
    return " and ".join(f"{k} is {v}" for k, v in consts.items()) or condition


def _compare_conditional_required(topic: str, path: str, obj_a: Mapping[str, Any], root_a: Mapping[str, Any],
                                  obj_b: Mapping[str, Any], root_b: Mapping[str, Any],
                                  sent_by_q2c: bool) -> Iterator[Change]:
    """Required fields under a condition, classified like plain ones: a column q2c no longer
    always writes on an upsert is as breaking as a field it no longer always sends. Changes of
    the plain `required` are reported by the property walk, not again here."""
    cond_a, cond_b = _conditional_required(obj_a), _conditional_required(obj_b)
    props_a, props_b = obj_a.get("properties", {}), obj_b.get("properties", {})
    for condition, name in sorted(cond_a.keys() | cond_b.keys()):
        if name not in props_a or name not in props_b:
            continue  # a removed or new property is reported as such
        inner_a, inner_b = _objects(props_a[name], root_a), _objects(props_b[name], root_b)
        if inner_a is None or inner_b is None:
            continue  # a free-form object before or after: nothing to compare field by field
        base_a, base_b = set(inner_a.get("required", [])), set(inner_b.get("required", []))
        when_a = base_a | cond_a.get((condition, name), set())
        when_b = base_b | cond_b.get((condition, name), set())
        fields_b = inner_b.get("properties", {})
        detail = f"when {_condition(condition)}"
        for field in sorted(when_a - when_b):
            if field in base_a - base_b or field not in fields_b:
                continue
            yield Change(topic, f"{path}.{name}.{field}", "field no longer always present" if sent_by_q2c
                         else "field no longer required", sent_by_q2c, detail)
        for field in sorted(when_b - when_a):
            if field in base_b - base_a:
                continue
            yield Change(topic, f"{path}.{name}.{field}", "newly required field", True, detail)


# --- the gate and the release ---------------------------------------------------------------------

def check(catalog: TopicCatalog) -> list[Change]:
    """The changes of the code's contract against the latest released snapshot."""
    return compare(read_snapshot(SCHEMAS / latest_version()), generate(catalog))


def release(catalog: TopicCatalog, version: str) -> list[Change]:
    """Write the code's contract as snapshot `version`: the latest version again (compatible
    changes only), or a new version (appended to releases.json; breaking changes allowed)."""
    if not re.fullmatch(r"v\d+(\.\d+)?", version):
        raise ContractError(f"a contract version looks like v3 or v2.1, not {version!r}")
    versions = released_versions()
    changes = check(catalog)
    if version in versions and version != versions[-1]:
        raise ContractError(f"{version} is an older release; snapshots of older versions never change")
    if version == versions[-1] and breaking(changes):
        raise ContractError("breaking changes need a new contract version:\n  "
                            + "\n  ".join(map(str, breaking(changes))))
    target = SCHEMAS / version
    if target.exists():
        for old in target.rglob("*.json"):
            old.unlink()
    for path, schema in generate(catalog).items():
        (target / path).parent.mkdir(parents=True, exist_ok=True)
        (target / path).write_text(render(schema))
    if version not in versions:
        RELEASES.write_text(json.dumps({"versions": [*versions, version]}, indent=2) + "\n")
    return changes
