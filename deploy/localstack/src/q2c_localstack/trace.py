"""`q2c trace NUMBER`: one document's timeline across Sales and SCM, read from the topics only
(docs/operations.md). `read_topics` takes every record up to the end offsets of the moment;
`timeline` (pure) picks those that concern the document and the status after each step."""

import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from q2c_messaging.security import KafkaCredentials, security_kwargs

from .probe import Record

CHANGES = re.compile(r"dataverse\.(?P<table>\w+)\.changes")
WRITES = re.compile(r"dataverse\.(?P<table>\w+)\.writes")
COMMANDS = re.compile(r"scm\.\w+\.commands")
# The alternate-key column that holds a document's number, per Dataverse table (contract §1, §2)
NUMBER_COLUMNS = {"quote": "msdyn_quotenumber", "quotedetail": "msdyn_quotenumber",
                  "salesorder": "msdyn_salesordernumber", "salesorderdetail": "msdyn_salesordernumber",
                  "invoice": "msdyn_invoicenumber", "invoicedetail": "msdyn_invoicenumber"}
HEADERS = ("quote", "salesorder", "invoice")  # the tables whose row carries the document's status
DATA_NUMBERS = ("quotation_number", "sales_order_number")  # a command's data naming a document
EVENT_STATE = {"scm.quote.events": "quotation", "scm.order.events": "order", "scm.invoice.events": "invoice"}

# docs/contract.md §6.1: Sales statecode / statuscode names per table
STATES: dict[str, tuple[dict[int, str], dict[int, str]]] = {
    "quote": ({0: "Draft", 1: "Active", 2: "Won", 3: "Closed"},
              {1: "In Progress", 2: "In Progress", 3: "Open", 4: "Won", 5: "Lost", 6: "Canceled", 7: "Revised"}),
    "salesorder": ({0: "Active", 1: "Submitted", 2: "Canceled", 3: "Fulfilled", 4: "Invoiced"},
                   {1: "New", 2: "Pending", 690970000: "On hold", 3: "In Progress", 4: "No Money",
                    100001: "Complete", 100002: "Partial", 100003: "Invoiced"}),
    "invoice": ({0: "Active", 1: "Closed", 2: "Paid", 3: "Canceled"},
                {1: "New", 2: "Partially Shipped", 4: "Billed", 5: "Booked", 6: "Installed", 3: "Canceled",
                 7: "Paid in Full", 100001: "Complete", 100002: "Partial", 100003: "Canceled"}),
}
# §6.4: msdyn_processingstatus
PROCESSING = {192350000: "active", 192350001: "confirmed", 192350002: "picked", 192350003: "partiallydelivered",
              192350004: "delivered", 192350005: "invoiced", 192350006: "partiallyinvoiced", 192350007: "canceled",
              192350008: "deliveredpartiallyinvoiced"}


class NotFound(LookupError):
    pass


@dataclass
class Status:
    sales: str = ""
    scm: str = ""
    processing: str = ""


@dataclass(frozen=True)
class Step:
    time: str
    topic: str
    partition: int
    offset: int
    key: str | None
    correlation_id: str | None
    document: str
    what: str
    sales: str
    scm: str
    processing: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Item:
    record: Record
    value: dict[str, Any]
    names: set[str] = field(default_factory=set)  # document numbers the record is about
    links: list[tuple[str, str]] = field(default_factory=list)  # (document, linked document)
    ids: set[str] = field(default_factory=set)  # the record's own message / command ids


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _analyse(record: Record) -> _Item | None:
    try:
        value = record.value
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    item = _Item(record, value)
    topic = record.topic
    names, links = item.names, item.links

    def name(*candidates: object) -> None:
        names.update(c for c in map(_str, candidates) if c)

    if changes := CHANGES.fullmatch(topic):
        row = value.get("record") if isinstance(value.get("record"), dict) else {}
        name(row.get(NUMBER_COLUMNS.get(changes["table"], "")))
        if changes["table"] == "salesorder" and _str(row.get("msdyn_quotationnumber")):
            links.append((row.get("msdyn_salesordernumber"), row["msdyn_quotationnumber"]))
        item.ids.add(str(value.get("message_id")))
    elif writes := WRITES.fullmatch(topic):
        alternate = value.get("alternate_key") if isinstance(value.get("alternate_key"), dict) else {}
        name(alternate.get(NUMBER_COLUMNS.get(writes["table"], "")))
        row = value.get("record") if isinstance(value.get("record"), dict) else {}
        number = alternate.get(NUMBER_COLUMNS.get(writes["table"], ""))
        for column in ("msdyn_quotationnumber", "msdyn_salesordernumber", "msdyn_generatedsalesordernumber"):
            if _str(row.get(column)) and row[column] != number:
                links.append((number, row[column]))
    elif topic == "dataverse.notifications":
        alternate = value.get("alternate_key") if isinstance(value.get("alternate_key"), dict) else {}
        name(*(alternate.get(c) for c in set(NUMBER_COLUMNS.values())))
    elif COMMANDS.fullmatch(topic):
        data = value.get("data") if isinstance(value.get("data"), dict) else {}
        name(value.get("target"), *(data.get(f) for f in DATA_NUMBERS))
        item.ids.add(str(value.get("command_id")))
    elif topic == "scm.command.results":
        name(value.get("target"))
    elif topic in EVENT_STATE:
        state = value.get(EVENT_STATE[topic]) if isinstance(value.get(EVENT_STATE[topic]), dict) else {}
        name(record.key)
        for column in ("GENERATEDSALESORDERNUMBER", "QUOTATIONNUMBER", "SALESORDERNUMBER"):
            if _str(state.get(column)) and state[column] != record.key:
                links.append((record.key, state[column]))  # type: ignore[arg-type]
    elif topic == "scm.processor.events":
        name(value.get("document"))
    elif "payload" in value and "key" in value:  # an internal envelope, keyed by the document
        name(str(value["key"]).split("/")[0])
        item.ids.add(str(value.get("message_id")))
    item.links = [(a, b) for a, b in links if _str(a) and _str(b)]
    return item


