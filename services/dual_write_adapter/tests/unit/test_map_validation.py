"""Map validation at start-up: a map that cannot be used is refused with a MapError that names
the map and the problem. The documents are the real header map, read as YAML and mutated."""

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from dual_write_adapter.tablemap import MAPS_DIR, MapError, TableMap, load_maps, parse_map

SOURCE = "test-header.yaml"
HEADER_DOC: dict[str, Any] = yaml.safe_load((MAPS_DIR / "quotation_header.yaml").read_text())

Document = dict[str, Any]


def field_of(doc: Document, column: str | list[str]) -> dict[str, Any]:
    """The field whose `sales` entry is `column`."""
    return next(f for f in doc["fields"] if f["sales"] == column)


def set_field(column: str | list[str], /, **changes: Any) -> Callable[[Document], None]:
    def mutate(doc: Document) -> None:
        field_of(doc, column).update(changes)
    return mutate


def drop_field_key(column: str | list[str], key: str) -> Callable[[Document], None]:
    def mutate(doc: Document) -> None:
        del field_of(doc, column)[key]
    return mutate


def set_top(key: str, value: Any) -> Callable[[Document], None]:
    def mutate(doc: Document) -> None:
        doc[key] = value
    return mutate


def drop_top(key: str) -> Callable[[Document], None]:
    def mutate(doc: Document) -> None:
        del doc[key]
    return mutate


def drop_status(value: str) -> Callable[[Document], None]:
    def mutate(doc: Document) -> None:
        del doc["value_maps"]["quotation-status"][value]
    return mutate


def add_status(value: str, option: int) -> Callable[[Document], None]:
    def mutate(doc: Document) -> None:
        doc["value_maps"]["quotation-status"][value] = option
    return mutate


def set_sales_key(value: list[str]) -> Callable[[Document], None]:
    def mutate(doc: Document) -> None:
        doc["sales"]["key"] = value
    return mutate


def set_in(section: str, key: str, value: Any) -> Callable[[Document], None]:
    def mutate(doc: Document) -> None:
        doc[section][key] = value
    return mutate


def drop_in(section: str, key: str) -> Callable[[Document], None]:
    def mutate(doc: Document) -> None:
        del doc[section][key]
    return mutate


def mutated(mutate: Callable[[Document], None]) -> Document:
    doc = copy.deepcopy(HEADER_DOC)
    mutate(doc)
    return doc


def test_the_base_document_is_valid() -> None:
    tmap = parse_map(copy.deepcopy(HEADER_DOC), SOURCE)

    assert isinstance(tmap, TableMap)
    assert tmap.name == "quotation-header"
    assert tmap.sales_table == "quote"
    assert tmap.scm.entity == "quotation"


@pytest.mark.parametrize(
    ("mutate", "needles"),
    [
        pytest.param(set_field("name", sales="nme"), ["'nme'", "column", "quote"], id="unknown-sales-column"),
        pytest.param(set_field("name", scm="SALESQUOTATIONTITLE"), ["'SALESQUOTATIONTITLE'", "SCM", "quotation"],
                     id="unknown-scm-field"),
        pytest.param(set_field("name", direction="both-ways"), ["direction", "two-way"],
                     id="unknown-direction"),
        pytest.param(set_field(["statecode", "statuscode"], transform="sales-status"),
                     ["transform", "'sales-status'"], id="unknown-transform"),
        pytest.param(drop_status("revised"), ["quotation-status", "missing", "revised"],
                     id="value-map-does-not-cover-enum"),
        pytest.param(add_status("won", 192350010), ["quotation-status", "won"], id="value-map-extra-key"),
        pytest.param(set_field("msdyn_salesquotationstatus", value_map="quote-status"),
                     ["value map", "'quote-status'", "not defined"], id="value-map-not-defined"),
        pytest.param(drop_field_key(["statecode", "statuscode"], "transform"), ["transform"],
                     id="two-columns-without-transform"),
        pytest.param(set_field("msdyn_salesquotationstatus", command_field="status"),
                     ["command_field", "msdyn_salesquotationstatus"], id="command-field-on-to-sales"),
        pytest.param(set_in("sales", "table", "quotes"), ["Dataverse table", "'quotes'"], id="unknown-sales-table"),
        pytest.param(set_in("scm", "entity", "quotations"), ["SCM entity", "'quotations'"],
                     id="unknown-scm-entity"),
        pytest.param(drop_top("fields"), ["fields"], id="missing-fields"),
        # further problems the validator knows
        pytest.param(set_field("name", type="currency"), ["type", "money"], id="unknown-type"),
        pytest.param(set_sales_key(["quotenumber"]), ["sales.key", "'quotenumber'"], id="unknown-key-column"),
        pytest.param(add_status("reset", 192350000), ["quotation-status"], id="value-map-not-one-to-one"),
        pytest.param(set_field("name", value_map="origin"), ["SALESQUOTATIONNAME", "enum"],
                     id="value-map-on-non-enum"),
        pytest.param(drop_in("sales", "key"), ["sales.key", "Field required"], id="missing-keys"),
        pytest.param(drop_field_key("name", "direction"), ["direction"], id="missing-direction"),
        # the map language forbids unknown keys: a typo never changes behaviour silently
        pytest.param(set_field(["statecode", "statuscode"], when_featur="IntegrateQuotationLifecycle"),
                     ["fields.9.when_featur", "unknown key", "'quotation-header'"], id="typo-in-a-field"),
        pytest.param(set_top("refuse_changes", "invoice.scm-only"), ["refuse_changes", "unknown key"],
                     id="typo-at-the-top"),
        pytest.param(set_in("scm", "event", "scm.quote.events"), ["scm.event", "unknown key"], id="typo-in-scm"),
        pytest.param(set_field("name", when_feature="IntegrateQuoteLifecycle"),
                     ["'IntegrateQuoteLifecycle'", "not a feature"], id="unknown-feature"),
        pytest.param(set_in("sales", "changes", "dataverse.quotes.changes"), ["dataverse.quote.changes"],
                     id="changes-topic-not-the-contracts"),
        pytest.param(set_in("sales", "writes", "dataverse.quote.write"), ["dataverse.quote.writes"],
                     id="writes-topic-not-the-contracts"),
        pytest.param(set_in("scm", "events", "scm.quotes.events"), ["scm.events", "'scm.quotes.events'"],
                     id="unknown-events-topic"),
        pytest.param(set_in("scm", "document", "quote"), ["scm.document", "'quote'", "QuoteEvent"],
                     id="document-not-in-the-event"),
        pytest.param(set_in("results", "document", "order"), ["results.document", "SalesQuoteResult"],
                     id="result-without-that-document"),
        pytest.param(set_in("commands", "envelope", "quote.command"), ["commands.envelope", "'quote.command'"],
                     id="unknown-command-envelope"),
        pytest.param(drop_top("results"), ["commands need results"], id="commands-without-results"),
        pytest.param(set_top("refuse_sales_changes", "quote.nope"), ["refusal code", "'quote.nope'"],
                     id="unknown-refusal-code"),
        pytest.param(set_in("state_changes", "refuse", "order.status-in-scm"), ["either steps or refuse"],
                     id="state-changes-with-steps-and-refuse"),
        pytest.param(set_top("constants", {"statecod": 0}), ["constants", "'statecod'"], id="unknown-constant"),
        pytest.param(set_field("name", lookup={"table": "salesorder", "column": "ownerid"}),
                     ["lookup is one-way"], id="two-way-lookup"),
    ],
)
def test_bad_map_is_refused_with_a_message_naming_the_problem(mutate: Callable[[Document], None],
                                                              needles: list[str]) -> None:
    with pytest.raises(MapError) as caught:
        parse_map(mutated(mutate), SOURCE)

    message = str(caught.value)
    assert SOURCE in message
    for needle in needles:
        assert needle in message


