"""Black-box clients for the invoice e2e tests: an SCM user on `scm.invoice.commands` and
`scm.order.commands` (the real order service decides what may be invoiced), and a reader of
the internal invoicing topics. Only topics and JSON shapes."""

from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from q2c_localstack.probe import Record, TopicProbe

COMMANDS = "scm.invoice.commands"
EVENTS = "scm.invoice.events"
RESULTS = "scm.command.results"
REQUESTS = "order.invoicing-requests"
DECISIONS = "order.invoicing-decisions"
ORDER_COMMANDS = "scm.order.commands"
ORDER_EVENTS = "scm.order.events"
INVOICE_TOPICS = [RESULTS, EVENTS, REQUESTS, DECISIONS, COMMANDS + ".dlq", DECISIONS + ".dlq"]

# LINEAMOUNT = 3 × (500.00 − 3.33) − 0.01 = 1490.00 (DOMAIN.md §4)
LINE = {"sequence_number": 1, "product_number": "PC-1", "quantity": "3", "unit_price": "500.00",
        "line_discount_amount": "3.33", "total_charges_amount": "-0.01", "site": "1", "warehouse": "11"}


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def unknown_order() -> str:
    """A sales order number no order has."""
    return f"T-SO-{uuid4().hex[:8]}"


class InvoiceClients:
    def __init__(self, probe: TopicProbe) -> None:
        self.probe = probe

    # --- SCM users -------------------------------------------------------------------------------

    def command(self, type_: str, target: str | None, data: dict[str, Any]) -> dict[str, Any]:
        return {"command_id": str(uuid4()), "type": type_, "issued_at": now(),
                "user": {"name": "bob", "privileges": []}, "target": target, "data": data}

    def post_command(self, order: str, lines: list[tuple[int, str]], **data: Any) -> dict[str, Any]:
        return self.command("invoice.post", order, {
            "sales_order_number": order, **data,
            "lines": [{"sequence_number": sequence, "quantity": quantity} for sequence, quantity in lines]})

    async def publish(self, command: dict[str, Any]) -> None:
        await self.probe.publish(COMMANDS, command["target"] or command["command_id"], command)

    async def result(self, command: dict[str, Any], timeout: float = 30) -> dict[str, Any]:
        [record] = await self.probe.wait_for(RESULTS, lambda r: r.key == command["command_id"], timeout=timeout)
        return record.value

    async def run(self, command: dict[str, Any]) -> dict[str, Any]:
        await self.publish(command)
        return await self.result(command)

    def results(self, command: dict[str, Any]) -> list[Record]:
        return self.probe.matching(RESULTS, lambda r: r.key == command["command_id"])

    async def posted(self, number: str) -> dict[str, Any]:
        [record] = await self.probe.wait_for(EVENTS, lambda r: r.key == number)
        return record.value

    def events_caused_by(self, command: dict[str, Any]) -> list[Record]:
        return self.probe.matching(EVENTS, lambda r: r.value["caused_by"] == command["command_id"])

    # --- SCM users of the order service ---------------------------------------------------------------

    async def order_command(self, type_: str, target: str | None,
                            data: dict[str, Any] | None = None) -> dict[str, Any]:
        """An accepted command on `scm.order.commands`; its result."""
        command = self.command(type_, target, data or {})
        await self.probe.publish(ORDER_COMMANDS, target or command["command_id"], command)
        result = await self.result(command)
        assert result["outcome"] == "accepted", result
        return result

    async def delivered_order(self, *lines: dict[str, Any]) -> str:
        """A created, confirmed and fully delivered order of `lines` (default: LINE); its number."""
        lines = lines or (LINE,)
        created = await self.order_command("order.create", None,
                                           {"customer_account": "US-001", "currency": "USD", "lines": list(lines)})
        number = created["target"]
        await self.order_command("order.confirm", number)
        await self.order_command("order.deliver", number, {"lines": [
            {"sequence_number": line["sequence_number"], "quantity": line["quantity"]} for line in lines]})
        return number

    # --- the internal invoicing topics -------------------------------------------------------------------

    async def request(self, command: dict[str, Any]) -> dict[str, Any]:
        """The invoicing request envelope the invoice service sent for `command`."""
        [record] = await self.probe.wait_for(
            REQUESTS, lambda r: r.value["payload"]["request_id"] == command["command_id"])
        return record.value

    def requests(self, command: dict[str, Any]) -> list[Record]:
        return self.probe.matching(REQUESTS, lambda r: r.value["payload"]["request_id"] == command["command_id"])

    async def decision(self, command: dict[str, Any]) -> dict[str, Any]:
        """The order service's decision envelope on the request for `command`."""
        [record] = await self.probe.wait_for(
            DECISIONS, lambda r: r.value["payload"]["request_id"] == command["command_id"])
        return record.value

    def decisions(self, command: dict[str, Any]) -> list[Record]:
        return self.probe.matching(DECISIONS, lambda r: r.value["payload"]["request_id"] == command["command_id"])

    async def decide(self, decision: dict[str, Any]) -> None:
        """Publish a decision envelope on `order.invoicing-decisions`, as the order service would."""
        await self.probe.publish(DECISIONS, decision["key"], decision)
