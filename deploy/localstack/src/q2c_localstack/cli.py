"""`q2c`: the operator's command (docs/operations.md). `python -m q2c_localstack` and the make
targets run this same Typer app. Tables and colours on a terminal; plain text, or JSON lines
with `--json`, when the output is piped."""

import json
import logging
import subprocess
import sys
import warnings
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn
from rich.table import Table

if TYPE_CHECKING:
    from q2c_messaging.security import KafkaCredentials

from . import stack
from .config import StackConfig, StackError
from .services import INBOX_ADMIN_MODULE, OUTBOX_ADMIN_MODULE, admin_command

# Markdown help: docstrings wrap as paragraphs on any terminal width.
MARKUP = "markdown"
app = typer.Typer(name="q2c", help="q2c: the local stack, the dual-write admin, and the topics by hand.",
                  rich_markup_mode=MARKUP, no_args_is_help=True, add_completion=False,
                  pretty_exceptions_enable=False, context_settings={"help_option_names": ["-h", "--help"]})
admin_app = typer.Typer(help="The dual-write admin (the adapter's maps, error log, initial sync).",
                        rich_markup_mode=MARKUP, no_args_is_help=True)
processor_app = typer.Typer(help="The message processor's messages (quote service).", rich_markup_mode=MARKUP,
                            no_args_is_help=True)
contract_app = typer.Typer(help="The contract files: the compatibility gate and releases.",
                           rich_markup_mode=MARKUP, no_args_is_help=True)
app.add_typer(admin_app, name="admin")
app.add_typer(processor_app, name="processor")
app.add_typer(contract_app, name="contract")

JsonOption = Annotated[bool, typer.Option("--json", help="One JSON object per line.")]


def _config() -> StackConfig:
    return StackConfig.from_env()


def terminal() -> bool:
    return sys.stdout.isatty()


def _console() -> Console:
    return Console(highlight=False)


def _table(title: str | None, columns: list[str], rows: list[list[Any]]) -> None:
    table = Table(title=title, header_style="bold cyan")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    _console().print(table)


# --- the stack -----------------------------------------------------------------------------------

@app.command()
def up() -> None:
    """Start Kafka, PostgreSQL and every service in the background (idempotent)."""
    stack.up(_config())


@app.command()
def down() -> None:
    """Stop what `q2c up` started."""
    stack.down(_config())


@app.command()
def status(as_json: JsonOption = False) -> None:
    """What runs: Kafka, PostgreSQL, every service and its health URL."""
    config = _config()
    if not as_json and not terminal():
        stack.status(config)
        return
    from . import kafka, postgres, services

    up_nodes = kafka.running_nodes(config)
    rows = [{"part": "kafka", "state": "external", "where": config.kafka_bootstrap}] if config.external_kafka else [
        {"part": node.name, "state": "running" if node in up_nodes else "stopped",
         "where": f"127.0.0.1:{node.client_port}"} for node in kafka.nodes(config)]
    rows += [{"part": "postgres", "state": "external" if config.external_pg_admin else
             ("running" if postgres.is_running(config) else "stopped"), "where": f"127.0.0.1:{config.pg_port}"}]
    rows += [{"part": s.name if r == 1 else f"{s.name} replica {r}",
              "state": "running" if services.is_running(config, s, r) else "stopped",
              "where": f"http://127.0.0.1:{config.http_port(s, r)}/health"} for s, r in stack.status_replicas(config)]
    if as_json:
        for row in rows:
            print(json.dumps(row))
        return
    colour = {"running": "green", "stopped": "red", "external": "yellow"}
    _table(f"home: {config.home}", ["part", "state", "where"],
           [[r["part"], f"[{colour[r['state']]}]{r['state']}[/]", r["where"]] for r in rows])


@app.command()
def provision() -> None:
    """Topics, databases and roles on the servers of Q2C_KAFKA_BOOTSTRAP and Q2C_DATABASE_URL."""
    stack.provision_external(_config())


@app.command()
def demo() -> None:
    """The demo against the running stack (features, quote to cash, order to cash)."""
    from .demo import run_demo

    run_demo(_config())


@app.command()
def bench() -> None:
    """Throughput, latency and memory figures against the running stack."""
    from .bench import run_bench

    run_bench(_config())


