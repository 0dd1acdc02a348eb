"""A black-box Sales (Dataverse) system for the dual-write e2e tests: it publishes row
changes on `dataverse.<table>.changes` and reads `dataverse.<table>.writes` and
`dataverse.notifications`, as CONTRACT.md §1–§3 describe. Nothing but topics and shapes."""

from collections.abc import Callable
from typing import Any
from uuid import uuid4

from aiokafka.structs import RecordMetadata

from q2c_localstack.probe import Record, TopicProbe

from .quote_clients import now

DATAVERSE_TOPICS = ["dataverse.quote.writes", "dataverse.quotedetail.writes", "dataverse.notifications",
                    "dataverse.msdyn_supplychainfeaturestate.writes"]
ORDER_TOPICS = ["dataverse.salesorder.writes", "dataverse.salesorderdetail.writes", "dataverse.invoice.writes",
                "dataverse.invoicedetail.writes"]

# CONTRACT.md §2 option values
STATUS = {"created": 192350000, "sent": 192350001, "confirmed": 192350002, "lost": 192350003,
          "cancelled": 192350004, "revised": 192350009}
ORIGIN = {"SCM": 776160000, "Dynamics365Sales": 776160001}
OWNERSHIP = {"BasedOnOrigin": 776160000, "SCM": 776160001, "Dynamics365Sales": 776160002}
# CONTRACT.md §2.1
PROCESSING = {"active": 192350000, "confirmed": 192350001, "picked": 192350002, "partiallydelivered": 192350003,
              "delivered": 192350004, "invoiced": 192350005, "partiallyinvoiced": 192350006, "canceled": 192350007,
              "deliveredpartiallyinvoiced": 192350008}
LINE_STATUS = {"none": 192350000, "backorder": 192350001, "delivered": 192350002, "invoiced": 192350003,
               "canceled": 192350004}
ORDER_STATE = {"Active": (0, 1), "Fulfilled": (3, 100001), "Invoiced": (4, 100003), "Canceled": (2, 4)}


