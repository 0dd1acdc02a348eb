"""Black-box clients for the order e2e tests: an SCM user on `scm.order.commands` (and
`scm.quote.commands` for TV-17), the dual-write adapter's side of `order.sales-commands`, and the
invoice service's side of `order.invoicing-requests`. Only topics and JSON, no imports of q2c."""

from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from q2c_localstack.probe import Record, TopicProbe

ORDER_TOPICS = ["scm.command.results", "scm.order.events", "order.sales-results", "order.invoicing-decisions"]


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def order_line(n: int, **overrides: Any) -> dict[str, Any]:
    return {"sequence_number": n, "product_number": f"PC-{n}", "quantity": "3", "unit_price": "500.00",
            "line_discount_amount": "3.33", **overrides}


def envelope(type_: str, key: str, payload: dict[str, Any], producer: str) -> dict[str, Any]:
    message_id = str(uuid4())
    return {"message_id": message_id, "type": type_, "version": 1, "occurred_at": now(), "producer": producer,
            "source_system": "internal", "correlation_id": message_id, "key": key, "payload": payload}


class OrderClients:
    def __init__(self, probe: TopicProbe) -> None:
        self.probe = probe

    # --- SCM users ------------------------------------------------------------------------------------

    def scm_command(self, type_: str, target: str | None, data: dict[str, Any] | None = None) -> dict[str, Any]:
        return {"command_id": str(uuid4()), "type": type_, "issued_at": now(),
                "user": {"name": "bob", "privileges": []}, "target": target, "data": data or {}}

    async def publish_scm(self, command: dict[str, Any], topic: str = "scm.order.commands") -> None:
        await self.probe.publish(topic, command["target"] or command["command_id"], command)

    async def result(self, command: dict[str, Any], timeout: float = 30) -> dict[str, Any]:
        [record] = await self.probe.wait_for("scm.command.results", lambda r: r.key == command["command_id"],
                                             timeout=timeout)
        return record.value

    async def scm(self, type_: str, target: str | None, data: dict[str, Any] | None = None,
                  topic: str = "scm.order.commands") -> dict[str, Any]:
        command = self.scm_command(type_, target, data)
        await self.publish_scm(command, topic)
        return await self.result(command)

    async def create_scm_order(self, lines: int = 1, **data: Any) -> str:
        body = {"customer_account": "US-001", "currency": "USD", "name": "Office PCs",
                "lines": [order_line(n) for n in range(1, lines + 1)], **data}
        result = await self.scm("order.create", None, body)
        assert result["outcome"] == "accepted", result
        return result["target"]

    # --- Sales, through the adapter's entry point ---------------------------------------------------------

    def sales_command(self, type_: str, number: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
        payload = {"command_id": str(uuid4()), "type": type_, "target": number,
                   "user": {"name": "alice", "privileges": []}, "data": data or {}}
        return envelope("order.sales-command", number, payload, "dual-write-adapter")

    async def sales(self, type_: str, number: str, data: dict[str, Any] | None = None,
                    timeout: float = 30) -> dict[str, Any]:
        """The order service's answer: its refusal on `order.sales-results`, or, when the
        command was carried out, the event it caused (`caused_by` = the command id), read as an
        accepted answer with that event's order (docs/orders-and-invoices.md)."""
        message = self.sales_command(type_, number, data)
        await self.probe.publish("order.sales-commands", number, message)
        command_id = message["payload"]["command_id"]
        record = await self.probe.first_of(
            ("order.sales-results", lambda r: r.value["payload"]["command_id"] == command_id),
            ("scm.order.events", lambda r: r.value["caused_by"] == command_id), timeout=timeout)
        if record.topic == "order.sales-results":
            assert record.value["type"] == "order.sales-result"
            return record.value["payload"]
        order = record.value["order"]
        return {"command_id": command_id, "type": type_, "target": order["SALESORDERNUMBER"],
                "outcome": "accepted", "order": order}

    # --- the invoice service's side ------------------------------------------------------------------------

    def invoicing_request(self, number: str, lines: list[tuple[int, str]],
                          request_id: str | None = None) -> dict[str, Any]:
        payload = {"request_id": request_id or str(uuid4()), "sales_order_number": number,
                   "lines": [{"sequence_number": s, "quantity": q} for s, q in lines]}
        return envelope("order.invoicing-request", number, payload, "invoice")

    async def invoicing(self, message: dict[str, Any], count: int = 1) -> list[Record]:
        """Publish the request; the `count` decisions for its request id seen so far."""
        await self.probe.publish("order.invoicing-requests", message["key"], message)
        request_id = message["payload"]["request_id"]
        return await self.probe.wait_for(
            "order.invoicing-decisions", lambda r: r.value["payload"]["request_id"] == request_id, count=count)

    # --- observed state ---------------------------------------------------------------------------------------

    def events(self, number: str) -> list[Record]:
        return self.probe.matching("scm.order.events", lambda r: r.key == number)

    async def state(self, number: str, version: int) -> dict[str, Any]:
        """The order event of `version`, waiting for it."""
        [record] = await self.probe.wait_for(
            "scm.order.events", lambda r: r.key == number and r.value["version"] == version)
        return record.value
