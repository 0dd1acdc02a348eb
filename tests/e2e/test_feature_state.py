"""The feature-state service through the running stack, as an SCM user sees it: only the
topics and messages of CONTRACT.md (§0, §4, §5) and the rules of DOMAIN.md §3."""

from datetime import datetime
from typing import Any

import pytest

from q2c_localstack import services
from q2c_localstack.config import StackConfig
from q2c_localstack.probe import Predicate

from .feature_clients import COMMANDS, DLQ, EVENTS, RESULTS, RFC3339_UTC, command

FEATURES = {"IntegrateQuotationLifecycle": True, "DefaultQuotationOwnership": True, "UseMessageProcessor": False,
            "PriceMaster": False, "CopyQuotationDataToSalesOrders": True}
PARAMETERS = {"DefaultOwnership": "BasedOnOrigin", "CreateQuotationJournalInBatch": True,
              "CreateConfirmationJournalInBatch": True, "MessageProcessorRunning": True,
              "ScmQuotationNumberPrefix": "F-", "ScmSalesOrderNumberPrefix": "F-SO-",
              "ScmInvoiceNumberPrefix": "F-INV-", "DefaultSite": "1", "DefaultWarehouse": "11"}


def result_of(cmd: dict[str, Any]) -> Predicate:
    return lambda r: r.key == cmd["command_id"]


async def test_every_feature_and_parameter_is_published_with_its_default(probe_factory) -> None:
    # The compacted topic holds the whole state from the first start on.
    probe = await probe_factory(EVENTS, from_beginning=True)
    names = {**FEATURES, **PARAMETERS}
    records = await probe.wait_for(EVENTS, lambda r: r.key in names, count=len(names))
    first = {}
    for record in records:
        first.setdefault(record.key, record.value)
    assert {n: v["value"] for n, v in first.items()} == names
    for name, event in first.items():
        assert event["name"] == name
        assert event["kind"] == ("feature" if name in FEATURES else "parameter")
        assert set(event) == {"event_id", "name", "kind", "value", "occurred_at"}
        datetime.strptime(event["occurred_at"], RFC3339_UTC)


@pytest.mark.parametrize("enabled", [True, False])
async def test_feature_set_is_accepted_and_its_value_published(probe_factory, enabled: bool) -> None:
    probe = await probe_factory(RESULTS, EVENTS)
    cmd = command("feature.set", "PriceMaster", {"feature": "PriceMaster", "enabled": enabled})
    await probe.publish(COMMANDS, "PriceMaster", cmd)

    [result] = await probe.wait_for(RESULTS, result_of(cmd))
    assert result.value["outcome"] == "accepted"
    assert result.value["command_id"] == cmd["command_id"]
    assert result.value["type"] == "feature.set"
    assert result.value["target"] == "PriceMaster"
    datetime.strptime(result.value["occurred_at"], RFC3339_UTC)
    [event] = await probe.wait_for(EVENTS, lambda r: r.key == "PriceMaster")
    assert event.value["name"] == "PriceMaster"
    assert event.value["kind"] == "feature"
    assert event.value["value"] is enabled


async def test_parameter_set_is_accepted_and_its_value_published(probe_factory) -> None:
    probe = await probe_factory(RESULTS, EVENTS)
    cmd = command("parameter.set", "DefaultWarehouse", {"name": "DefaultWarehouse", "value": "12"})
    await probe.publish(COMMANDS, "DefaultWarehouse", cmd)
    [result] = await probe.wait_for(RESULTS, result_of(cmd))
    [event] = await probe.wait_for(EVENTS, lambda r: r.key == "DefaultWarehouse")
    assert result.value["outcome"] == "accepted"
    assert event.value["kind"] == "parameter"
    assert event.value["value"] == "12"
    # put the default back for the tests that follow
    restore = command("parameter.set", "DefaultWarehouse", {"name": "DefaultWarehouse", "value": "11"})
    await probe.publish(COMMANDS, "DefaultWarehouse", restore)
    await probe.wait_for(RESULTS, result_of(restore))


