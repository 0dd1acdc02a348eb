"""The adapter's decisions, pure: given a change and what the adapter knows (its mirror of
the Sales row, whether the parent document exists, SCM's current record), which effects
follow — commands to forward, rows to write to Sales, a notification, a row to hold. No
Kafka, no database: `sync.py` loads the inputs and carries the effects out.

Rules (docs/dual-write-adapter.md): a Sales change becomes commands for the SCM service that
owns the document, unless its map refuses it (then one notification and a write that puts
the row back); a child row waits for its parent; an SCM record is written to Sales unless
Sales already has it, and after a change Sales caused only SCM-owned columns (and columns
Sales left empty) count, so Sales never gets its own values echoed.

Every Sales change gets an answer (DOMAIN.md §5): a value SCM cannot hold (a decimal out of
range or with too many decimals, a text longer than its column, a state pair that is no
lifecycle step) is refused here with `command.invalid`, one notification naming the column
and a write that puts the row back; the limits come from the column types
(`dataverse.COLUMN_TYPES`), so every map gets them."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from q2c_contracts import limits, refusals
from q2c_contracts.dataverse import DataverseChange

from . import dataverse
from .tablemap import REFUSALS, Features, MappingFailed, TableMap

LookedUp = Mapping[tuple[str, str], Mapping[str, Any]]


@dataclass(frozen=True)
class Mirror:
    """The adapter's last known Sales row: what Sales sent, merged with what q2c wrote."""

    record: dict[str, Any]
    primary_id: str | None = None
    deleted: bool = False


# --- effects --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RecordChange:
    """Remember the Sales change (to answer a refusal of its commands once)."""


@dataclass(frozen=True)
class Forward:
    """A command for the SCM service, issued by Sales."""

    type: str
    target: str
    data: dict[str, Any]


@dataclass(frozen=True)
class SaveRow:
    key: str
    record: dict[str, Any]
    primary_id: str | None = None
    deleted: bool = False


@dataclass(frozen=True)
class Write:
    """A write to Sales (`dataverse.<table>.writes`)."""

    operation: Literal["upsert", "delete"]
    record: dict[str, Any]


@dataclass(frozen=True)
class Notify:
    code: str
    text: str


@dataclass(frozen=True)
class Hold:
    """The row's parent is not known yet: keep the change until it is."""

    parent_key: str


@dataclass(frozen=True)
class ReleaseHeld:
    """The document now exists: its held children may go."""

    key: str


@dataclass(frozen=True)
class Skipped:
    """Nothing to do, and why (logged)."""

    reason: str
    details: dict[str, Any] = field(default_factory=dict)


Effect = RecordChange | Forward | SaveRow | Write | Notify | Hold | ReleaseHeld | Skipped


def live(mirror: Mirror | None) -> Mirror | None:
    """The mirror row if Sales still has it."""
    return mirror if mirror is not None and not mirror.deleted else None


# --- Sales → SCM ----------------------------------------------------------------------------------

def sales_change(tmap: TableMap, change: DataverseChange, *, mirror: Mirror | None, parent_known: bool,
                 authoritative: Mapping[str, Any] | None, features: Features,
                 looked_up: LookedUp | None = None) -> list[Effect]:
    """What a Sales change of `tmap`'s table leads to. `authoritative` is SCM's current record
    of the row (to restore it after a refusal), None when SCM has none."""
    record = change.record
    key = tmap.key_string(record)
    row = live(mirror)
    if tmap.refuse_sales_changes is not None:
        return [RecordChange(), *refuse(tmap, key, tmap.refuse_sales_changes, authoritative, mirror, features,
                                        looked_up)]
    assert tmap.commands is not None  # a map that reads changes forwards or refuses them (validated)
    if change.operation != "delete":
        problem = value_problem(tmap, record) or state_problem(tmap, row.record if row else None, record, features)
        if problem is not None:
            return [RecordChange(), *refuse(tmap, key, COMMAND_INVALID, authoritative, mirror, features, looked_up,
                                            text=problem)]
    if tmap.parent is not None and not parent_known:
        return [Hold(tmap.parent_key(key))]
    target = tmap.parent_key(key) if tmap.parent else key
    primary_id = record.get(tmap.sales.primary_id) if tmap.sales.primary_id else None
    effects: list[Effect] = [RecordChange()]
    if change.operation == "delete":
        if row is None:
            return [*effects, Skipped("delete of a row q2c does not have", {"key": key})]
        return [*effects, SaveRow(key, row.record, primary_id, deleted=True),
                Forward(tmap.commands.delete, target, tmap.key_command_data(row.record))]
    if row is None:
        if change.operation == "update" and tmap.parent is None:
            raise MappingFailed(f"update of {tmap.sales.table} {key}, which Sales never created here")
        refused = _refused_create(tmap, record)
        if refused:
            return [*effects, *refuse(tmap, key, refused, authoritative, mirror, features, looked_up)]
        created: list[Effect] = [SaveRow(key, dict(record), primary_id),
                                 Forward(tmap.commands.create, target, tmap.command_data(record, features))]
        return [*effects, *created, *([ReleaseHeld(key)] if tmap.parent is None else [])]
    if change.operation == "create" and _is_second_row(tmap, row, record, primary_id):
        return [*effects, Forward(tmap.commands.create, target, tmap.command_data(record, features))]
    changed = {c for c in record if not tmap.same(row.record, record, {c})}
    states = tmap.state_changes
    if states is not None and states.refuse and changed & set(states.columns):
        return [*effects, *refuse(tmap, key, states.refuse, authoritative, mirror, features, looked_up)]
    merged = {**row.record, **record}
    effects.append(SaveRow(key, merged, primary_id))
    data = tmap.command_data(merged, features, changed)
    if data:
        effects.append(Forward(tmap.commands.update, target, {**data, **tmap.key_command_data(merged)}))
    if states is not None and states.steps and states.columns[0] in changed:
        effects.append(_step(tmap, row.record, merged, target, features))
    return effects


