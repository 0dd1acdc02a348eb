"""The consumer side of each pact: the code that handles the message the pact describes.

For the outside parties (a Sales connector, an SCM client) that is a reference consumer written
here, doing what the contract tells an integrator to do: route by topic, trust the key, keep the
last record of each key. For q2c (the reverse pacts) it is q2c's own code: the adapter's
`parse_change` and its decisions over the real table maps, and the services' command parsing."""

import json
from datetime import date
from typing import Any

from dual_write_adapter import decisions as core
from dual_write_adapter.app import parse_change
from feature_state_service import domain as feature_domain
from invoice_service import domain as invoice_domain
from order_service import order_data
from q2c_contracts.scm import ScmCommand
from quote_service import domain as quote_domain

from .producers import FEATURES, MAPS


def _body(body: str | bytes | None) -> dict[str, Any]:
    assert body is not None, "a message without a body"
    value = json.loads(body)
    assert isinstance(value, dict), "a record value is a JSON object"
    return value


def sales_connector(body: str | bytes | None, metadata: dict[str, Any]) -> None:
    """Upserts or deletes the row named by the alternate key; shows notifications."""
    value, topic, key = _body(body), metadata["topic"], metadata["key"]
    if topic == "dataverse.notifications":
        assert value["code"] and value["text"] and value["refused_message_id"]
        assert key == "/".join(str(v) for v in value["alternate_key"].values())
        return
    assert topic == f"dataverse.{value['table']}.writes"
    assert key == "/".join(str(v) for v in value["alternate_key"].values())
    assert value["operation"] in ("upsert", "delete")
    assert all(value["record"][column] == v for column, v in value["alternate_key"].items())


def scm_client(body: str | bytes | None, metadata: dict[str, Any]) -> None:
    """Matches results to its commands and keeps the last state of each document."""
    value, topic, key = _body(body), metadata["topic"], metadata["key"]
    if topic == "scm.command.results":
        assert key == value["command_id"]
        assert value["outcome"] in ("accepted", "rejected")
        return
    if topic == "scm.feature.events":
        assert key == value["name"]
        return
    if topic == "scm.processor.events":
        assert key == value["message_id"]
        return
    state = value.get("quotation") or value.get("order") or value.get("invoice")
    number = state.get("SALESQUOTATIONNUMBER") or state.get("SALESORDERNUMBER") or state.get("INVOICENUMBER")
    if "INVOICENUMBER" in state:
        number = state["INVOICENUMBER"]
    assert key == number


def q2c_dual_write_adapter(body: str | bytes | None, metadata: dict[str, Any]) -> None:
    """The adapter parses the change for its table's map and decides on it: a command for SCM, or a refusal."""
    raw = _body(body)
    tmap = next(m for m in MAPS.values() if m.sales.table == raw["table"])
    change = parse_change(raw, tmap)
    effects = core.sales_change(tmap, change, mirror=None, parent_known=True, authoritative=None,
                                features=FEATURES, looked_up={})
    assert any(isinstance(e, core.Forward | core.Notify) for e in effects), effects


def q2c_services(body: str | bytes | None, metadata: dict[str, Any]) -> None:
    """The service of the command's topic parses it and its data."""
    command = ScmCommand.model_validate(_body(body))
    data = command.data
    if command.type == "quote.create":
        quote_domain.new_quotation(command.target or "F-000001", "scm", data, quote_domain.Features())
    elif command.type in ("feature.set", "parameter.set"):
        decision = feature_domain.decide(command.type, data)
        assert isinstance(decision, feature_domain.Accepted), decision
    elif command.type == "order.deliver":
        assert order_data.quantity_lines(data)
    elif command.type == "invoice.post":
        invoice_domain.parse_post(data, date.today())
    elif command.type == "invoice.post-free-text":
        invoice_domain.parse_free_text(data, date.today())
    else:
        assert command.type in quote_domain.LIFECYCLE_TYPES, command.type


# --- internal topics: each consuming service's own parser for the topic ---------------------------

def _internal(service: str) -> Any:
    from dual_write_adapter.tablemap import RESULT_MODELS
    from invoice_service.service import parse_decision
    from q2c_contracts.order import InvoicingRequest, SalesOrderCommand
    from q2c_contracts.ownership import OwnershipDecision, OwnershipRequest
    from q2c_contracts.quote import SalesQuoteCommand
    from q2c_messaging.consumer import envelope_parser

    parsers = {  # topic → the parse of the consuming service's route (its app.py)
        "quote.sales-commands": envelope_parser({"quote.sales-command": SalesQuoteCommand}),
        "ownership.decisions": envelope_parser({"ownership.approved": OwnershipDecision,
                                                "ownership.rejected": OwnershipDecision}),
        "order.sales-commands": envelope_parser({"order.sales-command": SalesOrderCommand}),
        "order.invoicing-requests": envelope_parser({"order.invoicing-request": InvoicingRequest}),
        "quote.sales-results": envelope_parser({"quote.sales-result": RESULT_MODELS["quote.sales-result"]}),
        "order.sales-results": envelope_parser({"order.sales-result": RESULT_MODELS["order.sales-result"]}),
        "ownership.requests": envelope_parser({"ownership.decide": OwnershipRequest}),
        "order.invoicing-decisions": parse_decision,
    }

    def handle(body: str | bytes | None, metadata: dict[str, Any]) -> None:
        typed = parsers[metadata["topic"]](_body(body))
        assert typed.envelope.key == metadata["key"], "the envelope's key is the record key"
        payload = typed.payload
        if metadata["topic"] == "quote.sales-commands":
            quote_domain.new_quotation(payload.target, "sales", payload.data, quote_domain.Features())
    return handle


HANDLERS = {"sales-connector": sales_connector, "scm-client": scm_client,
            "q2c-dual-write-adapter": q2c_dual_write_adapter, "q2c-services": q2c_services,
            **{s: _internal(s) for s in ("quote", "order", "dual-write-adapter", "ownership", "invoice")}}