class SalesSystem:
    def __init__(self, probe: TopicProbe) -> None:
        self.probe = probe
        self.ids: dict[str, str] = {}  # alternate key → primary id
        self.published: dict[str, RecordMetadata] = {}  # message id → where the change went

    def change(self, table: str, operation: str, record: dict[str, Any]) -> dict[str, Any]:
        return {"message_id": str(uuid4()), "table": table, "operation": operation, "occurred_at": now(),
                "user": "alice", "record": record}

    async def send(self, change: dict[str, Any]) -> dict[str, Any]:
        table = change["table"]
        primary = change["record"].get(f"{table}id")
        self.published[change["message_id"]] = await self.probe.publish(f"dataverse.{table}.changes", primary,
                                                                         change)
        return change

    async def taken(self, change: dict[str, Any]) -> None:
        """Wait until the adapter has handled `change` (its consumer offset is committed after)."""
        await self.probe.consumed("dual-write-adapter", self.published[change["message_id"]])

    async def create_quote(self, number: str | None = None, **columns: Any) -> str:
        number = number or f"C-{uuid4().hex[:8]}"
        self.ids[number] = str(uuid4())
        await self.send(self.change("quote", "create", {
            "quoteid": self.ids[number], "msdyn_quotenumber": number, "name": "Office PCs", "customerid": "US-001",
            "transactioncurrencyid": "USD", "statecode": 0, "statuscode": 1, "revisionnumber": 0, **columns}))
        return number

    async def update_quote(self, number: str, **columns: Any) -> dict[str, Any]:
        return await self.send(self.change("quote", "update", {
            "quoteid": self.ids.get(number, str(uuid4())), "msdyn_quotenumber": number, **columns}))

    async def activate(self, number: str) -> dict[str, Any]:
        return await self.update_quote(number, statecode=1, statuscode=2)

    async def close(self, number: str, reason: int) -> dict[str, Any]:
        return await self.update_quote(number, statecode=3, statuscode=reason)

    async def win(self, number: str) -> dict[str, Any]:
        return await self.update_quote(number, statecode=2, statuscode=4)

    async def delete_quote(self, number: str) -> dict[str, Any]:
        return await self.send(self.change("quote", "delete", {"quoteid": self.ids[number],
                                                               "msdyn_quotenumber": number}))

    async def add_line(self, number: str, sequence: int = 1, **columns: Any) -> dict[str, Any]:
        line_id = str(uuid4())
        self.ids[f"{number}/{sequence}"] = line_id
        return await self.send(self.change("quotedetail", "create", {
            "quotedetailid": line_id, "quoteid": self.ids.get(number), "msdyn_quotenumber": number,
            "sequencenumber": sequence, "productid": "PC-1", "quantity": "3", "priceperunit": "500.00",
            "manualdiscountamount": "10.00", "msdyn_shippingsite": "1", "msdyn_shippingwarehouse": "11",
            **columns}))

    async def add_line_and_wait(self, number: str, sequence: int = 1, **columns: Any) -> dict[str, Any]:
        """Add a line and wait until SCM has it: changes of different tables travel on
        different topics (CONTRACT.md §1), so a user who adds a line and then activates the
        quote seconds later is modelled by waiting, not by publishing back to back."""
        change = await self.add_line(number, sequence, **columns)
        await self.probe.wait_for("scm.quote.events", lambda r: r.key == number and any(
            line["LINECREATIONSEQUENCENUMBER"] == sequence for line in r.value["quotation"]["lines"]))
        return change

    async def update_line(self, number: str, sequence: int, **columns: Any) -> dict[str, Any]:
        return await self.send(self.change("quotedetail", "update", {
            "quotedetailid": self.ids[f"{number}/{sequence}"], "msdyn_quotenumber": number,
            "sequencenumber": sequence, **columns}))

    # --- sales orders (CONTRACT.md §1.1) -------------------------------------------------------

    async def create_order(self, number: str | None = None, **columns: Any) -> str:
        number = number or f"C-SO-{uuid4().hex[:8]}"
        self.ids[number] = str(uuid4())
        await self.send(self.change("salesorder", "create", {
            "salesorderid": self.ids[number], "msdyn_salesordernumber": number, "name": "Office PCs",
            "customerid": "US-001", "transactioncurrencyid": "USD", "ownerid": "alice", "statecode": 0,
            "statuscode": 1, **columns}))
        return number

    async def update_order(self, number: str, **columns: Any) -> dict[str, Any]:
        return await self.send(self.change("salesorder", "update", {
            "salesorderid": self.ids.get(number, str(uuid4())), "msdyn_salesordernumber": number, **columns}))

    async def delete_order(self, number: str) -> dict[str, Any]:
        return await self.send(self.change("salesorder", "delete", {
            "salesorderid": self.ids.get(number, str(uuid4())), "msdyn_salesordernumber": number}))

    async def add_order_line(self, number: str, sequence: int = 1, **columns: Any) -> dict[str, Any]:
        line_id = str(uuid4())
        self.ids[f"{number}/{sequence}"] = line_id
        return await self.send(self.change("salesorderdetail", "create", {
            "salesorderdetailid": line_id, "salesorderid": self.ids.get(number), "msdyn_salesordernumber": number,
            "sequencenumber": sequence, "productid": "PC-1", "quantity": "3", "priceperunit": "500.00",
            "manualdiscountamount": "10.00", **columns}))

    async def update_order_line(self, number: str, sequence: int, **columns: Any) -> dict[str, Any]:
        return await self.send(self.change("salesorderdetail", "update", {
            "salesorderdetailid": self.ids.get(f"{number}/{sequence}", str(uuid4())),
            "msdyn_salesordernumber": number, "sequencenumber": sequence, **columns}))

    async def change_invoice(self, operation: str, number: str, **columns: Any) -> dict[str, Any]:
        return await self.send(self.change("invoice", operation, {
            "invoiceid": str(uuid4()), "msdyn_invoicenumber": number, **columns}))

    async def change_invoice_line(self, operation: str, number: str, sequence: int, **columns: Any) -> dict[str, Any]:
        return await self.send(self.change("invoicedetail", operation, {
            "invoicedetailid": str(uuid4()), "msdyn_invoicenumber": number, "sequencenumber": sequence, **columns}))

    async def order_row(self, number: str, processing: str, timeout: float = 30) -> dict[str, Any]:
        """Wait for the salesorder write with that processing status; return its record."""
        write = await self.write("salesorder", number,
                                 lambda w: w["record"].get("msdyn_processingstatus") == PROCESSING[processing],
                                 timeout=timeout)
        return write["record"]

    async def order_notification(self, table: str, key: str, refused: dict[str, Any],
                                 timeout: float = 30) -> dict[str, Any]:
        [record] = await self.probe.wait_for(
            "dataverse.notifications",
            lambda r: r.key == key and r.value["table"] == table
            and r.value["refused_message_id"] == refused["message_id"], timeout=timeout)
        return record.value

    # --- what Sales receives --------------------------------------------------------------------

    def writes(self, table: str, key: str) -> list[Record]:
        return self.probe.matching(f"dataverse.{table}.writes", lambda r: r.key == key)

    async def write(self, table: str, key: str, predicate: Callable[[dict[str, Any]], bool] = lambda w: True,
                    timeout: float = 30) -> dict[str, Any]:
        """The first write to the row that satisfies `predicate`."""
        [record, *_] = await self.probe.wait_for(f"dataverse.{table}.writes",
                                                 lambda r: r.key == key and predicate(r.value), timeout=timeout)
        return record.value

    async def row_state(self, number: str, status: str, timeout: float = 30) -> dict[str, Any]:
        """Wait for the quote write that carries SCM status `status`; return its record."""
        write = await self.write("quote", number,
                                 lambda w: w["record"].get("msdyn_salesquotationstatus") == STATUS[status],
                                 timeout=timeout)
        return write["record"]

    async def notification(self, number: str, refused: dict[str, Any], timeout: float = 30) -> dict[str, Any]:
        [record] = await self.probe.wait_for(
            "dataverse.notifications",
            lambda r: r.key == number and r.value["refused_message_id"] == refused["message_id"], timeout=timeout)
        return record.value