COMMAND_INVALID = refusals.COMMAND_INVALID


def value_problem(tmap: TableMap, record: Mapping[str, Any]) -> str | None:
    """What is wrong with a value of the change that SCM cannot hold, naming the column
    (DOMAIN.md §5, docs/domain-limits.md), or None. JSON types were checked at parse time."""
    types = dataverse.COLUMN_TYPES[tmap.sales.table]
    for column, value in record.items():
        kind = types.get(column)
        if value is None or kind is None:
            continue
        if kind == dataverse.MONEY:
            problem = limits.money_problem(value)
        elif kind == dataverse.QUANTITY:
            problem = limits.quantity_problem(value)
        elif kind == dataverse.TEXT and isinstance(value, str):
            problem = limits.text_problem(value, limits.text_limit(column))
        else:
            problem = None
        if problem is not None:
            return f"{column} {problem}"
    return None


def state_problem(tmap: TableMap, old: Mapping[str, Any] | None, record: Mapping[str, Any],
                  features: Features) -> str | None:
    """A Sales state that is not one of the map's `pairs`, or (on an update, while the
    lifecycle is integrated) a change of the state that is no lifecycle step, named by its
    columns; None when fine or not a lifecycle map."""
    states = tmap.state_changes
    if states is None or not states.steps or not set(states.columns) & set(record):
        return None
    columns = "/".join(states.columns)
    new = {**(old or {}), **record}
    shown = "/".join(str(new.get(c)) for c in states.columns)
    present = [n for n, c in enumerate(states.columns) if new.get(c) is not None]
    if states.pairs and not any(all(pair[n] == new.get(states.columns[n]) for n in present) for pair in states.pairs):
        valid = ", ".join("/".join(map(str, pair)) for pair in states.pairs)
        return f"{columns} must be a {tmap.sales.table} state ({valid}), got {shown}"
    first = states.columns[0]
    integrated = not states.when_feature or features.get(states.when_feature, True)
    if integrated and old is not None and first in record and new.get(first) != old.get(first) \
            and _step_of(tmap, new) is None:
        before = "/".join(str(old.get(c)) for c in states.columns)
        return f"{columns} {before} → {shown} is not a lifecycle step"
    return None


def _step_of(tmap: TableMap, new: Mapping[str, Any]) -> Any:
    assert tmap.state_changes is not None
    return next((s for s in tmap.state_changes.steps if all(new.get(c) == v for c, v in s.to.items())), None)


def _refused_create(tmap: TableMap, record: Mapping[str, Any]) -> str | None:
    """The refusal code when a create carries state values Sales may not set."""
    states = tmap.state_changes
    if states is None or not states.refuse or states.allowed_on_create is None:
        return None
    for column, allowed in states.allowed_on_create.items():
        if record.get(column) not in allowed:
            return states.refuse
    return None


def _is_second_row(tmap: TableMap, row: Mirror, record: Mapping[str, Any], primary_id: str | None) -> bool:
    """A create for a row we know is either Sales echoing the row q2c wrote (it comes back
    with the primary id Sales gave it: docs/contract.md §1), or a second row that takes a
    number that exists, which goes to the SCM service to be refused with number.collision."""
    if row.primary_id is not None:
        return primary_id != row.primary_id
    # no id seen yet: an echo carries what q2c wrote; another row has values of its own
    ignored = {tmap.sales.primary_id} if tmap.sales.primary_id else set()
    return not tmap.same(row.record, record, set(record) & set(row.record) - ignored)