def test_map_error_is_a_value_error() -> None:
    assert issubclass(MapError, ValueError)


def test_load_maps_reads_the_real_maps() -> None:
    maps = load_maps()

    # DUALWRITE-REFERENCE §4.8: the initial-sync dependency order, feature states last
    assert list(maps) == ["sales-order-header", "sales-order-lines", "quotation-header", "quotation-lines",
                          "sales-invoice-header", "sales-invoice-lines", "feature-states"]
    assert {name: (m.sales_table, m.scm.entity) for name, m in maps.items()} == {
        "quotation-header": ("quote", "quotation"),
        "quotation-lines": ("quotedetail", "quotation-line"),
        "sales-order-header": ("salesorder", "order"),
        "sales-order-lines": ("salesorderdetail", "order-line"),
        "sales-invoice-header": ("invoice", "invoice"),
        "sales-invoice-lines": ("invoicedetail", "invoice-line"),
        "feature-states": ("msdyn_supplychainfeaturestate", "feature"),
    }
    # CONTRACT.md §2: the alternate keys of the writes
    assert maps["quotation-header"].sales_keys == ("msdyn_quotenumber",)
    assert maps["quotation-lines"].sales_keys == ("msdyn_quotenumber", "sequencenumber")
    assert maps["feature-states"].sales_keys == ("msdyn_name",)
    assert maps["sales-order-lines"].sales_keys == ("msdyn_salesordernumber", "sequencenumber")
    assert maps["sales-invoice-lines"].sales_keys == ("msdyn_invoicenumber", "sequencenumber")


@pytest.mark.parametrize(("mutate", "needle"), [
    pytest.param(lambda maps: maps["quotation_lines.yaml"].update(parent="quotation-headers"),
                 "no map named 'quotation-headers'", id="unknown-parent"),
    pytest.param(lambda maps: maps["sales_order_lines.yaml"].update(parent="quotation-header"),
                 "its key must be", id="parent-key-does-not-nest"),
    pytest.param(lambda maps: maps.update({"twice.yaml": {**maps["quotation_header.yaml"], "name": "quotes-2"}}),
                 "mapped by", id="a-table-mapped-twice"),
])
def test_relations_between_maps_are_checked(tmp_path: Path, mutate: Callable[[dict[str, Document]], None],
                                            needle: str) -> None:
    documents = {p.name: yaml.safe_load(p.read_text()) for p in MAPS_DIR.glob("*.yaml")}
    mutate(documents)
    for name, document in documents.items():
        (tmp_path / name).write_text(yaml.safe_dump(document))

    with pytest.raises(MapError, match=needle):
        load_maps(tmp_path)


def test_load_maps_refuses_two_maps_of_the_same_name(tmp_path: Path) -> None:
    text = (MAPS_DIR / "quotation_header.yaml").read_text()
    (tmp_path / "a_header.yaml").write_text(text)
    (tmp_path / "b_header.yaml").write_text(text)

    with pytest.raises(MapError, match="quotation-header") as caught:
        load_maps(tmp_path)

    assert "b_header.yaml" in str(caught.value)


def test_load_maps_names_the_file_of_a_bad_map(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text(yaml.safe_dump(mutated(set_in("sales", "table", "quotes"))))

    with pytest.raises(MapError, match="broken.yaml"):
        load_maps(tmp_path)
