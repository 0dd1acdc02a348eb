"""docs/asyncapi.json is generated from the catalog and the contract models: it must be
regenerated (`python -m q2c_localstack asyncapi > docs/asyncapi.json`) whenever they change."""

import json

from q2c_localstack.asyncapi import OUTPUT, document, render
from q2c_localstack.config import DEPLOY
from q2c_messaging.catalog import load_catalog


def test_the_committed_asyncapi_document_is_current() -> None:
    catalog = load_catalog(DEPLOY / "kafka" / "topics.yaml")
    assert OUTPUT.read_text() == render(catalog), "regenerate docs/asyncapi.json"


def test_every_contract_topic_has_a_channel_with_its_message() -> None:
    doc = document(load_catalog(DEPLOY / "kafka" / "topics.yaml"))
    addresses = {c["address"]: c for c in doc["channels"].values()}
    assert doc["asyncapi"] == "3.0.0"
    for topic, schema in [("scm.command.results", "CommandResult"), ("scm.quote.events", "QuoteEvent"),
                          ("dataverse.quote.changes", "DataverseChange"), ("dataverse.quote.writes", "DataverseWrite"),
                          ("dataverse.notifications", "DataverseNotification"),
                          ("scm.feature.events", "FeatureStateEvent")]:
        assert addresses[topic]["messages"]["message"]["payload"] == {"$ref": f"#/components/schemas/{schema}"}
    result = doc["components"]["schemas"]["CommandResult"]
    assert set(result["properties"]) == {"command_id", "type", "target", "outcome", "code", "text", "occurred_at"}
    dlq = addresses["scm.quote.commands.dlq"]["messages"]["message"]["headers"]["properties"]
    assert set(dlq) == {"error.code", "error.text", "source.topic", "source.partition", "source.offset"}
    json.dumps(doc)  # serialisable as it is written
