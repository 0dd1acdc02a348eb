"""An e2e fuzz run (issue 12): a few hundred generated messages, valid and nearly valid, through
the running stack; each gets exactly one observable answer and no service logs
`message.handler_failed`.

Generation reuses the Hypothesis strategies of tests/unit/fuzz, drawn under `@seed(SEED)` with
only the generate phase, so one seed gives the same messages on every run (same Hypothesis
version). `make test` runs `SMALL` messages with a fixed seed; `Q2C_FUZZ=1` (`make fuzz`) runs
`Q2C_FUZZ_STACK_MESSAGES` (default `LARGE`) with a fresh seed each time. `Q2C_FUZZ_SEED=N`
replays a seed; a failure names it.

What is sent, and what is adjusted so every message has an answer it can be held to:
- Sales quote header changes (`changes("quote")`) on `dataverse.quote.changes`. The operation is
  `create` (a drawn `update`/`delete` of a row that never existed goes to the adapter's error
  log, which no topic shows; the unit fuzz covers that path); a hostile non-`create` operation
  is kept. A string `msdyn_quotenumber`/`quoteid` becomes a fresh one, so no two messages
  touch one row; a non-string one is kept.
- Sales quote line changes (`changes("quotedetail")`) as creates on quotes made in the setup
  (known to the adapter, draft). A string quote number becomes one of those quotes, an integer
  `sequencenumber` the quote's next free one (a repeat would be an update that may change
  nothing); other types are kept.
- Sales order header and line changes (`salesorder`, `salesorderdetail`) the same way: headers
  get a fresh number, lines aim at Sales orders made in the setup. Sales invoice and invoice
  line changes (`invoice`, `invoicedetail`) with fresh ids: SCM never takes them (a refusal or
  a dead letter).
- SCM commands of every quote, order, invoice and feature type
  (tests/unit/fuzz/test_fuzz_scm_commands.py) on `scm.<kind>.commands`, aimed at SCM documents
  made in the setup (a `*.create` gets no target; an invoice's string `sales_order_number` one
  of the setup's orders). A string `command_id` becomes a fresh one (a repeat would be a
  duplicate, answered once); a non-string one is kept. A target holding U+0000 is kept.
- Feature and parameter commands name an unknown setting instead of a known one (refused): a
  change would alter what every other message means. Hostile names are kept.
- A string `message_id` becomes a fresh one; a non-string one is kept.

The answer rule, per message, with exactly one kind present:
- DLQ: a record on `<topic>.dlq` whose value equals the message (one per message sent with
  that very value: a drawn message may repeat, and only a non-string id keeps repeats alike).
- SCM command: one `scm.command.results` record keyed by its `command_id` (exactly one).
- Sales change refused: one `dataverse.notifications` record with `refused_message_id` = its
  `message_id` (exactly one).
- Sales change accepted: `scm.quote.events` (quotes) or `scm.order.events` (orders) records
  whose `caused_by` is its `message_id` (the adapter's first command carries the message id,
  later ones `<id>/<n>`).
"""

import json
import os
import random
import time
from collections import Counter
from pathlib import Path
from typing import Any
from uuid import uuid4

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from feature_state_service import domain as feature_domain
from q2c_localstack.probe import Record, TopicProbe
from tests.unit.fuzz.test_fuzz_adapter import changes
from tests.unit.fuzz.test_fuzz_scm_commands import (
    FEATURE_COMMANDS,
    INVOICE_COMMANDS,
    ORDER_COMMANDS,
    QUOTE_COMMANDS,
    commands,
)

from .order_clients import OrderClients
from .quote_clients import QuoteClients
from .sales_clients import SalesSystem

FUZZ = bool(os.environ.get("Q2C_FUZZ"))
SMALL, LARGE = 150, 600
COUNT = int(os.environ.get("Q2C_FUZZ_STACK_MESSAGES", LARGE)) if FUZZ else SMALL
SEED = int(os.environ.get("Q2C_FUZZ_SEED") or (random.SystemRandom().randrange(2**32) if FUZZ else 20261123))
BASE = 4  # documents of each kind the generated messages aim at

SALES_TABLES = ["quote", "quotedetail", "salesorder", "salesorderdetail", "invoice", "invoicedetail"]
SALES_TOPICS = {table: f"dataverse.{table}.changes" for table in SALES_TABLES}
SCM_TOPICS = {kind: f"scm.{kind}.commands" for kind in ("quote", "order", "invoice", "feature")}
NUMBER_COLUMNS = {"quote": "msdyn_quotenumber", "salesorder": "msdyn_salesordernumber",
                  "invoice": "msdyn_invoicenumber"}
# What a Sales change that SCM takes shows: the document's event caused by the change.
ACCEPTED_EVENTS = {"quote": "scm.quote.events", "salesorder": "scm.order.events"}
KNOWN_SETTINGS = {setting.name for setting in feature_domain.defaults()}
TOPICS = ["dataverse.notifications", "dataverse.quote.writes", "dataverse.quotedetail.writes",
          "dataverse.salesorder.writes", "scm.quote.events", "scm.order.events", "scm.command.results",
          "quote.sales-results", "order.sales-results",
          *[f"{t}.dlq" for t in [*SALES_TOPICS.values(), *SCM_TOPICS.values()]]]


