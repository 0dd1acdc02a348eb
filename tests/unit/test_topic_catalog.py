"""The topic catalog (deploy/kafka/topics.yaml) and the rules that derive from it."""

from pathlib import Path
from typing import Any

import pytest
import yaml

import q2c_contracts.topics as topic_constants
from q2c_messaging.catalog import CatalogError, TopicCatalog, load_catalog, parse_catalog

REPO_ROOT = Path(__file__).resolve().parents[2]
CATALOG_PATH = REPO_ROOT / "deploy" / "kafka" / "topics.yaml"

# Every topic CONTRACT.md names.
CONTRACT_TOPICS = [
    "scm.quote.commands",
    "scm.order.commands",
    "scm.invoice.commands",
    "scm.feature.commands",
    "scm.command.results",
    "scm.quote.events",
    "scm.feature.events",
    "scm.processor.events",
    "scm.order.events",
    "scm.invoice.events",
    "dataverse.quote.changes",
    "dataverse.quotedetail.changes",
    "dataverse.salesorder.changes",
    "dataverse.salesorderdetail.changes",
    *(
        f"dataverse.{table}.writes"
        for table in (
            "quote", "quotedetail", "salesorder", "salesorderdetail", "invoice",
            "invoicedetail", "msdyn_supplychainfeaturestate",
        )
    ),
    "dataverse.notifications",
]

COMPACTED = {"scm.feature.events"}


def _topic_name_constants() -> dict[str, str]:
    """Module-level string constants of q2c_contracts.topics that name a topic (not a suffix)."""
    return {
        name: value
        for name, value in vars(topic_constants).items()
        if name.isupper() and isinstance(value, str) and not value.startswith(".")
    }


@pytest.fixture(scope="module")
def catalog() -> TopicCatalog:
    return load_catalog(CATALOG_PATH)


@pytest.fixture(scope="module")
def services() -> set[str]:
    return set(yaml.safe_load(CATALOG_PATH.read_text())["services"])


def _declared(catalog: TopicCatalog) -> list[str]:
    return [spec.name for spec in catalog if not spec.dead_letter]


@pytest.mark.parametrize("topic", CONTRACT_TOPICS)
def test_every_contract_topic_is_in_the_catalog(catalog: TopicCatalog, topic: str) -> None:
    spec = catalog[topic]

    assert spec.name == topic
    assert not spec.dead_letter
    assert spec.partitions >= 1


def test_there_are_topic_constants_to_check() -> None:
    assert len(_topic_name_constants()) >= 6


@pytest.mark.parametrize(("constant", "topic"), sorted(_topic_name_constants().items()))
def test_every_topic_constant_is_in_the_catalog(
    catalog: TopicCatalog, constant: str, topic: str
) -> None:
    assert topic in catalog.topics, f"{constant} = {topic!r} is not in {CATALOG_PATH}"


def test_only_the_feature_events_are_compacted(catalog: TopicCatalog) -> None:
    policies = {spec.name: spec.configs["cleanup.policy"] for spec in catalog}

    assert {name for name, policy in policies.items() if policy == "compact"} == COMPACTED
    assert {policy for name, policy in policies.items() if name not in COMPACTED} == {"delete"}


def test_every_declared_topic_has_a_writer(catalog: TopicCatalog) -> None:
    assert all(spec.writers for spec in catalog)


def test_each_topic_a_service_consumes_has_a_dead_letter_topic_written_by_those_services(
    catalog: TopicCatalog, services: set[str]
) -> None:
    # Given the topics some q2c service reads
    consumed = {spec.name: spec.consumers & services for spec in catalog if not spec.dead_letter}
    consumed = {name: readers for name, readers in consumed.items() if readers}
    assert consumed, "no topic is read by a q2c service: the catalog lost its `services`"

    # Then each has `<topic>.dlq`, one partition, written by exactly those readers
    problems = []
    for name, readers in consumed.items():
        dlq = catalog.topics.get(f"{name}.dlq")
        if dlq is None:
            problems.append(f"{name}: no {name}.dlq")
        elif not dlq.dead_letter or dlq.writers != readers or dlq.partitions != 1:
            problems.append(
                f"{name}.dlq: writers {sorted(dlq.writers)}, expected {sorted(readers)}"
            )
    assert not problems, "\n".join(problems)


def test_dead_letter_topics_exist_only_for_topics_a_service_consumes(
    catalog: TopicCatalog, services: set[str]
) -> None:
    for spec in catalog:
        if spec.dead_letter:
            source = catalog[spec.name.removesuffix(".dlq")]
            assert source.consumers & services, spec.name
            assert spec.configs["cleanup.policy"] == "delete"


