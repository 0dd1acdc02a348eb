"""Black-box clients for the quote e2e tests: an SCM user on `scm.quote.commands`, the
dual-write adapter's side of the internal entry point `quote.sales-commands`, and an SCM
administrator on `scm.feature.commands`. Only topics and message shapes, no imports of q2c."""

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from q2c_localstack.probe import Record, TopicProbe

QUOTE_TOPICS = ["scm.command.results", "scm.quote.events", "scm.processor.events", "quote.sales-results",
                "scm.feature.events"]
PRIVILEGE = "ChangeDefaultedSalesQuotationOwnership"


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class QuoteClients:
    def __init__(self, probe: TopicProbe) -> None:
        self.probe = probe

    # --- SCM users --------------------------------------------------------------------------

    def scm_command(self, type_: str, target: str | None, data: dict[str, Any] | None = None,
                    privileges: tuple[str, ...] = ()) -> dict[str, Any]:
        return {"command_id": str(uuid4()), "type": type_, "issued_at": now(),
                "user": {"name": "bob", "privileges": list(privileges)}, "target": target, "data": data or {}}

    async def publish_scm(self, command: dict[str, Any]) -> None:
        await self.probe.publish("scm.quote.commands", command["target"] or command["command_id"], command)

    async def result(self, command: dict[str, Any], timeout: float = 30) -> dict[str, Any]:
        [record] = await self.probe.wait_for("scm.command.results", lambda r: r.key == command["command_id"],
                                             timeout=timeout)
        return record.value

    async def scm(self, type_: str, target: str | None, data: dict[str, Any] | None = None,
                  privileges: tuple[str, ...] = ()) -> dict[str, Any]:
        command = self.scm_command(type_, target, data, privileges)
        await self.publish_scm(command)
        return await self.result(command)

    async def create_scm_quote(self, lines: int = 1, **data: Any) -> str:
        body = {"customer_account": "US-001", "currency": "USD", "name": "Office PCs", **data}
        result = await self.scm("quote.create", None, body)
        assert result["outcome"] == "accepted", result
        for n in range(1, lines + 1):
            added = await self.scm("quote.add-line", result["target"], line(n))
            assert added["outcome"] == "accepted", added
        return result["target"]

    # --- Sales, through the internal entry point ------------------------------------------------

    def sales_command(self, type_: str, number: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
        sales_message_id = str(uuid4())
        return {
            "message_id": str(uuid4()), "type": "quote.sales-command", "version": 1, "occurred_at": now(),
            "producer": "dual-write-adapter", "source_system": "sales", "correlation_id": sales_message_id,
            "causation_id": sales_message_id, "key": number,
            "payload": {"command_id": sales_message_id, "type": type_, "target": number,
                        "user": {"name": "alice", "privileges": []}, "data": data or {}},
        }

    async def sales(self, type_: str, number: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
        envelope = self.sales_command(type_, number, data)
        await self.probe.publish("quote.sales-commands", number, envelope)
        return await self.sales_result(envelope)

    async def sales_result(self, envelope: dict[str, Any], timeout: float = 30) -> dict[str, Any]:
        """The quote service's answer to a Sales command: its refusal on `quote.sales-results`,
        or, when it was carried out, the event it caused (`caused_by` = the command id), read as
        an accepted answer with that event's quotation (docs/quote-lifecycle.md)."""
        command_id = envelope["payload"]["command_id"]
        record = await self.probe.first_of(
            ("quote.sales-results", lambda r: r.value["payload"]["command_id"] == command_id),
            ("scm.quote.events", lambda r: r.value["caused_by"] == command_id), timeout=timeout)
        if record.topic == "quote.sales-results":
            return record.value["payload"]
        quotation = record.value["quotation"]
        return {"command_id": command_id, "type": envelope["payload"]["type"],
                "target": quotation["SALESQUOTATIONNUMBER"], "outcome": "accepted", "quotation": quotation}

    async def create_sales_quote(self, lines: int = 1, number: str | None = None) -> str:
        number = number or f"C-{uuid4().hex[:8]}"
        result = await self.sales("quote.create", number, {"customer_account": "US-001", "currency": "USD",
                                                            "name": "From Sales"})
        assert result["outcome"] == "accepted", result
        for n in range(1, lines + 1):
            added = await self.sales("quote.add-line", number, line(n))
            assert added["outcome"] == "accepted", added
        return number

    # --- observed state ---------------------------------------------------------------------------

    def events(self, number: str) -> list[Record]:
        return self.probe.matching("scm.quote.events", lambda r: r.key == number)

    async def last_state(self, number: str, version: int | None = None) -> dict[str, Any]:
        """The quotation at `version` (or the latest seen), waiting for it if needed."""
        if version is not None:
            await self.probe.wait_for("scm.quote.events",
                                      lambda r: r.key == number and r.value["version"] == version)
        events = self.events(number)
        return max(events, key=lambda r: r.value["version"]).value

    async def set_feature(self, name: str, enabled: bool) -> None:
        await self._setting("feature.set", name, {"feature": name, "enabled": enabled})

    async def set_parameter(self, name: str, value: Any) -> None:
        await self._setting("parameter.set", name, {"name": name, "value": value})

    async def _setting(self, type_: str, name: str, data: dict[str, Any]) -> None:
        command = {"command_id": str(uuid4()), "type": type_, "issued_at": now(),
                   "user": {"name": "admin", "privileges": []}, "target": name, "data": data}
        await self.probe.publish("scm.feature.commands", name, command)
        [result] = await self.probe.wait_for("scm.command.results", lambda r: r.key == command["command_id"])
        assert result.value["outcome"] == "accepted", result.value
        [event] = await self.probe.wait_for("scm.feature.events",
                                            lambda r: r.headers.get("causation_id") == command["command_id"])
        # The quote and ownership services read the event on their own consumers: wait until
        # each has committed its offset, which it does only after storing the new value.
        for group in ("quote", "ownership"):
            await self.probe.consumed(group, event)


def line(n: int, **overrides: Any) -> dict[str, Any]:
    return {"sequence_number": n, "product_number": f"PC-{n}", "quantity": "3", "unit_price": "500.00",
            "line_discount_amount": "3.33", "site": "1", "warehouse": "11", **overrides}


def assert_one_accepted_result_each(probe: TopicProbe, ids: set[str]) -> None:
    """Every command of `ids` answered, accepted, and once: a record the relay sent twice after
    a kill carries the same message id, so a reader counts one result."""
    distinct: dict[str, set[str]] = defaultdict(set)
    for record in probe.matching("scm.command.results", lambda r: r.key in ids):
        distinct[record.key].add(record.headers["message_id"])
        assert record.value["outcome"] == "accepted", record.value
    assert {k: len(v) for k, v in distinct.items()} == {k: 1 for k in ids}


async def assert_sent_exactly_once(clients: QuoteClients, numbers: Iterable[str]) -> None:
    """Each quotation created, then sent once: one event per version (1 to 3), one journal."""
    for number in numbers:
        by_version: dict[int, set[str]] = defaultdict(set)
        for event in clients.events(number):
            by_version[event.value["version"]].add(event.value["event_id"])
        assert sorted(by_version) == [1, 2, 3], number
        assert all(len(event_ids) == 1 for event_ids in by_version.values()), number
        final = await clients.last_state(number, version=3)
        assert final["quotation"]["SALESQUOTATIONSTATUS"] == "sent"
        assert len(final["quotation"]["journals"]) == 1
