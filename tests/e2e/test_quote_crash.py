"""The quote and ownership services SIGKILLed mid-flow and restarted: every command gets
its one result, no change is lost or applied twice (ARCHITECTURE.md consumer recipe)."""

import asyncio

from q2c_localstack import services
from q2c_localstack.config import ServiceSpec, StackConfig

from .quote_clients import QUOTE_TOPICS, QuoteClients, assert_one_accepted_result_each, assert_sent_exactly_once

QUOTES = 20


def _spec(stack: StackConfig, name: str) -> ServiceSpec:
    return next(s for s in stack.services if s.name == name)


async def test_killed_quote_and_ownership_services_lose_and_double_nothing(running_stack: StackConfig,
                                                                          probe_factory) -> None:
    clients = QuoteClients(await probe_factory(*QUOTE_TOPICS))
    numbers = [await clients.create_scm_quote() for _ in range(QUOTES)]
    sends = [clients.scm_command("quote.send", number) for number in numbers]
    ids = {command["command_id"] for command in sends}

    # When the sends are in flight and both services are SIGKILLed
    for command in sends:
        await clients.publish_scm(command)
    await clients.probe.wait_for("scm.command.results", lambda r: r.key in ids, count=2, timeout=30)
    services.kill(running_stack, _spec(running_stack, "quote"))
    services.kill(running_stack, _spec(running_stack, "ownership"))
    answered_before_restart = len(clients.probe.matching("scm.command.results", lambda r: r.key in ids))
    await asyncio.sleep(1.0)  # down for a while (not a synchronisation: nothing to wait for)
    # and restarted
    for name in ("ownership", "quote"):
        _, offset = services.start(running_stack, _spec(running_stack, name))
        services.wait_ready(running_stack, _spec(running_stack, name), offset)

    # Then every command has its result, once (a record the relay sent twice after the kill
    # carries the same message id, so a reader sees one result)
    await clients.probe.wait_for("scm.command.results", lambda r: r.key in ids, count=QUOTES, timeout=90)
    # Sentinels: each quotation sent again, read after its first send (same key), answered on
    # the partition of that send's results, so after any second result of it.
    sentinels = [{**clients.scm_command("quote.send", number),
                  "command_id": clients.probe.key_like("scm.command.results", command["command_id"])}
                 for number, command in zip(numbers, sends, strict=True)]
    for sentinel in sentinels:
        await clients.publish_scm(sentinel)
    for sentinel in sentinels:
        assert (await clients.result(sentinel, timeout=60))["code"] == "quote.invalid-transition"
    assert_one_accepted_result_each(clients.probe, ids)
    print(f"answered before the kill: {answered_before_restart}/{QUOTES}")

    # and every quotation was sent exactly once: one change per version, one journal
    await assert_sent_exactly_once(clients, numbers)
