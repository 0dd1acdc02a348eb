"""The ownership service's logs (DOMAIN.md §2: every ownership change is logged — who,
when, from, to). Read from its database, which no topic exposes."""

import asyncio

import asyncpg

from q2c_localstack import postgres
from q2c_localstack.config import StackConfig

from ..e2e.quote_clients import PRIVILEGE, QUOTE_TOPICS, QuoteClients


async def test_decisions_and_applied_ownership_changes_are_logged(running_stack: StackConfig, probe_factory) -> None:
    clients = QuoteClients(await probe_factory(*QUOTE_TOPICS))
    number = await clients.create_scm_quote()
    refused = clients.scm_command("quote.change-ownership", number, {"ownership": "SCM"})
    await clients.publish_scm(refused)
    await clients.result(refused)
    changed = clients.scm_command("quote.change-ownership", number, {"ownership": "Dynamics365Sales"}, (PRIVILEGE,))
    await clients.publish_scm(changed)
    assert (await clients.result(changed))["outcome"] == "accepted"
    await clients.last_state(number, version=3)

    db = await asyncpg.connect(postgres.admin_dsn(running_stack, "q2c_ownership"))
    try:
        decisions = await db.fetch(
            "SELECT command_id, outcome, code, issuer_user, version FROM decision_log WHERE quotation_number = $1 "
            "ORDER BY decided_at", number)
        assert [(d["command_id"], d["outcome"], d["code"]) for d in decisions] == [
            (refused["command_id"], "rejected", "ownership.missing-privilege"),
            (changed["command_id"], "approved", None)]
        for _ in range(50):  # the change log follows scm.quote.events
            log = await db.fetch("SELECT * FROM ownership_change_log WHERE quotation_number = $1", number)
            if log:
                break
            await asyncio.sleep(0.1)  # polling the fact
        [entry] = log
        assert entry["command_id"] == changed["command_id"]
        assert entry["changed_by"] == "bob"
        assert (entry["from_ownership"], entry["to_ownership"]) == ("BasedOnOrigin", "Dynamics365Sales")
        assert entry["changed_at"] is not None
    finally:
        await db.close()