def _correlation(item: _Item) -> str | None:
    value, headers = item.value, item.record.headers
    return (headers.get("correlation_id") or _str(value.get("correlation_id")) or _str(value.get("message_id"))
            or _str(value.get("command_id")))


def timeline(records: Iterable[Record], number: str, *, only: bool = False) -> list[Step]:
    """The records that concern document `number` (or the Dataverse row with that primary id),
    and its linked documents unless `only`, in the order they were sent."""
    items = [i for i in map(_analyse, records) if i is not None]
    numbers = {number}
    if not any(number in i.names for i in items):
        rows = [i for i in items if CHANGES.fullmatch(i.record.topic) and (i.record.key == number or number in (
            i.value.get("record") or {}).values())]
        numbers = set().union(*(i.names for i in rows))
        if not numbers:
            raise NotFound(f"no record on the topics names {number} (a quotation, order or invoice number, "
                           f"or a Dataverse primary id)")
    if not only:
        grown = True
        while grown:
            before = len(numbers)
            for i in items:
                for a, b in i.links:
                    if a in numbers or b in numbers:
                        numbers |= {a, b}
            grown = len(numbers) > before
    # Dataverse primary ids of those rows: an update may name its row by the id alone
    primary = {str(i.record.key): min(i.names & numbers) for i in items
               if CHANGES.fullmatch(i.record.topic) and i.names & numbers}
    roots: set[str] = set()  # ids of the Sales changes and SCM commands about the documents
    for i in items:
        if (i.names & numbers or i.record.key in primary) and (CHANGES.fullmatch(i.record.topic)
                                                               or COMMANDS.fullmatch(i.record.topic)):
            roots |= i.ids
        if i.record.topic == "scm.command.results" and i.names & numbers:
            roots.add(str(i.value.get("command_id")))  # a create's command has no number yet
    chosen = []
    for i in items:
        key_root = (i.record.key or "").split("/")[0]
        value = i.value
        if only and i.names and not i.names & numbers:
            continue  # another document, in this one's flow (the quotation an order links to)
        if (i.names & numbers or key_root in numbers and not COMMANDS.fullmatch(i.record.topic)
                or (CHANGES.fullmatch(i.record.topic) and i.record.key in primary)
                or i.ids & roots or _correlation(i) in roots
                or value.get("caused_by") in roots or value.get("refused_message_id") in roots
                or (i.record.topic == "scm.command.results" and value.get("command_id") in roots)):
            chosen.append(i)
    chosen.sort(key=lambda i: (i.record.timestamp, i.record.topic, i.record.partition, i.record.offset))
    status: dict[str, Status] = {}
    steps = []
    for i in chosen:
        document = (min(i.names & numbers, default=None) or primary.get(str(i.record.key))
                    or (i.record.key or "").split("/")[0])
        now = status.setdefault(document, Status())
        _advance(now, i)
        steps.append(Step(
            time=datetime.fromtimestamp(i.record.timestamp / 1000, UTC).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            topic=i.record.topic, partition=i.record.partition, offset=i.record.offset, key=i.record.key,
            correlation_id=_correlation(i), document=document, what=describe(i.record.topic, i.value),
            sales=now.sales, scm=now.scm, processing=now.processing))
    return steps


def _sales_state(table: str, row: dict[str, Any]) -> str | None:
    state, status = row.get("statecode"), row.get("statuscode")
    if table not in STATES or not isinstance(state, int) or not isinstance(status, int):
        return None
    states, statuses = STATES[table]
    return f"{states.get(state, '?')}/{statuses.get(status, '?')} {state}/{status}"


