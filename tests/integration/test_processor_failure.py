"""A message the processor cannot apply is marked Failed with its error, and the message
that depends on it keeps waiting (DOMAIN.md §6). The failure is provoked from outside the
service: the quotation row is removed from the quote service's database (as an operator
could), which no command can do."""

import asyncpg

from q2c_localstack import postgres
from q2c_localstack.config import StackConfig

from ..e2e.quote_clients import QUOTE_TOPICS, QuoteClients


async def test_a_failed_message_is_marked_and_its_dependent_waits(running_stack: StackConfig, probe_factory) -> None:
    clients = QuoteClients(await probe_factory(*QUOTE_TOPICS))
    await clients.set_feature("UseMessageProcessor", True)
    await clients.set_parameter("MessageProcessorRunning", False)
    try:
        number = await clients.create_sales_quote()
        await clients.sales("quote.send", number)
        await clients.sales("quote.confirm", number)
        queued = await clients.probe.wait_for("scm.processor.events", lambda r: r.value["document"] == number,
                                              count=3)
        by_type = {r.value["type"]: r.value for r in queued}

        quote_db = await asyncpg.connect(postgres.admin_dsn(running_stack, "q2c_quote"))
        try:
            await quote_db.execute("DELETE FROM quotation WHERE number = $1", number)
            assert (await clients.scm("processor.run", "processor"))["outcome"] == "accepted"
            failed = await clients.probe.wait_for(
                "scm.processor.events", lambda r: r.value["document"] == number and r.value["state"] == "Failed",
                count=2)
            assert {r.value["type"] for r in failed} == {"create-quotation-journal",
                                                         "create-quotation-confirmation-journal"}
            assert all(r.value["error"] == f"Quotation {number} does not exist" for r in failed)
            await clients.probe.quiescent()
            link = by_type["link-sales-order"]
            assert [r.value["state"] for r in clients.probe.matching(
                "scm.processor.events", lambda r: r.key == link["message_id"])] == ["Queued"]
            assert await quote_db.fetchval("SELECT state FROM processor_message WHERE message_id = $1",
                                           link["message_id"]) == "Queued"
            assert await quote_db.fetchval("SELECT error FROM processor_message WHERE message_id = $1",
                                           by_type["create-quotation-confirmation-journal"]["message_id"]) \
                == f"Quotation {number} does not exist"
        finally:
            await quote_db.close()
    finally:
        await clients.set_parameter("MessageProcessorRunning", True)
        await clients.set_feature("UseMessageProcessor", False)
