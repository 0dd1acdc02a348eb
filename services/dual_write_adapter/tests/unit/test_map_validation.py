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
        doc["keys"]["sales"] = value
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
    assert tmap.scm_entity == "quotation"


@pytest.mark.parametrize(
    ("mutate", "needles"),
    [
        pytest.param(set_field("name", sales="nme"), ["'nme'", "column", "quote"], id="unknown-sales-column"),
        pytest.param(set_field("name", scm="SALESQUOTATIONTITLE"), ["'SALESQUOTATIONTITLE'", "SCM", "quotation"],
                     id="unknown-scm-field"),
        pytest.param(set_field("name", direction="both-ways"), ["direction", "'both-ways'"],
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
        pytest.param(set_top("sales_table", "quotes"), ["Sales table", "'quotes'"], id="unknown-sales-table"),
        pytest.param(set_top("scm_entity", "quotations"), ["SCM entity", "'quotations'"],
                     id="unknown-scm-entity"),
        pytest.param(drop_top("fields"), ["fields"], id="missing-fields"),
        # further problems the validator knows
        pytest.param(set_field("name", type="currency"), ["type", "'currency'"], id="unknown-type"),
        pytest.param(set_sales_key(["quotenumber"]), ["key", "'quotenumber'"], id="unknown-key-column"),
        pytest.param(add_status("reset", 192350000), ["quotation-status"], id="value-map-not-one-to-one"),
        pytest.param(set_field("name", value_map="origin"), ["SALESQUOTATIONNAME", "enum"],
                     id="value-map-on-non-enum"),
        pytest.param(drop_top("keys"), ["keys"], id="missing-keys"),
        pytest.param(drop_field_key("name", "direction"), ["direction"], id="missing-direction"),
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

    assert set(maps) == {"quotation-header", "quotation-lines", "feature-states"}
    assert {name: (m.sales_table, m.scm_entity) for name, m in maps.items()} == {
        "quotation-header": ("quote", "quotation"),
        "quotation-lines": ("quotedetail", "quotation-line"),
        "feature-states": ("msdyn_supplychainfeaturestate", "feature"),
    }
    # CONTRACT.md §2: the alternate keys of the writes
    assert maps["quotation-header"].sales_keys == ("msdyn_quotenumber",)
    assert maps["quotation-lines"].sales_keys == ("msdyn_quotenumber", "sequencenumber")
    assert maps["feature-states"].sales_keys == ("msdyn_name",)


def test_load_maps_refuses_two_maps_of_the_same_name(tmp_path: Path) -> None:
    text = (MAPS_DIR / "quotation_header.yaml").read_text()
    (tmp_path / "a_header.yaml").write_text(text)
    (tmp_path / "b_header.yaml").write_text(text)

    with pytest.raises(MapError, match="quotation-header") as caught:
        load_maps(tmp_path)

    assert "b_header.yaml" in str(caught.value)


def test_load_maps_names_the_file_of_a_bad_map(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text(yaml.safe_dump(mutated(set_top("sales_table", "quotes"))))

    with pytest.raises(MapError, match="broken.yaml"):
        load_maps(tmp_path)
