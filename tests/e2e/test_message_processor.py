"""The message processor (DOMAIN.md §6) through the running stack: journals of Sales-owned
quotations become messages on `scm.processor.events`, processed while MessageProcessorRunning
is true or once per `processor.run`, each exactly once."""


import pytest

from .quote_clients import QUOTE_TOPICS, QuoteClients


@pytest.fixture
async def clients(probe_factory) -> QuoteClients:
    return QuoteClients(await probe_factory(*QUOTE_TOPICS))


def processor_events(clients: QuoteClients, number: str, state: str | None = None) -> list[dict]:
    return [r.value for r in clients.probe.matching(
        "scm.processor.events",
        lambda r: r.value["document"] == number and (state is None or r.value["state"] == state))]


async def test_a_stopped_processor_keeps_messages_queued_until_processor_run(clients: QuoteClients,
                                                                           stopped_processor: None) -> None:
    number = await clients.create_sales_quote()
    # Activation in Sales: sent at once, the journal queued
    assert (await clients.sales("quote.send", number))["outcome"] == "accepted"
    sent = await clients.last_state(number, version=3)
    assert sent["quotation"]["SALESQUOTATIONSTATUS"] == "sent"
    assert sent["quotation"]["journals"] == []
    [journal] = [m.value for m in await clients.probe.wait_for(
        "scm.processor.events", lambda r: r.value["document"] == number)]
    assert (journal["type"], journal["state"]) == ("create-quotation-journal", "Queued")

    # Won in Sales: confirmed at once, the confirmation journal queued, the link waiting on it
    assert (await clients.sales("quote.confirm", number, {"sales_order_number": "C-SO-77"}))["outcome"] == "accepted"
    await clients.probe.wait_for("scm.processor.events", lambda r: r.value["document"] == number, count=3)
    queued = {m["type"]: m for m in processor_events(clients, number, "Queued")}
    confirmation = queued["create-quotation-confirmation-journal"]
    link = queued["link-sales-order"]
    assert link["depends_on"] == confirmation["message_id"]
    confirmed = await clients.last_state(number, version=4)
    assert confirmed["quotation"]["SALESQUOTATIONSTATUS"] == "confirmed"
    assert confirmed["quotation"]["journals"] == []

    # Nothing moves while the processor is stopped
    await clients.probe.quiescent()
    assert processor_events(clients, number, "Processed") == []

    # processor.run processes every Queued message once, the dependent one after its parent
    run = await clients.scm("processor.run", "processor")
    assert (run["outcome"], run["target"]) == ("accepted", "processor")
    await clients.probe.wait_for("scm.processor.events",
                                 lambda r: r.value["document"] == number and r.value["state"] == "Processed", count=3)
    final = await clients.last_state(number, version=7)
    assert [e.value["type"] for e in clients.events(number)][-3:] == [
        "quote.journal-created", "quote.confirmation-journal-created", "quote.linked-to-sales-order"]
    assert [j["type"] for j in final["quotation"]["journals"]] == ["quotation", "confirmation"]
    assert final["quotation"]["GENERATEDSALESORDERNUMBER"] == "C-SO-77"

    # a second run finds nothing left: each message was processed exactly once
    assert (await clients.scm("processor.run", "processor"))["outcome"] == "accepted"
    await clients.probe.quiescent()
    processed = [m["message_id"] for m in processor_events(clients, number, "Processed")]
    assert sorted(processed) == sorted({journal["message_id"], confirmation["message_id"], link["message_id"]})
    assert len((await clients.last_state(number))["quotation"]["journals"]) == 2


async def test_a_running_processor_takes_queued_messages_on_its_own(clients: QuoteClients,
                                                                  stopped_processor: None) -> None:
    number = await clients.create_sales_quote()
    await clients.sales("quote.send", number)
    await clients.probe.wait_for("scm.processor.events", lambda r: r.value["document"] == number)
    await clients.set_parameter("MessageProcessorRunning", True)
    [done] = await clients.probe.wait_for(
        "scm.processor.events", lambda r: r.value["document"] == number and r.value["state"] == "Processed",
        timeout=15)
    assert done.value["type"] == "create-quotation-journal"
    state = await clients.last_state(number, version=4)
    assert [j["type"] for j in state["quotation"]["journals"]] == ["quotation"]


async def test_scm_owned_quotations_get_their_journal_at_once(clients: QuoteClients, stopped_processor: None) -> None:
    number = await clients.create_scm_quote()
    await clients.scm("quote.send", number)
    sent = await clients.last_state(number, version=3)
    assert [j["type"] for j in sent["quotation"]["journals"]] == ["quotation"]
    await clients.probe.quiescent()
    assert processor_events(clients, number) == []


async def test_queued_messages_survive_a_killed_quote_service(running_stack, clients: QuoteClients,
                                                             stopped_processor: None) -> None:
    from q2c_localstack import services

    numbers = [await clients.create_sales_quote() for _ in range(3)]
    for number in numbers:
        assert (await clients.sales("quote.send", number))["outcome"] == "accepted"
    await clients.probe.wait_for("scm.processor.events",
                                 lambda r: r.value["document"] in numbers and r.value["state"] == "Queued", count=3)
    # SIGKILL, restart: the queue is in the quote service's database, nothing is lost
    quote = next(s for s in running_stack.services if s.name == "quote")
    services.kill(running_stack, quote)
    _, offset = services.start(running_stack, quote)
    services.wait_ready(running_stack, quote, offset)
    assert (await clients.scm("processor.run", "processor"))["outcome"] == "accepted"
    await clients.probe.wait_for("scm.processor.events",
                                 lambda r: r.value["document"] in numbers and r.value["state"] == "Processed", count=3)
    await clients.scm("processor.run", "processor")
    await clients.probe.quiescent()
    for number in numbers:
        assert len(processor_events(clients, number, "Processed")) == 1
        assert len((await clients.last_state(number))["quotation"]["journals"]) == 1


async def test_an_administrator_cancels_and_requeues_a_message(running_stack, clients: QuoteClients,
                                                              stopped_processor: None) -> None:
    import asyncio
    import subprocess

    from q2c_localstack.services import admin_command

    async def processor_admin(*argv: str) -> str:
        command, env = admin_command(running_stack, list(argv), "quote")
        done = await asyncio.to_thread(subprocess.run, command, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout

    number = await clients.create_sales_quote()
    await clients.sales("quote.send", number)
    [queued] = await clients.probe.wait_for("scm.processor.events", lambda r: r.value["document"] == number)
    message_id = queued.value["message_id"]
    assert message_id in await processor_admin("messages", "Queued")
    assert f"{message_id}: Canceled" in await processor_admin("cancel", message_id)
    await clients.probe.wait_for("scm.processor.events",
                                 lambda r: r.key == message_id and r.value["state"] == "Canceled")
    await clients.scm("processor.run", "processor")  # a canceled message is not processed
    await clients.probe.quiescent()
    assert processor_events(clients, number, "Processed") == []
    assert f"{message_id}: Queued" in await processor_admin("requeue", message_id)
    await clients.scm("processor.run", "processor")
    await clients.probe.wait_for("scm.processor.events",
                                 lambda r: r.key == message_id and r.value["state"] == "Processed")
    states = [r.value["state"] for r in clients.probe.matching("scm.processor.events", lambda r: r.key == message_id)]
    assert states == ["Queued", "Canceled", "Queued", "Processed"]