@pytest.mark.parametrize(("type_", "target", "data", "fragment"), [
    ("feature.set", "NoSuchFeature", {"feature": "NoSuchFeature", "enabled": True}, "NoSuchFeature"),
    ("feature.set", "PriceMaster", {"feature": "PriceMaster", "enabled": "yes"}, "true or false"),
    ("parameter.set", "NoSuchParameter", {"name": "NoSuchParameter", "value": "x"}, "NoSuchParameter"),
    ("parameter.set", "MessageProcessorRunning", {"name": "MessageProcessorRunning", "value": 1}, "true or false"),
    ("parameter.set", "DefaultOwnership", {"name": "DefaultOwnership", "value": "Sales"}, "Dynamics365Sales"),
    ("feature.toggle", "PriceMaster", {"feature": "PriceMaster", "enabled": True}, "feature.toggle"),
])
async def test_an_invalid_command_is_rejected_with_command_invalid(probe_factory, type_, target, data,
                                                                  fragment) -> None:
    probe = await probe_factory(RESULTS, EVENTS)
    cmd = command(type_, target, data)
    await probe.publish(COMMANDS, target, cmd)
    [result] = await probe.wait_for(RESULTS, result_of(cmd))
    assert result.value["outcome"] == "rejected"
    assert result.value["code"] == "command.invalid"
    assert fragment in result.value["text"]
    await probe.quiescent()
    assert probe.matching(EVENTS, lambda r: r.headers.get("causation_id") == cmd["command_id"]) == []


async def test_a_command_delivered_again_changes_nothing_and_keeps_one_result(probe_factory) -> None:
    probe = await probe_factory(RESULTS, EVENTS)
    cmd = command("feature.set", "CopyQuotationDataToSalesOrders",
                  {"feature": "CopyQuotationDataToSalesOrders", "enabled": True})
    for _ in range(5):
        await probe.publish(COMMANDS, cmd["target"], cmd)
    await probe.wait_for(RESULTS, result_of(cmd))
    # Sentinel: the same setting again, read after every copy (same key). Its event follows on
    # the same key, and its id puts its result on the copies' results partition: both come
    # after anything a second handling of a copy would have published.
    sentinel = {**cmd, "command_id": probe.key_like(RESULTS, cmd["command_id"])}
    await probe.publish(COMMANDS, cmd["target"], sentinel)
    await probe.wait_for(RESULTS, result_of(sentinel))
    await probe.wait_for(EVENTS, lambda r: r.headers.get("causation_id") == sentinel["command_id"])
    assert len(probe.matching(RESULTS, result_of(cmd))) == 1
    assert len(probe.matching(EVENTS, lambda r: r.key == cmd["target"])) == 2


async def test_a_poison_command_goes_to_the_dlq_and_later_commands_still_work(probe_factory) -> None:
    probe = await probe_factory(RESULTS, DLQ)
    key = "UseMessageProcessor"
    bad = [b"{not json", b'{"type": "feature.set", "data": {}}', b'{"command_id": "c", "type": "feature.set", '
                                                                   b'"data": "not an object"}']
    for raw in bad:
        await probe.publish(COMMANDS, key, raw)
    good = command("feature.set", key, {"feature": key, "enabled": False})
    await probe.publish(COMMANDS, key, good)

    letters = await probe.wait_for(DLQ, lambda r: r.raw in bad, count=len(bad))
    [result] = await probe.wait_for(RESULTS, result_of(good))
    assert result.value["outcome"] == "accepted"
    for letter in letters:
        assert letter.key == key
        assert {"error.code", "error.text", "source.topic", "source.partition", "source.offset"} == set(letter.headers)
        assert letter.headers["source.topic"] == COMMANDS
        int(letter.headers["source.offset"])
    codes = {letter.raw: letter.headers["error.code"] for letter in letters}
    assert codes[bad[0]] == "message.not-json"
    assert codes[bad[1]] == "message.invalid"
    texts = {letter.raw: letter.headers["error.text"] for letter in letters}
    assert "command_id" in texts[bad[1]]
    assert "data" in texts[bad[2]]


async def test_commands_sent_while_the_service_is_killed_are_handled_after_restart(
        running_stack: StackConfig, probe_factory) -> None:
    probe = await probe_factory(RESULTS, EVENTS)
    [spec] = [s for s in running_stack.services if s.name == "feature-state"]
    services.kill(running_stack, spec)  # SIGKILL: no shutdown hooks
    assert not services.is_running(running_stack, spec)
    sent = [command("parameter.set", "DefaultSite", {"name": "DefaultSite", "value": str(site)})
            for site in (5, 6, 1)]
    for cmd in sent:
        await probe.publish(COMMANDS, "DefaultSite", cmd)
    _, offset = services.start(running_stack, spec)
    services.wait_ready(running_stack, spec, offset)
    for cmd in sent:
        [result] = await probe.wait_for(RESULTS, result_of(cmd), timeout=60)
        assert result.value["outcome"] == "accepted"
    events = await probe.wait_for(EVENTS, lambda r: r.key == "DefaultSite", count=3)
    # in the order sent: the last value is the one that stands
    assert [e.value["value"] for e in events] == ["5", "6", "1"]