@pytest.mark.parametrize(
    ("dlq", "writers"),
    [
        ("scm.feature.commands.dlq", {"feature-state"}),
        ("scm.feature.events.dlq", {"quote", "ownership", "order", "invoice", "dual-write-adapter"}),
        ("scm.quote.commands.dlq", {"quote"}),
        ("dataverse.quote.changes.dlq", {"dual-write-adapter"}),
    ],
)
def test_known_dead_letter_topics_and_their_writers(
    catalog: TopicCatalog, dlq: str, writers: set[str]
) -> None:
    assert catalog[dlq].writers == writers


@pytest.mark.parametrize(
    "topic",
    ["scm.command.results", "scm.processor.events", "dataverse.quote.writes",
     "dataverse.notifications"],
)
def test_topics_no_service_consumes_have_no_dead_letter_topic(
    catalog: TopicCatalog, topic: str
) -> None:
    assert topic in catalog.topics
    assert f"{topic}.dlq" not in catalog.topics


@pytest.mark.parametrize(
    ("service", "topic", "allowed"),
    [
        ("feature-state", "scm.feature.events", True),
        ("quote", "scm.feature.events", False),
        ("feature-state", "scm.command.results", True),
        ("feature-state", "scm.feature.commands", False),
        ("feature-state", "scm.feature.commands.dlq", True),
        ("quote", "scm.feature.commands.dlq", False),
        ("dual-write-adapter", "dataverse.notifications", True),
    ],
)
def test_may_write_follows_the_writers(
    catalog: TopicCatalog, service: str, topic: str, allowed: bool
) -> None:
    assert catalog.may_write(service, topic) is allowed


@pytest.mark.parametrize("topic", ["scm.unknown.events", "scm.command.results.dlq", ""])
def test_an_unknown_topic_raises_catalog_error(catalog: TopicCatalog, topic: str) -> None:
    with pytest.raises(CatalogError, match="not in the catalog"):
        catalog.may_write("feature-state", topic)
    with pytest.raises(CatalogError):
        catalog[topic]


def test_every_writer_and_consumer_is_a_service_or_a_known_outside_party(
    catalog: TopicCatalog, services: set[str]
) -> None:
    parties = services | {"scm-users", "sales", "operators"}
    strangers = {
        f"{spec.name}: {who}"
        for spec in catalog
        for who in spec.writers | spec.consumers
        if who not in parties
    }
    assert not strangers, sorted(strangers)


# --- parse_catalog on hand-written documents -------------------------------------------


def test_parse_catalog_reads_a_minimal_document() -> None:
    catalog = parse_catalog(
        {
            "services": ["a"],
            "topics": {
                "x.events": {"writers": ["b"], "consumers": ["a"], "retention_ms": 1000},
                "y.state": {"writers": ["a"], "compacted": True, "partitions": 1},
            },
        }
    )

    assert set(catalog.topics) == {"x.events", "x.events.dlq", "y.state"}
    assert catalog["x.events"].partitions == 3  # the default
    assert catalog["x.events"].configs == {"cleanup.policy": "delete", "retention.ms": "1000"}
    assert catalog["y.state"].configs == {"cleanup.policy": "compact"}
    assert catalog["x.events.dlq"].writers == {"a"}


@pytest.mark.parametrize(
    ("document", "message"),
    [
        pytest.param({}, "no 'topics'", id="no-topics-key"),
        pytest.param({"topics": {}}, "no 'topics'", id="empty-topics"),
        pytest.param({"topics": ["x.events"]}, "no 'topics'", id="topics-not-a-mapping"),
        pytest.param({"topics": {"x.events": {"consumers": ["a"]}}}, "no writers",
                     id="writers-missing"),
        pytest.param({"topics": {"x.events": {"writers": []}}}, "no writers", id="writers-empty"),
        pytest.param({"topics": {"x.events": {"writers": ["a"], "owner": "a"}}}, "unknown keys",
                     id="unknown-key"),
        pytest.param({"topics": {"x.events": None}}, "mapping", id="topic-without-settings"),
        pytest.param({"topics": {"x.events": {"writers": "a"}}}, "writers must be a list",
                     id="writers-a-bare-string"),
        pytest.param({"topics": {"x.events": {"writers": ["a"], "consumers": "b"}}},
                     "consumers must be a list", id="consumers-a-bare-string"),
        pytest.param({"services": "a", "topics": {"x.events": {"writers": ["a"]}}},
                     "services must be a list", id="services-a-bare-string"),
    ],
)
def test_parse_catalog_rejects_a_broken_document(document: dict[str, Any], message: str) -> None:
    with pytest.raises(CatalogError, match=message):
        parse_catalog(document)
