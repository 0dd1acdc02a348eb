"""The compatibility gate: the code's contract against the last released snapshot, and the
release command that writes snapshots (docs/contract-testing.md)."""

import copy
import json
from pathlib import Path

import pytest

from dual_write_adapter import dataverse
from dual_write_adapter.tablemap import TableMap, load_maps
from q2c_localstack import contract
from q2c_localstack.config import DEPLOY
from q2c_messaging.catalog import load_catalog

CATALOG = load_catalog(DEPLOY / "kafka" / "topics.yaml")


def test_the_code_does_not_break_the_released_contract() -> None:
    changes = contract.check(CATALOG)
    assert not contract.breaking(changes), (
        f"breaking changes against contract {contract.latest_version()}:\n  "
        + "\n  ".join(map(str, contract.breaking(changes)))
        + "\nKeep the old shape, or release a new version: make contract-release VERSION=v<next>")


def test_the_gate_sees_a_breaking_change_of_a_real_message() -> None:
    released = contract.read_snapshot(contract.SCHEMAS / contract.latest_version())
    current = copy.deepcopy(released)
    line = current["scm.quote.events.json"]["$defs"]["QuotationLineSnapshot"]
    del line["properties"]["PRODUCTNUMBER"]
    current["scm.command.results.json"]["properties"]["outcome"]["enum"].remove("rejected")
    del current["scm.processor.events.json"]
    current["scm.order.events.json"]["x-q2c-key"] = "event_id"
    found = {(c.topic, c.path, c.kind) for c in contract.breaking(contract.compare(released, current))}
    assert found == {("scm.quote.events", "$.quotation.lines[].PRODUCTNUMBER", "removed or renamed field"),
                     ("scm.command.results", "$.outcome", "removed enum value"),
                     ("scm.processor.events", "$", "removed topic"),
                     ("scm.order.events", "$", "changed key")}


@pytest.fixture
def schemas(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A contracts/schemas folder of its own, with the code's contract released as v2."""
    monkeypatch.setattr(contract, "SCHEMAS", tmp_path)
    monkeypatch.setattr(contract, "RELEASES", tmp_path / "releases.json")
    (tmp_path / "releases.json").write_text(json.dumps({"versions": ["v2"]}))
    for path, schema in contract.generate(CATALOG).items():
        (tmp_path / "v2" / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "v2" / path).write_text(contract.render(schema))
    return tmp_path


def _pretend_v2_had_a_field(schemas: Path) -> None:
    path = schemas / "v2" / "scm.command.results.json"
    schema = json.loads(path.read_text())
    schema["properties"]["retired"] = {"type": "string"}
    path.write_text(contract.render(schema))


def test_release_of_the_same_version_takes_compatible_changes_only(schemas: Path) -> None:
    path = schemas / "v2" / "scm.command.results.json"
    schema = json.loads(path.read_text())
    del schema["properties"]["text"]  # the code has it: for v2 a new optional field
    path.write_text(contract.render(schema))
    changes = contract.release(CATALOG, "v2")
    assert [(c.path, c.kind) for c in changes] == [("$.text", "new optional field")]
    assert "text" in json.loads(path.read_text())["properties"]
    _pretend_v2_had_a_field(schemas)
    with pytest.raises(contract.ContractError, match=r"scm.command.results \$.retired: removed or renamed field"):
        contract.release(CATALOG, "v2")


def test_a_breaking_change_is_released_as_a_new_version(schemas: Path) -> None:
    _pretend_v2_had_a_field(schemas)
    changes = contract.release(CATALOG, "v3")
    assert [str(c) for c in contract.breaking(changes)] == [
        "BREAKING: scm.command.results $.retired: removed or renamed field"]
    assert json.loads((schemas / "releases.json").read_text())["versions"] == ["v2", "v3"]
    assert "retired" in (schemas / "v2" / "scm.command.results.json").read_text()  # v2 stays as released
    assert contract.check(CATALOG) == []
    with pytest.raises(contract.ContractError, match="older release"):
        contract.release(CATALOG, "v2")
    with pytest.raises(contract.ContractError, match="looks like"):
        contract.release(CATALOG, "three")


def _edited_maps(name: str, **update: object) -> dict[str, TableMap]:
    maps = load_maps()
    maps[name] = maps[name].model_copy(update=update)
    return maps


def _breaking_against_release(maps: dict[str, TableMap]) -> set[tuple[str, str, str]]:
    released = contract.read_snapshot(contract.SCHEMAS / contract.latest_version())
    return {(c.topic, c.path, c.kind) for c in contract.breaking(contract.compare(released,
                                                                                  contract.generate(CATALOG, maps)))}


def test_the_gate_sees_an_option_value_removed_from_a_table_map() -> None:
    """The record columns are in the released schemas: a processing status the order map no
    longer knows breaks the Sales connector (writes) and Sales (changes)."""
    header = load_maps()["sales-order-header"]
    statuses = {k: v for k, v in header.value_maps["processing-status"].items() if k != "partiallydelivered"}
    maps = _edited_maps("sales-order-header", value_maps={**header.value_maps, "processing-status": statuses})
    assert _breaking_against_release(maps) == {
        ("dataverse.salesorder.writes", "$.record.msdyn_processingstatus", "removed enum value"),
        ("dataverse.salesorder.changes", "$.record.msdyn_processingstatus", "removed enum value")}


def test_the_gate_sees_a_column_dropped_or_made_conditional_in_a_table_map() -> None:
    header = load_maps()["sales-order-header"]
    fields = tuple(f for f in header.fields if f.sales != ("totalamount",))
    assert _breaking_against_release(_edited_maps("sales-order-header", fields=fields)) == {
        ("dataverse.salesorder.writes", "$.record.totalamount", "removed or renamed field")}
    fields = tuple(f.model_copy(update={"when_feature": "PriceMaster"}) if f.sales == ("name",) else f
                   for f in header.fields)
    assert _breaking_against_release(_edited_maps("sales-order-header", fields=fields)) == {
        ("dataverse.salesorder.writes", "$.record.name", "field no longer always present")}


def test_the_gate_sees_a_column_changing_type_in_the_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(dataverse.COLUMN_TYPES["invoice"], "ispricelocked", dataverse.TEXT)
    assert _breaking_against_release(load_maps()) == {
        ("dataverse.invoice.writes", "$.record.ispricelocked", "changed type"),
        ("dataverse.invoice.changes", "$.record.ispricelocked", "changed type")}
