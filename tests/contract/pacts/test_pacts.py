"""Message pacts (contracts/pacts/): each consumer's expectations are current and its own
handler accepts them (consumer side), and each provider produces what its consumers expect
(provider side): q2c through its real message-building code, the outside parties through the
contract's examples. `Q2C_UPDATE_PACTS=1 make contract` rewrites the pact files."""

import json
import os
from pathlib import Path
from typing import Any

import pytest

from q2c_localstack.contract import CONTRACTS

from ..examples import examples
from .consumers import HANDLERS
from .expectations import PactSpec, all_pacts

os.environ.setdefault("PACT_DO_NOT_TRACK", "true")  # no usage statistics sent from tests

from pact import Verifier  # noqa: E402  (after PACT_DO_NOT_TRACK)

PACTS = CONTRACTS / "pacts"
SPECS = all_pacts()


def _interactions(document: dict[str, Any]) -> list[dict[str, Any]]:
    return sorted(document["interactions"], key=lambda i: (i["description"], json.dumps(i["providerStates"])))


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.file_name)
def test_each_consumer_handles_what_it_expects_and_its_pact_file_is_current(spec: PactSpec, tmp_path: Path) -> None:
    pact = spec.build()
    pact.verify(HANDLERS[spec.consumer], "Async")
    pact.write_file(tmp_path, overwrite=True)
    written = json.loads((tmp_path / spec.file_name).read_text())
    if os.environ.get("Q2C_UPDATE_PACTS") == "1":
        PACTS.mkdir(parents=True, exist_ok=True)
        (PACTS / spec.file_name).write_text(json.dumps(written, indent=2, sort_keys=True) + "\n")
    committed = json.loads((PACTS / spec.file_name).read_text())
    assert _interactions(committed) == _interactions(written), (
        f"contracts/pacts/{spec.file_name} is not what {spec.consumer} expects now: "
        "Q2C_UPDATE_PACTS=1 make contract")


def _verify(provider: str, pact_file: Path, produce: Any) -> tuple[bool, str]:
    verifier = (Verifier(provider)
                .add_source(pact_file)
                .message_handler(produce)
                .state_handler(lambda state, action, parameters=None: None))
    try:
        verifier.verify()
    except RuntimeError:
        return False, verifier.output(strip_ansi=True)
    return True, verifier.output(strip_ansi=True)


def _interaction(pact_file: Path, description: str) -> dict[str, Any]:
    return next(i for i in json.loads(pact_file.read_text())["interactions"] if i["description"] == description)


def q2c_produces(pact_file: Path) -> Any:
    """q2c's message for an interaction: the record its real code writes in that state,
    found by the topic and key the consumer expects."""
    from .producers import record_for

    def produce(name: str, metadata: dict[str, Any] | None) -> dict[str, Any]:
        interaction = _interaction(pact_file, name)
        [state] = [s["name"] for s in interaction["providerStates"]]
        meta = interaction["contents"]["metadata"] if "metadata" in interaction["contents"] else interaction["metadata"]
        return record_for(state, meta["topic"], meta["key"]).message()
    return produce


def outside_party_produces(pact_file: Path) -> Any:
    """An outside party's message: the example of docs/contract.md for that topic and key."""
    by_topic_key = {(e.topic, e.key): e.value for e in examples()}

    def produce(name: str, metadata: dict[str, Any] | None) -> dict[str, Any]:
        interaction = _interaction(pact_file, name)
        meta = interaction.get("metadata") or interaction["contents"]["metadata"]
        value = by_topic_key[(meta["topic"], meta["key"])]
        return {"contents": json.dumps(value).encode(), "content_type": "application/json",
                "metadata": {"topic": meta["topic"], "key": meta["key"]}}
    return produce


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.file_name)
def test_each_provider_honours_the_pact(spec: PactSpec) -> None:
    pact_file = PACTS / spec.file_name
    outside = spec.provider in ("sales-connector", "scm-client")
    produce = outside_party_produces(pact_file) if outside else q2c_produces(pact_file)
    ok, output = _verify(spec.provider, pact_file, produce)
    assert ok, output


def test_a_broken_expectation_names_the_field_and_the_consumer(tmp_path: Path) -> None:
    pact = json.loads((PACTS / "sales-connector-q2c.json").read_text())
    interaction = next(i for i in pact["interactions"] if i["description"] == "a write of the sent quote C-1001")
    interaction["contents"]["content"]["record"]["msdyn_discountpercentage"] = "0"
    interaction["contents"]["content"]["record"]["statuscode"] = 3
    broken = tmp_path / "sales-connector-q2c.json"
    broken.write_text(json.dumps(pact))
    ok, output = _verify("q2c", broken, q2c_produces(broken))
    assert not ok
    assert "sales-connector" in output and "a write of the sent quote C-1001" in output
    assert "$.record.statuscode" in output and "Expected 2 (Integer) to be equal to 3" in output, output
    assert "missing the following keys: msdyn_discountpercentage" in output, output


def test_every_reader_of_every_topic_has_a_pact_with_its_writer() -> None:
    """Outside parties pin every topic they read (Sales: writes and notifications; SCM users:
    results and events), q2c pins every topic it reads from them, and each q2c service pins
    every internal topic it reads, against the service that writes it."""
    from q2c_localstack.config import DEPLOY
    from q2c_messaging.catalog import load_catalog

    party = {"sales": "sales-connector", "scm-users": "scm-client"}
    pinned = {(spec.consumer, spec.provider, e.topic) for spec in SPECS for e in spec.expectations}
    missing = []
    for topic in load_catalog(DEPLOY / "kafka" / "topics.yaml"):
        if topic.dead_letter:
            continue
        outside_writer = topic.writers & party.keys()
        for reader in topic.consumers:
            if reader in party and not outside_writer:
                wanted = {(party[reader], "q2c", topic.name)}
            elif outside_writer and reader not in party:
                [writer] = outside_writer
                wanted = {(c, party[writer], topic.name) for c in ("q2c-dual-write-adapter", "q2c-services")}
            elif not outside_writer and reader not in party and not (topic.consumers & party.keys()):
                wanted = {(reader, writer, topic.name) for writer in topic.writers}
            else:
                continue  # a q2c service reading an external event topic: the contract tests cover it
            if not wanted & pinned:
                missing.append((reader, topic.name))
    assert not missing, f"readers without a pact: {missing}"