@app.command()
def soak(seconds: Annotated[float, typer.Argument(help="how long the load and the kills run, in seconds")] = 600.0,
         ) -> None:
    """Chaos soak: Sales lifecycles and orders while a process of the stack is SIGKILLed at least
    every 12 s (services, the broker, PostgreSQL), then the checks: nothing lost, nothing doubled,
    nothing dead-lettered, Sales = SCM, a replay from offset 0 changes nothing. Exit 1 on a failure.
    Q2C_SOAK_SEED replays a run's kills; SOAK_USERS sets the concurrent users."""
    from .soak import run_soak

    raise typer.Exit(run_soak(_config(), [str(seconds)]))


@app.command()
def failover(users: Annotated[int, typer.Option(help="concurrent Sales users")] = 4) -> None:
    """On a cluster (Q2C_KAFKA_BROKERS=3): SIGKILL each Kafka node in turn, the active controller
    first, under lifecycle load, and print how long each held a step (target: 5 s)."""
    from .failover import run_failover

    raise typer.Exit(run_failover(_config(), users))


@app.command()
def asyncapi() -> None:
    """Print the AsyncAPI document of the catalog (docs/asyncapi.json)."""
    from q2c_messaging.catalog import load_catalog

    from .asyncapi import render

    print(render(load_catalog(_config().topic_catalog)), end="")


@contract_app.command("check")
def contract_check() -> None:
    """Compare the contract with the last released snapshot; exit 1 on a breaking change."""
    from q2c_messaging.catalog import load_catalog

    from .contract import breaking, check

    changes = check(load_catalog(_config().topic_catalog))
    print("\n".join(map(str, changes)) or "no changes against the released contract")
    if breaking(changes):
        raise typer.Exit(1)


@contract_app.command("release")
def contract_release(version: Annotated[str, typer.Argument(help="e.g. v3")]) -> None:
    """Write a contract snapshot: contracts/schemas/VERSION/."""
    from q2c_messaging.catalog import load_catalog

    from .contract import ContractError, release

    try:
        changes = release(load_catalog(_config().topic_catalog), version)
    except ContractError as exc:
        print(f"q2c: {exc}", file=sys.stderr)
        raise typer.Exit(1) from None
    print("\n".join(map(str, changes)) or "no changes")
    print(f"contract {version} written to contracts/schemas/{version}/")


# --- the services' admin CLIs ----------------------------------------------------------------------

def _run_admin(argv: list[str], service: str = "dual-write-adapter", module: str | None = None) -> None:
    """A service's admin module as a process with its own database (the CLI reads no tables)."""
    command, env = admin_command(_config(), argv, service, module=module)
    code = subprocess.run(command, env=env).returncode
    if code:
        raise typer.Exit(code)


def _admin_json(argv: list[str], service: str = "dual-write-adapter", module: str | None = None
                ) -> list[dict[str, Any]]:
    command, env = admin_command(_config(), [*argv, "--json"], service, module=module)
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode:
        sys.stderr.write(done.stderr)
        raise typer.Exit(done.returncode)
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


@admin_app.command("maps")
def admin_maps(as_json: JsonOption = False) -> None:
    """Every table map with its state, queued changes and open errors."""
    if not as_json and not terminal():
        return _run_admin(["maps"])
    rows = _admin_json(["maps"])
    if as_json:
        for row in rows:
            print(json.dumps(row))
        return
    colour = {"Running": "green", "Paused": "yellow", "Resuming": "yellow", "Not running": "red"}
    _table("dual-write maps", ["map", "state", "queued", "errors", "title"],
           [[r["map"], f"[{colour.get(r['state'], 'white')}]{r['state']}[/]", r["queued"],
             f"[red]{r['errors']}[/]" if r["errors"] else 0, r["title"]] for r in rows])


MapArgument = Annotated[str, typer.Argument(help="the map's name (q2c admin maps)")]


@admin_app.command("pause")
def admin_pause(name: MapArgument) -> None:
    """Queue the map's changes (both directions) instead of applying them."""
    _run_admin(["pause", name])