def scm_commands(types: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.sampled_from(sorted(types)).flatmap(lambda t: commands(t, types[t][0]))


MESSAGES = st.one_of(
    *[st.tuples(st.just(table), changes(table)) for table in SALES_TABLES],
    st.tuples(st.just("scm.quote"), scm_commands(QUOTE_COMMANDS)),
    st.tuples(st.just("scm.order"), scm_commands(ORDER_COMMANDS)),
    st.tuples(st.just("scm.invoice"), scm_commands(INVOICE_COMMANDS)),
    st.tuples(st.just("scm.feature"), scm_commands(FEATURE_COMMANDS)),
)


def generate(count: int, seed_: int) -> list[tuple[str, dict[str, Any]]]:
    """`count` messages, the same for the same seed."""
    drawn: list[tuple[str, dict[str, Any]]] = []

    @settings(max_examples=count, database=None, phases=[Phase.generate], derandomize=False, deadline=None,
              suppress_health_check=list(HealthCheck))
    @seed(seed_)
    @given(MESSAGES)
    def collect(message: tuple[str, dict[str, Any]]) -> None:
        drawn.append(message)

    collect()
    return drawn[:count]


class Sent:
    def __init__(self, kind: str, topic: str, key: str | None, value: dict[str, Any]) -> None:
        self.kind, self.topic, self.key, self.value = kind, topic, key, value

    @property
    def id(self) -> str | None:
        field = "command_id" if self.kind.startswith("scm.") else "message_id"
        found = self.value.get(field)
        return found if isinstance(found, str) else None

    def answers(self, probe: TopicProbe) -> dict[str, list[Record]]:
        mid = self.id
        found = {"dlq": probe.matching(f"{self.topic}.dlq", lambda r: r.value == self.value)}
        if self.kind.startswith("scm."):
            found["result"] = probe.matching("scm.command.results", lambda r: mid is not None and r.key == mid)
        else:
            found["notification"] = probe.matching(
                "dataverse.notifications", lambda r: mid is not None and r.value.get("refused_message_id") == mid)
            events = ACCEPTED_EVENTS.get(self.kind.removesuffix("detail"))
            found["accepted"] = probe.matching(events, lambda r: mid is not None and isinstance(
                caused := r.value.get("caused_by"), str) and (caused == mid or caused.startswith(f"{mid}/"))) \
                if events else []
        return {kind: records for kind, records in found.items() if records}

    def problem(self, probe: TopicProbe, twins: int) -> str | None:
        """What breaks the answer rule; `twins`: messages sent with this very value (their
        dead letters cannot be told apart)."""
        answers = self.answers(probe)
        if len(answers) != 1:
            return f"{len(answers)} kinds of answer {sorted(answers)}"
        [(kind, records)] = answers.items()
        if kind == "dlq" and len(records) != twins:
            return f"{len(records)} dead letters for {twins} messages with this value"
        if kind not in ("accepted", "dlq") and len(records) != 1:
            return f"{len(records)} {kind} records"
        return None

    def describe(self, probe: TopicProbe) -> str:
        text = json.dumps(self.value)
        answers = {k: [r.value for r in v] for k, v in self.answers(probe).items()}
        return f"{self.kind} on {self.topic}: {text[:600]} → {json.dumps(answers)[:600]}"


class Plan:
    """Turns drawn messages into ones aimed at the setup's documents (see the module docstring)."""

    def __init__(self, run: str, rng: random.Random, sales_docs: dict[str, list[str]], sales_ids: dict[str, str],
                 scm_quotes: list[str], scm_orders: list[str]) -> None:
        self.run, self.rng, self.serial = run, rng, 0
        self.sales_docs, self.sales_ids = sales_docs, sales_ids
        self.scm = {"quote": scm_quotes, "order": scm_orders, "invoice": scm_orders}
        # line 1 of each made in the setup
        self.next_line = {number: 2 for numbers in sales_docs.values() for number in numbers}

    def fresh(self) -> str:
        self.serial += 1
        return f"{self.run}-{self.serial:05d}"

    def aim(self, kind: str, raw: dict[str, Any]) -> Sent:
        value = json.loads(json.dumps(raw))  # a copy
        if kind.startswith("scm."):
            return self._command(kind, value)
        if isinstance(value.get("message_id"), str):
            value["message_id"] = self.fresh()
        if value.get("operation") in ("update", "delete"):
            value["operation"] = "create"
        record = value.get("record")
        if isinstance(record, dict):
            header = kind.removesuffix("detail")
            number_column, id_column = NUMBER_COLUMNS[header], f"{kind}id"
            if isinstance(record.get(id_column), str):
                record[id_column] = str(uuid4())
            if kind == header and isinstance(record.get(number_column), str):
                record[number_column] = f"C-{self.fresh()}"
            if kind != header and header in self.sales_docs:  # a line of a document made in the setup
                number = self.rng.choice(self.sales_docs[header])
                if isinstance(record.get(number_column), str):
                    record[number_column] = number
                    record[f"{header}id"] = self.sales_ids[number]
                if type(record.get("sequencenumber")) is int:
                    record["sequencenumber"] = self.next_line[number]
                    self.next_line[number] += 1
            primary = record.get(id_column)
        else:
            primary = None
        return Sent(kind, SALES_TOPICS[kind], primary if isinstance(primary, str) else None, value)

    def _command(self, kind: str, value: dict[str, Any]) -> Sent:
        service = kind.removeprefix("scm.")
        if isinstance(value.get("command_id"), str):
            value["command_id"] = str(uuid4())
        data = value.get("data")
        if service == "invoice" and isinstance(data, dict) and isinstance(data.get("sales_order_number"), str):
            data["sales_order_number"] = self.rng.choice(self.scm["order"])
        if service == "feature" and isinstance(data, dict):
            # A known feature or parameter becomes an unknown one (refused): a change would alter
            # what every other message means. Hostile names stay as drawn.
            for field in ("feature", "name"):
                if data.get(field) in KNOWN_SETTINGS:
                    data[field] = f"Fuzz{self.fresh()}"
        if isinstance(value.get("target"), str) and "\x00" not in value["target"]:
            creates = isinstance(value.get("type"), str) and value["type"].endswith(".create")
            value["target"] = None if creates or service == "feature" else self.rng.choice(self.scm[service])
        key = value.get("target") if isinstance(value.get("target"), str) else value.get("command_id")
        return Sent(kind, SCM_TOPICS[service], key if isinstance(key, str) else None, value)


def log_sizes(logs: Path) -> dict[Path, int]:
    return {path: path.stat().st_size for path in logs.glob("*.log")}


def handler_failures(logs: Path, before: dict[Path, int]) -> list[str]:
    failures = []
    for path in sorted(logs.glob("*.log")):
        with path.open("rb") as file:
            file.seek(before.get(path, 0))
            for line in file.read().decode(errors="replace").splitlines():
                if "message.handler_failed" in line:
                    try:
                        entry = json.loads(line)
                    except json.JSONDecodeError:
                        entry = {"event": line}
                    if entry.get("event") == "message.handler_failed":
                        failures.append(f"{path.name}: {line[:800]}")
    return failures


async def test_every_fuzzed_message_gets_exactly_one_answer(running_stack, probe_factory) -> None:
    started = time.monotonic()
    print(f"e2e fuzz: seed {SEED}, {COUNT} messages (replay: Q2C_FUZZ_SEED={SEED})")
    probe = await probe_factory(*TOPICS)
    sales, quotes, orders = SalesSystem(probe), QuoteClients(probe), OrderClients(probe)
    run = uuid4().hex[:8]
    sales_quotes = [await sales.create_quote(f"C-{run}-base{n}") for n in range(BASE)]
    for number in sales_quotes:
        await sales.row_state(number, "created")
        await sales.add_line_and_wait(number, 1)
    sales_orders = [await sales.create_order(f"C-SO-{run}-base{n}") for n in range(BASE)]
    for number in sales_orders:
        await sales.add_order_line(number, 1)
        await probe.wait_for("scm.order.events", lambda r, n=number: r.key == n and len(r.value["order"]["lines"]) == 1)
    scm_quotes = [await quotes.create_scm_quote(lines=1) for _ in range(BASE)]
    scm_orders = [await orders.create_scm_order(lines=2) for _ in range(BASE)]
    before = log_sizes(running_stack.logs)

    plan = Plan(run, random.Random(SEED), {"quote": sales_quotes, "salesorder": sales_orders}, sales.ids,
                scm_quotes, scm_orders)
    sent = [plan.aim(kind, raw) for kind, raw in generate(COUNT, SEED)]
    await probe.publish_many([(s.topic, s.key, s.value) for s in sent])

    # every answer is in, and any second answer would be too: the stack has handled everything
    await probe.quiescent(timeout=60 if not FUZZ else 60 + COUNT / 5)

    twins = Counter(json.dumps(s.value, sort_keys=True) for s in sent)
    problems = [f"{problem}: {s.describe(probe)}" for s in sent
                if (problem := s.problem(probe, twins[json.dumps(s.value, sort_keys=True)]))]
    failures = handler_failures(running_stack.logs, before)
    kinds: dict[str, int] = {}
    for s in sent:
        for kind in s.answers(probe):
            kinds[f"{s.kind}→{kind}"] = kinds.get(f"{s.kind}→{kind}", 0) + 1
    print(f"e2e fuzz: {len(sent)} messages in {time.monotonic() - started:.0f}s, answers {kinds}")
    assert not problems and not failures, (
        f"seed {SEED} (Q2C_FUZZ_SEED={SEED}): {len(problems)} of {len(sent)} messages without exactly one answer, "
        f"{len(failures)} handler failures\n" + "\n".join(problems[:10] + failures[:10]))
