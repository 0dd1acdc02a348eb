"""The committed JSON Schemas (contracts/schemas/<latest>/) are those the code generates, and
every example of docs/contract.md is a valid message of its topic."""

import copy
import re

import pytest
from jsonschema import Draft202012Validator

from q2c_localstack.config import DEPLOY
from q2c_localstack.contract import REPO, SCHEMAS, generate, is_external, latest_version, read_snapshot, render
from q2c_messaging.catalog import load_catalog

from .examples import examples

CATALOG = load_catalog(DEPLOY / "kafka" / "topics.yaml")
CURRENT = generate(CATALOG)
EXAMPLES = examples()


def schema_of(topic: str) -> dict:
    path = f"{topic}.json" if f"{topic}.json" in CURRENT else f"internal/{topic}.json"
    return CURRENT[path]


def test_the_latest_snapshot_is_what_the_code_generates() -> None:
    committed = read_snapshot(SCHEMAS / latest_version())
    stale = sorted(p for p in committed.keys() | CURRENT.keys()
                   if p not in committed or p not in CURRENT or render(committed[p]) != render(CURRENT[p]))
    assert not stale, (f"contracts/schemas/{latest_version()}/ differs from the models in {stale}: "
                       f"`make contract-release VERSION={latest_version()}` records compatible changes; "
                       "breaking ones need a new version (docs/contract-testing.md)")


def test_every_topic_has_a_schema_external_ones_outside_internal() -> None:
    for spec in CATALOG:
        if spec.dead_letter:
            continue
        expected = f"{spec.name}.json" if is_external(spec) else f"internal/{spec.name}.json"
        assert expected in CURRENT, spec.name
    assert all(Draft202012Validator.check_schema(s) is None for s in CURRENT.values())


@pytest.mark.parametrize("example", EXAMPLES, ids=str)
def test_each_contract_example_validates_against_its_topic_schema(example) -> None:
    validator = Draft202012Validator(schema_of(example.topic))
    errors = [f"{'.'.join(map(str, e.absolute_path)) or '$'}: {e.message}"
              for e in validator.iter_errors(example.value)]
    assert not errors, f"{example}: {errors}"
    assert example.key, example


def test_every_external_topic_has_an_example_in_the_contract() -> None:
    external = {s.name for s in CATALOG if is_external(s) and not s.dead_letter}
    assert external - {e.topic for e in EXAMPLES} == set()


def test_examples_use_the_contract_keys() -> None:
    """The key named above each example is the one §0 prescribes for its topic."""
    for example in EXAMPLES:
        value, key = example.value, example.key
        if example.topic.endswith(".changes"):
            table = value["table"]
            assert key == value["record"][f"{table}id"], example
        elif example.topic.endswith(".writes") or example.topic == "dataverse.notifications":
            assert key == "/".join(str(v) for v in value["alternate_key"].values()), example
        elif example.topic == "scm.command.results":
            assert key == value["command_id"], example
        elif example.topic in ("scm.quote.events", "scm.order.events", "scm.invoice.events"):
            state = value.get("quotation") or value.get("order") or value.get("invoice")
            assert key == next(v for k, v in state.items() if k.endswith("NUMBER")), example
        elif example.topic == "scm.feature.events":
            assert key == value["name"], example
        elif example.topic == "scm.processor.events":
            assert key == value["message_id"], example


def test_the_schemas_refuse_what_the_contract_forbids() -> None:
    """The schemas bite: a wrong type, an unknown enum value, a missing required field."""
    result = next(e for e in EXAMPLES if e.topic == "scm.command.results").value
    event = next(e for e in EXAMPLES if e.topic == "scm.quote.events").value
    validator = Draft202012Validator(schema_of("scm.command.results"))
    assert not validator.is_valid({**result, "outcome": "maybe"})
    assert not validator.is_valid({k: v for k, v in result.items() if k != "command_id"})
    broken = copy.deepcopy(event)
    broken["quotation"]["lines"][0]["LINECREATIONSEQUENCENUMBER"] = "1"
    assert not Draft202012Validator(schema_of("scm.quote.events")).is_valid(broken)
    assert Draft202012Validator(schema_of("scm.quote.events")).is_valid({**event, "new_field": 1})  # ignored


def test_docs_and_readme_point_only_inside_the_repository() -> None:
    for doc in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        text = doc.read_text()
        urls = [u for u in re.findall(r"https?://[^\s)`>\"']+", text)
                if not re.match(r"https?://(127\.0\.0\.1|localhost)", u)]
        assert not urls, f"{doc.name} links outside the repository: {urls}"
        for target in re.findall(r"\]\(([^)#\s]+)", text):
            resolved = (doc.parent / target).resolve()
            assert resolved.is_relative_to(REPO) and resolved.exists(), f"{doc.name}: broken or outside link {target}"
        outside = re.search(r"\b(CONTRACT|DOMAIN|STYLE|DUALWRITE-REFERENCE)(\.md\b| §)|\.\./(shared|seeds)", text)
        assert not outside, f"{doc.name} names a document outside the repository: {outside and outside[0]}"


def test_the_record_columns_bite() -> None:
    """A write's record: every always-written column on an upsert, the key alone on a delete,
    the column types of the adapter's registry and the option values of its table maps."""
    write = next(e for e in EXAMPLES if e.topic == "dataverse.salesorder.writes").value
    validator = Draft202012Validator(schema_of("dataverse.salesorder.writes"))
    assert validator.is_valid(write)
    record = write["record"]
    without_total = {k: v for k, v in record.items() if k != "totalamount"}
    assert not validator.is_valid({**write, "record": without_total})
    assert validator.is_valid({**write, "operation": "delete", "record": {"msdyn_salesordernumber": "C-SO-1001"}})
    assert not validator.is_valid({**write, "operation": "delete", "record": {}})
    assert not validator.is_valid({**write, "record": {**record, "totalamount": 1490}})
    assert not validator.is_valid({**write, "record": {**record, "msdyn_processingstatus": 192350099}})
    assert validator.is_valid({**write, "record": {**record, "requestdeliveryby": None, "extra": 1}})
    change = next(e for e in EXAMPLES if e.topic == "dataverse.quote.changes").value
    validator = Draft202012Validator(schema_of("dataverse.quote.changes"))
    assert validator.is_valid({**change, "record": {"quoteid": "q", "msdyn_quotenumber": "C-1", "name": None}})
    assert not validator.is_valid({**change, "record": {"quoteid": "q", "name": "no alternate key"}})
    assert not validator.is_valid({**change, "record": {**change["record"], "revisionnumber": "0"}})