@admin_app.command("resume")
def admin_resume(name: MapArgument) -> None:
    """Replay what the paused map queued, in order, then run."""
    _run_admin(["resume", name])


@admin_app.command("stop")
def admin_stop(name: MapArgument) -> None:
    """Not running: the map's changes are ignored."""
    _run_admin(["stop", name])


@admin_app.command("run")
def admin_run(name: MapArgument) -> None:
    """Run a stopped map again."""
    _run_admin(["run", name])


@admin_app.command("errors")
def admin_errors(as_json: JsonOption = False) -> None:
    """The open error log."""
    if not as_json and not terminal():
        return _run_admin(["errors"])
    rows = _admin_json(["errors"])
    if as_json:
        for row in rows:
            print(json.dumps(row))
        return
    _table("open errors", ["id", "map", "kind", "attempts", "created", "reason"],
           [[r["id"], r["map"], r["kind"], r["attempts"], r["created_at"][:19], escape(r["reason"])] for r in rows])


@admin_app.command("retry")
def admin_retry(ids: Annotated[list[int] | None, typer.Argument(help="error ids")] = None,
                every: Annotated[bool, typer.Option("--all", help="every open error")] = False) -> None:
    """Run logged changes again: the given error ids, or --all."""
    if not every and not ids:
        raise typer.BadParameter("give error ids or --all")
    _run_admin(["retry", "--all"] if every else ["retry", *map(str, ids or [])])


@admin_app.command("initial-sync")
def admin_initial_sync() -> None:
    """Write every current SCM document to Sales, map by map (a progress bar on a terminal)."""
    if not terminal():
        return _run_admin(["initial-sync"])
    command, env = admin_command(_config(), ["initial-sync", "--progress", "jsonl"])
    # The adapter reports at most ten times a second; Rich redraws at most four times a second
    # (auto refresh), never per row.
    with Progress(TextColumn("initial sync"), BarColumn(), MofNCompleteColumn(), TaskProgressColumn(),
                  TextColumn("{task.fields[rate]} rows/s"), TimeRemainingColumn(),
                  refresh_per_second=4, console=_console()) as progress, \
            subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True) as process:
        task = progress.add_task("sync", total=None, rate="-")
        written: dict[str, int] = {}
        assert process.stdout
        for line in process.stdout:
            report = json.loads(line)
            progress.update(task, total=report["total"], completed=report["progress"])
            speed = progress.tasks[0].speed
            progress.update(task, rate=f"{speed:.0f}" if speed else "-")
            written = report.get("written", written)
    if process.returncode:
        raise typer.Exit(process.returncode)
    _table("rows written per map", ["map", "rows"], [[k, v] for k, v in written.items()])


@processor_app.command("messages")
def processor_messages(state: Annotated[str | None, typer.Argument(
        help="Queued, Processed, Failed or Canceled")] = None, as_json: JsonOption = False) -> None:
    """The message processor's messages, oldest first."""
    argv = ["messages", *([state] if state else [])]
    if not as_json and not terminal():
        return _run_admin(argv, "quote")
    rows = _admin_json(argv, "quote")
    if as_json:
        for row in rows:
            print(json.dumps(row))
        return
    colour = {"Queued": "yellow", "Processed": "green", "Failed": "red", "Canceled": "white"}
    _table("message processor", ["message", "type", "document", "state", "depends on", "error"],
           [[r["message_id"], r["type"], r["document"], f"[{colour.get(r['state'], 'white')}]{r['state']}[/]",
             r["depends_on"] or "-", escape(r["error"] or "")] for r in rows])


@processor_app.command("cancel")
def processor_cancel(message_id: Annotated[str, typer.Argument(help="the message id")]) -> None:
    """A Queued or Failed message will not be processed."""
    _run_admin(["cancel", message_id], "quote")


@processor_app.command("requeue")
def processor_requeue(message_id: Annotated[str, typer.Argument(help="the message id")]) -> None:
    """A Failed or Canceled message is Queued again."""
    _run_admin(["requeue", message_id], "quote")


