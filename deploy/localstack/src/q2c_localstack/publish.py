"""`q2c publish TOPIC`: contract messages from JSON lines, checked before anything is sent
(docs/operations.md). `prepare` is pure: it turns the lines into records or into the list of
what is wrong; `send` publishes them and, with `wait`, reports what answers each one."""

import asyncio
import json
import re
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any, Literal

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError as SchemaError
from pydantic import BaseModel, ValidationError

from q2c_contracts.dataverse import DATAVERSE_NOTIFICATIONS, DataverseChange
from q2c_contracts.scm import ScmCommand
from q2c_contracts.topics import SCM_COMMAND_RESULTS
from q2c_messaging.catalog import TopicCatalog
from q2c_messaging.security import KafkaCredentials

from .probe import Record, TopicProbe

OUTSIDE = frozenset({"sales", "scm-users"})  # the catalog's outside parties: who writes input topics
CHANGES = re.compile(r"dataverse\.(?P<table>\w+)\.changes")
# The command types each command topic takes (docs/contract.md §4, §4.1): a prefix or a name.
COMMAND_TYPES: dict[str, tuple[str, ...]] = {
    "scm.quote.commands": ("quote.", "processor.run"),
    "scm.order.commands": ("order.",),
    "scm.invoice.commands": ("invoice.",),
    "scm.feature.commands": ("feature.set", "parameter.set"),
}
# Where a command names its document when it has no `target` (docs/contract.md §4: a create
# that names its number, invoice.post by the sales order, a feature command by the name).
KEY_FIELDS = ("quotation_number", "sales_order_number", "feature", "name")

Kind = Literal["change", "command"]


class PublishError(ValueError):
    """What is wrong with the input, one line per problem; nothing was sent."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Outgoing:
    line: int
    topic: str
    key: str
    value: dict[str, Any]
    kind: Kind

    @property
    def id(self) -> str:
        return str(self.value["message_id" if self.kind == "change" else "command_id"])


def input_topics(catalog: TopicCatalog) -> list[str]:
    """The external input topics: written only by Sales or SCM users (never a DLQ)."""
    return sorted(s.name for s in catalog if s.writers <= OUTSIDE and not s.dead_letter)


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_id() -> str:
    return str(uuid.uuid4())


@cache
def _validator(topic: str) -> Draft202012Validator:
    """The topic's JSON Schema as `make contract-release` writes it: the contract models plus,
    for Dataverse tables, the record's columns from the adapter's table maps."""
    from q2c_messaging.catalog import load_catalog

    from .contract import topic_schema

    return Draft202012Validator(topic_schema(load_catalog()[topic]))


def prepare(topic: str, lines: Iterable[str], catalog: TopicCatalog, *,
            now: Callable[[], str] = utc_now, make_id: Callable[[], str] = new_id) -> list[Outgoing]:
    """Every non-blank line as a record to send, or PublishError naming each bad line and field."""
    allowed = input_topics(catalog)
    if topic not in allowed:
        raise PublishError([f"{topic} is not an input topic of the catalog; q2c publish sends to "
                            f"{', '.join(allowed)}"])
    changes = CHANGES.fullmatch(topic)
    kind: Kind = "change" if changes else "command"
    out: list[Outgoing] = []
    problems: list[str] = []
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            problems.append(f"line {number}: not JSON: {exc.msg} (column {exc.colno})")
            continue
        if not isinstance(value, dict):
            problems.append(f"line {number}: not a JSON object")
            continue
        if changes:
            found, key = _change(changes["table"], value, now, make_id)
        else:
            found, key = _command(topic, value, now, make_id)
        found = found or _model_problems(DataverseChange if changes else ScmCommand, value) \
            or _schema_problems(topic, value)
        if found:
            problems += [f"line {number}: {problem}" for problem in found]
        else:
            out.append(Outgoing(number, topic, key, value, kind))
    if problems:
        raise PublishError(problems)
    if not out:
        raise PublishError(["no message on stdin (one JSON object per line)"])
    return out


def _change(table: str, value: dict[str, Any], now: Callable[[], str],
            make_id: Callable[[], str]) -> tuple[list[str], str]:
    """Fill what Sales would and derive the key: the row's primary id (docs/contract.md §1)."""
    value.setdefault("message_id", make_id())
    value.setdefault("occurred_at", now())
    value.setdefault("table", table)
    if value["table"] != table:
        return [f"table: {value['table']!r} does not travel on dataverse.{table}.changes (table {table!r})"], ""
    record = value.get("record")
    primary = f"{table}id"
    if isinstance(record, dict) and record.get(primary) is None:
        if value.get("operation") == "create":
            record[primary] = make_id()  # a new row: Sales gives it its id
        elif value.get("operation") in ("update", "delete"):
            return [f"record.{primary}: required on an {value['operation']}: the row's primary id is the "
                    f"record key"], ""
    key = record.get(primary) if isinstance(record, dict) else None
    return [], str(key) if key is not None else ""


def _command(topic: str, value: dict[str, Any], now: Callable[[], str],
             make_id: Callable[[], str]) -> tuple[list[str], str]:
    """Fill what an SCM client would and derive the key: the document's number, else the id."""
    value.setdefault("command_id", make_id())
    value.setdefault("issued_at", now())
    type_ = value.get("type")
    allowed = COMMAND_TYPES[topic]
    if isinstance(type_, str) and type_ and not any(
            type_ == a or (a.endswith(".") and type_.startswith(a)) for a in allowed):
        names = ", ".join(a + "*" if a.endswith(".") else a for a in allowed)
        return [f"type: {type_!r} is not a command of {topic} ({names})"], ""
    return [], command_key(value)