def _advance(now: Status, item: _Item) -> None:
    """The document's status after this record (docs/operations.md, "Status columns")."""
    topic, value = item.record.topic, item.value
    table_match = CHANGES.fullmatch(topic) or WRITES.fullmatch(topic)
    if table_match and table_match["table"] in HEADERS and isinstance(value.get("record"), dict):
        row = value["record"]
        if value.get("operation") == "delete":
            now.sales = "deleted"
        elif sales := _sales_state(table_match["table"], row):
            now.sales = sales
        if isinstance(row.get("msdyn_processingstatus"), int) and WRITES.fullmatch(topic):
            now.processing = PROCESSING.get(row["msdyn_processingstatus"], str(row["msdyn_processingstatus"]))
    elif topic in EVENT_STATE and isinstance(value.get(EVENT_STATE[topic]), dict):
        state = value[EVENT_STATE[topic]]
        if value.get("type") == "quote.deleted" or value.get("type") == "order.deleted":
            now.scm = "deleted"
        elif topic == "scm.quote.events":
            now.scm = str(state.get("SALESQUOTATIONSTATUS", ""))
        elif topic == "scm.order.events":
            now.scm = str(state.get("SALESORDERSTATUS", ""))
            now.processing = str(state.get("SALESORDERPROCESSINGSTATUS", now.processing))
        else:
            now.scm = "posted"
    elif topic == "scm.processor.events":
        now.processing = f"{value.get('type')}: {value.get('state')}"


def describe(topic: str, value: dict[str, Any]) -> str:
    """One line: what this record says."""
    if changes := CHANGES.fullmatch(topic):
        row = value.get("record") if isinstance(value.get("record"), dict) else {}
        columns = ", ".join(f"{k}={json.dumps(v)}" for k, v in row.items()
                            if k in ("statecode", "statuscode", "sequencenumber", "msdyn_quotationnumber"))
        return f"Sales {value.get('operation')} {changes['table']}" + (f" ({columns})" if columns else "")
    if writes := WRITES.fullmatch(topic):
        key = "/".join(str(v) for v in (value.get("alternate_key") or {}).values())
        return f"write {value.get('operation')} {writes['table']} {key}"
    if topic == "dataverse.notifications":
        return f"notification {value.get('level')} {value.get('code')}: {value.get('text')}"
    if COMMANDS.fullmatch(topic):
        return f"SCM command {value.get('type')} {value.get('target') or ''}".rstrip()
    if topic == "scm.command.results":
        text = f"result {value.get('type')} {value.get('outcome')}"
        if value.get("code"):
            text += f" {value['code']}: {value.get('text')}"
        return text + (f" -> {value['target']}" if value.get("target") else "")
    if topic in EVENT_STATE:
        return f"SCM event {value.get('type')} v{value.get('version')}"
    if topic == "scm.processor.events":
        return f"processor {value.get('type')} {value.get('state')}" + (
            f": {value['error']}" if value.get("error") else "")
    payload = value.get("payload") if isinstance(value.get("payload"), dict) else {}
    issuer = payload.get("issuer") if isinstance(payload.get("issuer"), dict) else {}
    detail = " ".join(str(v) for v in (payload.get("type"), payload.get("action"), issuer.get("system"),
                                       payload.get("decision"), payload.get("outcome"), payload.get("code"))
                      if v is not None)
    return f"{value.get('type')} {detail}".rstrip()


async def read_topics(bootstrap: str, topics: list[str], login: KafkaCredentials | None = None) -> list[Record]:
    """Every record of `topics` from the beginning up to the end offsets of this moment."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                **security_kwargs(login))
    await consumer.start()
    try:
        partitions = []
        for topic in topics:
            ids = consumer.partitions_for_topic(topic)
            if ids is None:
                await consumer._client.force_metadata_update()  # noqa: SLF001
                ids = consumer.partitions_for_topic(topic) or set()
            partitions += [TopicPartition(topic, p) for p in ids]
        ends = {tp: end for tp, end in (await consumer.end_offsets(partitions)).items() if end > 0}
        consumer.assign(list(ends))
        if not ends:
            return []
        await consumer.seek_to_beginning(*ends)
        records: list[Record] = []
        while True:
            done = [tp for tp in ends if await consumer.position(tp) >= ends[tp]]
            if len(done) == len(ends):
                return records
            batches = await consumer.getmany(timeout_ms=500)
            records += [Record(m.topic, m.partition, m.offset, m.key.decode(errors="replace") if m.key else None,
                               m.value, {k: v.decode(errors="replace") for k, v in m.headers or ()}, m.timestamp)
                        for tp, messages in batches.items() for m in messages if m.offset < ends[tp]]
    finally:
        await consumer.stop()