@app.command()
def outbox(service: Annotated[str, typer.Argument(help="the service whose outbox (deploy/stack.yaml)")],
           action: Annotated[str, typer.Argument(help="parked | retry")],
           row: Annotated[str | None, typer.Argument(help="retry: the row id")] = None,
           every: Annotated[bool, typer.Option("--all", help="retry: every parked row")] = False,
           as_json: JsonOption = False) -> None:
    """One service's outbox rows the broker refused for good: SERVICE parked | retry ID | retry --all."""
    names = [s.name for s in _config().services]
    if service not in names or action not in ("parked", "retry"):
        print(f"q2c: outbox SERVICE parked|retry ID|--all, SERVICE one of {', '.join(names)}", file=sys.stderr)
        raise typer.Exit(2)
    if action == "parked" and (as_json or terminal()):
        rows = _admin_json(["parked"], service, OUTBOX_ADMIN_MODULE)
        if as_json:
            for r in rows:
                print(json.dumps(r))
            return
        _table(f"{service}: parked outbox rows", ["id", "topic", "key", "bytes", "attempts", "parked at",
                                                  "waiting behind", "last error"],
               [[r["id"], r["topic"], r["key"], r["bytes"], r["attempts"], r["parked_at"], r["waiting"],
                 f"[red]{escape(str(r['last_error']))}[/]"] for r in rows])
        return
    _run_admin([action, *([row] if row else []), *(["--all"] if every else [])], service, OUTBOX_ADMIN_MODULE)


@app.command()
def inbox(service: Annotated[str, typer.Argument(help="the service whose inbox (deploy/stack.yaml)")],
          action: Annotated[str, typer.Argument(help="stats | prune")],
          older_than: Annotated[float | None, typer.Option("--older-than", help="prune: rows older than DAYS "
                                                           "instead of the topic's safe age")] = None,
          force: Annotated[bool, typer.Option("--force", help="prune --older-than: below a topic's safe age "
                                              "too")] = False,
          as_json: JsonOption = False) -> None:
    """One service's inbox (docs/messaging.md "Inbox pruning"): SERVICE stats | prune [--older-than DAYS]."""
    names = [s.name for s in _config().services]
    if service not in names or action not in ("stats", "prune"):
        print(f"q2c: inbox SERVICE stats|prune [--older-than DAYS], SERVICE one of {', '.join(names)}",
              file=sys.stderr)
        raise typer.Exit(2)
    _run_admin([action, "--service", service, *(["--older-than", str(older_than)] if older_than is not None else []),
                *(["--force"] if force else []), *(["--json"] if as_json else [])], service, INBOX_ADMIN_MODULE)


# --- the topics by hand --------------------------------------------------------------------------

@app.command()
def publish(topic: Annotated[str, typer.Argument(help="an input topic: dataverse.TABLE.changes or "
                                                      "scm.AREA.commands")],
            wait: Annotated[bool, typer.Option("--wait", help="print what answers each message")] = False,
            timeout: Annotated[float, typer.Option(help="--wait: seconds to wait for the answers")] = 30.0,
            bootstrap: Annotated[str | None, typer.Option(help="Kafka bootstrap (default: the stack's)")] = None,
            as_json: JsonOption = False) -> None:
    """Send contract messages to an input topic: one JSON object per line on stdin.

    kcat-style. Every line is checked against the contract first; if one is invalid, nothing is
    sent. message_id / command_id and timestamps are filled when absent; the record key is the
    contract's. --wait prints the result, write or notification that answers each message."""
    from q2c_messaging.catalog import load_catalog

    from .probe import Record
    from .publish import Outgoing, PublishError, answer_topics, prepare, run_send

    catalog = load_catalog(_config().topic_catalog)
    try:
        outgoing = prepare(topic, sys.stdin, catalog)
    except PublishError as exc:
        for problem in exc.problems:
            print(f"q2c publish: {problem}", file=sys.stderr)
        print("q2c publish: nothing sent", file=sys.stderr)
        raise typer.Exit(1) from None
    pretty = terminal() and not as_json
    console = _console()

    def on_answer(o: Outgoing, record: Record) -> None:
        if pretty:
            value = record.value
            summary = (f"{value.get('outcome')} {value.get('code') or ''} {value.get('text') or ''} "
                       f"target {value.get('target')}" if record.topic == "scm.command.results" else
                       f"{value.get('code')}: {value.get('text')}" if record.topic == "dataverse.notifications"
                       else f"{value.get('operation')} {json.dumps(value.get('alternate_key'))}")
            console.print(f"line {o.line} [bold]{escape(o.id)}[/] <- [cyan]{record.topic}[/] "
                          f"key {escape(str(record.key))}: {escape(summary)}")
        else:
            print(json.dumps({"line": o.line, "id": o.id, "topic": record.topic, "key": record.key,
                              "correlation_id": record.headers.get("correlation_id"), "value": record.value}),
                  flush=True)

    bootstrap = bootstrap or _config().kafka_bootstrap
    unanswered = run_send(bootstrap, outgoing, answer_topics(catalog, outgoing), wait=wait, timeout=timeout,
                          on_answer=on_answer, login=_operator_login())
    say = console.print if pretty else (lambda text: print(text, file=sys.stderr))
    say(f"sent {len(outgoing)} message(s) to {topic}: " + ", ".join(f"line {o.line} key {o.key}"
                                                                   for o in outgoing[:5])
        + (", ..." if len(outgoing) > 5 else ""))
    if unanswered:
        why = ("a Sales change gets a write only when something SCM owns changed or it is refused "
               "(docs/contract.md §2), so silence may be the answer; " if outgoing[0].kind == "change" else "")
        for o in unanswered:
            print(f"q2c publish: line {o.line} ({o.id}): no answer within {timeout:g}s; {why}"
                  f"is the stack up (q2c status)?", file=sys.stderr)
        raise typer.Exit(3)