def command_key(command: dict[str, Any]) -> str:
    """docs/contract.md §4: the document number (`target`, or the number a create or an
    invoice.post names in `data`), the feature or parameter name, else the command id."""
    if isinstance(command.get("target"), str) and command["target"]:
        return str(command["target"])
    data = command.get("data")
    if isinstance(data, dict):
        for name in KEY_FIELDS:
            if isinstance(data.get(name), str) and data[name]:
                return str(data[name])
    return str(command["command_id"])


def _model_problems(model: type[BaseModel], value: dict[str, Any]) -> list[str]:
    """What q2c's consumer would refuse (to the DLQ): the contract model's errors."""
    try:
        model.model_validate(value)
    except ValidationError as exc:
        return [f"{'.'.join(map(str, e['loc'])) or '(message)'}: {e['msg']}" for e in exc.errors()]
    return []


REQUIRED = re.compile(r"'(?P<name>[^']+)' is a required property")


def _schema_problems(topic: str, value: dict[str, Any]) -> list[str]:
    """The topic's JSON Schema: the record's columns, their types and option values."""
    problems = []
    for error in sorted(_validator(topic).iter_errors(value), key=lambda e: list(map(str, e.absolute_path))):
        path = [str(p) for p in error.absolute_path]
        required = REQUIRED.fullmatch(error.message) if error.validator == "required" else None
        if required:
            problems.append(f"{'.'.join([*path, required['name']])}: required")
        else:
            problems.append(f"{'.'.join(path) or '(message)'}: {_say(error)}")
    return problems


def _say(error: SchemaError) -> str:
    """A schema error in a reader's words ("expected string or null, got 3")."""
    if error.validator == "anyOf":
        kinds = []
        for option in error.validator_value:
            if "enum" in option:
                kinds.append("one of " + ", ".join(map(json.dumps, option["enum"])))
            elif "type" in option:
                kinds.append(str(option["type"]))
        if kinds:
            return f"expected {' or '.join(kinds)}, got {json.dumps(error.instance)}"
    if error.validator == "enum":
        return f"expected one of {', '.join(map(json.dumps, error.validator_value))}, got {json.dumps(error.instance)}"
    if error.validator == "type":
        return f"expected {error.validator_value}, got {json.dumps(error.instance)}"
    return error.message


# --- sending and waiting ----------------------------------------------------------------------

def answer_topics(catalog: TopicCatalog, outgoing: list[Outgoing]) -> list[str]:
    """Where the answers come: command results; or the Sales writes and notifications."""
    if outgoing and outgoing[0].kind == "command":
        return [SCM_COMMAND_RESULTS]
    writes = sorted(s.name for s in catalog if s.name.startswith("dataverse.") and s.name.endswith(".writes"))
    return [DATAVERSE_NOTIFICATIONS, *writes]


def answers(outgoing: Outgoing, record: Record) -> bool:
    """Whether `record` answers `outgoing` (docs/contract.md §2-§4.2): a command's result; a
    Sales change's notification, or a write of its flow (caused by it, or correlated with it)."""
    try:
        value = record.value
    except ValueError:
        return False
    if not isinstance(value, dict):
        return False
    if outgoing.kind == "command":
        return record.topic == SCM_COMMAND_RESULTS and record.key == outgoing.id
    if record.topic == DATAVERSE_NOTIFICATIONS and value.get("refused_message_id") == outgoing.id:
        return True
    # A write answering an SCM event names the event in `caused_by`; the flow's correlation id
    # (the header the outbox puts on every record) is still the Sales change's message_id.
    return outgoing.id in (value.get("caused_by"), record.headers.get("correlation_id"))


Answer = Callable[[Outgoing, Record], None]


async def send(bootstrap: str, outgoing: list[Outgoing], answer_topics: list[str], *, wait: bool,
               timeout: float, on_answer: Answer, login: KafkaCredentials | None = None) -> list[Outgoing]:
    """Publish every record in order; with `wait`, report each answer as it arrives until
    every record has one or `timeout` passes. Returns the records nothing answered."""
    # The probe reads the answer topics from their current end, set before anything is sent,
    # so an answer cannot slip in between.
    async with TopicProbe(bootstrap, answer_topics if wait else [], credentials=login) as probe:
        await probe.publish_many([(o.topic, o.key, o.value) for o in outgoing])
        if not wait:
            return []
        pending = {o.id: o for o in outgoing}
        seen = 0
        deadline = time.monotonic() + timeout
        while pending:
            for record in probe.records[seen:]:
                for o in [o for o in pending.values() if answers(o, record)]:
                    on_answer(o, record)
                    pending.pop(o.id, None)
            seen = len(probe.records)
            remaining = deadline - time.monotonic()
            if not pending or remaining <= 0:
                break
            try:
                await probe.wait_past(seen, timeout=remaining)
            except TimeoutError:
                break
        return sorted(pending.values(), key=lambda o: o.line)


def run_send(bootstrap: str, outgoing: list[Outgoing], topics: list[str], *, wait: bool, timeout: float,
             on_answer: Answer, login: KafkaCredentials | None = None) -> list[Outgoing]:
    return asyncio.run(send(bootstrap, outgoing, topics, wait=wait, timeout=timeout, on_answer=on_answer,
                            login=login))