def _step(tmap: TableMap, old: Mapping[str, Any], new: Mapping[str, Any], target: str,
          features: Features) -> Effect:
    """The lifecycle command of a Sales state change. A step Sales' own rules forbid (say
    Draft→Won) is still forwarded: the SCM side refuses it and Sales is told why."""
    states = tmap.state_changes
    assert states is not None
    step = _step_of(tmap, new)
    if step is None:  # refused before (state_problem); kept for a map without pairs
        shown = "/".join(str(new.get(c)) for c in states.columns)
        raise MappingFailed(f"Sales state {old.get(states.columns[0])} → {shown} of {tmap.sales.table} {target} "
                            "is not a lifecycle step")
    if states.when_feature and not features.get(states.when_feature, True):
        # DOMAIN.md §2: with the lifecycle feature off, Sales state changes do not reach SCM.
        return Skipped("lifecycle not integrated", {"command": step.command, "target": target})
    return Forward(step.command, target, {})


def refuse(tmap: TableMap, key: str, code: str, authoritative: Mapping[str, Any] | None, mirror: Mirror | None,
           features: Features, looked_up: LookedUp | None = None, text: str | None = None) -> list[Effect]:
    """One notification and a write that puts the Sales row back. The adapter refuses from its
    own copy of SCM, which can lag: a row Sales has (a live mirror row) that the copy does not
    show yet is on its way through SCM, so Sales gets its last good values back, not a delete."""
    notify = Notify(code, text if text is not None else REFUSALS[code])
    row = live(mirror)
    if authoritative is None and row is not None:
        record = {c: v for c, v in row.record.items() if c in tmap.written_columns}
        return [notify, Write("upsert", record)]
    return [notify, *restore(tmap, key, authoritative, mirror, features, looked_up)]


def restore(tmap: TableMap, key: str, authoritative: Mapping[str, Any] | None, mirror: Mirror | None,
            features: Features, looked_up: LookedUp | None = None) -> list[Effect]:
    """Sales gets SCM's values back; a row SCM does not have is deleted in Sales."""
    if authoritative is None:
        return [Write("delete", tmap.key_record(key)),
                SaveRow(key, mirror.record if mirror else {}, deleted=True)]
    return scm_record(tmap, authoritative, mirror=mirror, features=features, force=True, looked_up=looked_up)


# --- SCM → Sales ----------------------------------------------------------------------------------

def scm_record(tmap: TableMap, scm: Mapping[str, Any], *, mirror: Mirror | None, features: Features,
               sales_caused: bool = False, force: bool = False, looked_up: LookedUp | None = None,
               mapped: dict[str, Any] | None = None) -> list[Effect]:
    """Upsert the full mapped record, unless Sales already has it. After a Sales-caused
    change only SCM-owned columns and columns Sales left empty count, and Sales keeps its
    own values of the rest. `mapped`: `tmap.to_sales(scm, features, looked_up)`, when the
    caller has it already (the initial sync maps each record once: mapping is its main cost)."""
    record = mapped if mapped is not None else tmap.to_sales(scm, features, looked_up)
    key = tmap.key_string(record)
    row = live(mirror)
    if row is not None and not force:
        if sales_caused:
            owned = tmap.scm_owned_columns(features)
            filled = {c for c, v in record.items() if v is not None and row.record.get(c) is None}
            if tmap.same(row.record, record, owned | filled):
                return []
            record = {**record, **{c: row.record[c] for c in record
                                   if c not in owned and row.record.get(c) is not None}}
        elif tmap.same(row.record, record, set(record)):
            return []
    merged = {**(row.record if row else {}), **record}
    return [Write("upsert", record), SaveRow(key, merged, mirror.primary_id if mirror else None)]


def delete_in_sales(tmap: TableMap, key: str, mirror: Mirror | None) -> list[Effect]:
    if live(mirror) is None:
        return []
    assert mirror is not None
    return [Write("delete", tmap.key_record(key)), SaveRow(key, mirror.record, deleted=True)]


def scm_key(tmap: TableMap, scm: Mapping[str, Any]) -> str:
    """The SCM record's key as the Sales key string (key fields map one to one)."""
    return "/".join(str(scm[k]) for k in tmap.scm.key)


def record_of(tmap: TableMap, document: Mapping[str, Any] | None, key: str) -> dict[str, Any] | None:
    """SCM's record of one Sales row within its document, if SCM has it."""
    if document is None or not tmap.applies_to(document):
        return None
    return next((r for r in tmap.scm_records(document) if scm_key(tmap, r) == key), None)


def gone_rows(tmap: TableMap, before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> list[str]:
    """Keys of rows SCM had and has no more (deleted in SCM). A Sales row SCM has not seen
    yet is on its way there, not gone."""
    had = {scm_key(tmap, r) for r in tmap.scm_records(before)} if before else set()
    return sorted(had - {scm_key(tmap, r) for r in tmap.scm_records(after)})