def _operator_login() -> "KafkaCredentials | None":
    """The q2c tools log in as the environment says (Q2C_KAFKA_USERNAME, …), else as the local
    stack's `operator` (reads every topic, writes the external input topics: docs/security.md)."""
    from q2c_messaging.security import KafkaCredentials

    from . import kafka_security

    return KafkaCredentials.from_env() or kafka_security.credentials(_config(), "operator")


@app.command()
def trace(number: Annotated[str, typer.Argument(help="a quotation, order or invoice number, or a Dataverse id")],
          only: Annotated[bool, typer.Option("--only", help="this document only, not the linked ones")] = False,
          bootstrap: Annotated[str | None, typer.Option(help="Kafka bootstrap (default: the stack's)")] = None,
          as_json: JsonOption = False) -> None:
    """The timeline of one document across Sales and SCM, read from the topics.

    Every change, command, result, decision, event, write and notification about it (and its
    linked quotation, order and invoices unless --only), in order, with the status of both sides
    after each step. A table on a terminal, JSON lines when piped or with --json."""
    import asyncio

    from q2c_messaging.catalog import load_catalog

    from .trace import NotFound, read_topics, timeline

    catalog = load_catalog(_config().topic_catalog)
    topics = sorted(s.name for s in catalog if not s.dead_letter)
    records = asyncio.run(read_topics(bootstrap or _config().kafka_bootstrap, topics, _operator_login()))
    try:
        steps = timeline(records, number, only=only)
    except NotFound as exc:
        print(f"q2c trace: {exc}", file=sys.stderr)
        raise typer.Exit(1) from None
    if as_json or not terminal():
        for step in steps:
            print(json.dumps(step.as_dict()))
        return
    _table(f"{number}: {len(steps)} records", ["time", "topic", "document", "what", "correlation", "Sales",
                                                "SCM", "processing"],
           [[s.time[11:23], s.topic, escape(s.document), escape(s.what), escape((s.correlation_id or "")[:8]),
             s.sales, s.scm, escape(s.processing)] for s in steps])


# --- entry points ---------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    """Run the app; return the exit code (StackError: 1, usage: 2)."""
    # The broker is expected to refuse connections while it starts; say so once, not per try.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    warnings.filterwarnings("ignore", module="platformdirs")
    try:
        app(args=sys.argv[1:] if argv is None else argv, prog_name="q2c")
    except SystemExit as exc:  # Typer's standalone mode ends every run with one
        return exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
    except StackError as exc:
        print(f"q2c: {exc}", file=sys.stderr)
        return 1
    return 0


def run() -> None:
    """The `q2c` console script."""
    sys.exit(main())
