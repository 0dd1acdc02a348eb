"""The quote-to-cash part of `make demo`: the seed's two scenarios and its four-step example
(the seed document on the quotation lifecycle, summarised in docs/dualwrite-reference.md
§1.2–1.3), played by a Sales system and an SCM user on the topics. After each step one table
shows both sides. Every value is read back from the topics: the Sales state from
`dataverse.quote.writes`, the SCM side from `scm.quote.events`, and the restrictions by
trying a step the other system may not take and printing the answer it got."""

from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from q2c_messaging.security import KafkaCredentials

from .probe import TopicProbe

TOPICS = ["dataverse.quote.writes", "dataverse.notifications", "scm.quote.events", "scm.command.results"]
STATE_NAMES = {0: "Draft", 1: "Active", 2: "Won", 3: "Closed"}
REASON_NAMES = {1: "In progress", 2: "In progress", 3: "Open", 4: "Won", 5: "Lost", 6: "Canceled", 7: "Revised"}
COLUMNS = ["step", "Sales status", "Sales status reason", "SCM status", "origin", "ownership",
           "restriction check", "answer"]
WIDTHS = [30, 12, 19, 10, 16, 13, 21, 44]


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Stage:
    def __init__(self, probe: TopicProbe) -> None:
        self.probe = probe
        self.ids: dict[str, str] = {}
        self.rows: list[list[str]] = []

    # --- actors -------------------------------------------------------------------------------

    async def sales(self, number: str, operation: str, **record: Any) -> dict[str, Any]:
        if operation == "create":
            self.ids[number] = str(uuid4())
        change = {"message_id": str(uuid4()), "table": "quote", "operation": operation, "occurred_at": _now(),
                  "user": "alice", "record": {"quoteid": self.ids[number], "msdyn_quotenumber": number, **record}}
        await self.probe.publish("dataverse.quote.changes", self.ids[number], change)
        return change

    async def sales_line(self, number: str) -> None:
        change = {"message_id": str(uuid4()), "table": "quotedetail", "operation": "create", "occurred_at": _now(),
                  "user": "alice", "record": {
                      "quotedetailid": str(uuid4()), "quoteid": self.ids[number], "msdyn_quotenumber": number,
                      "sequencenumber": 1, "productid": "PC-1", "quantity": "3", "priceperunit": "500.00",
                      "manualdiscountamount": "10.00", "msdyn_shippingsite": "1", "msdyn_shippingwarehouse": "11"}}
        await self.probe.publish("dataverse.quotedetail.changes", change["record"]["quotedetailid"], change)
        # Lines and quotes travel on different topics: like a user, wait until SCM has the line.
        await self.probe.wait_for("scm.quote.events", lambda r: r.key == number and r.value["quotation"]["lines"])

    async def scm(self, type_: str, target: str | None, data: dict[str, Any] | None = None) -> dict[str, Any]:
        command = {"command_id": str(uuid4()), "type": type_, "issued_at": _now(),
                   "user": {"name": "bob", "privileges": []}, "target": target, "data": data or {}}
        await self.probe.publish("scm.quote.commands", target or command["command_id"], command)
        [result] = await self.probe.wait_for("scm.command.results", lambda r: r.key == command["command_id"])
        return result.value

    # --- what each side shows -----------------------------------------------------------------

    async def settled(self, number: str, scm_status: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """The SCM snapshot with `scm_status`, and the Sales row written after it."""
        [event, *_] = await self.probe.wait_for(
            "scm.quote.events",
            lambda r: r.key == number and r.value["quotation"]["SALESQUOTATIONSTATUS"] == scm_status)
        code = {"created": 192350000, "sent": 192350001, "confirmed": 192350002, "lost": 192350003,
                "cancelled": 192350004, "revised": 192350009}[scm_status]
        await self.probe.wait_for("dataverse.quote.writes", lambda r: r.key == number
                                  and r.value["record"].get("msdyn_salesquotationstatus") == code)
        writes = self.probe.matching("dataverse.quote.writes", lambda r: r.key == number)
        return event.value["quotation"], writes[-1].value["record"]

    async def show(self, step: str, number: str, scm_status: str, check: Any) -> None:
        """Once both sides show the step, run the restriction check and print the row."""
        quotation, sales_row = await self.settled(number, scm_status)
        check, answer = await check
        self.rows.append([
            step, STATE_NAMES.get(sales_row.get("statecode"), "?"), REASON_NAMES.get(sales_row.get("statuscode"), "?"),
            quotation["SALESQUOTATIONSTATUS"], quotation["SALESQUOTATIONHEADERCREATIONMETHOD"],
            quotation["SALESQUOTATIONOWNERSHIP"], check, answer])
        self.print_last()

    def print_last(self) -> None:
        widths = WIDTHS
        if len(self.rows) == 1:
            print("  " + " | ".join(c.ljust(w) for c, w in zip(COLUMNS, widths, strict=True)))
            print("  " + "-+-".join("-" * w for w in widths))
        print("  " + " | ".join(v.ljust(w) for v, w in zip(self.rows[-1], widths, strict=True)))

    # --- restriction checks: a step the other system may not take, and the answer -------------

    async def scm_tries(self, type_: str, number: str, data: dict[str, Any] | None = None) -> tuple[str, str]:
        result = await self.scm(type_, number, data)
        return f"SCM {type_}", result["outcome"] + (f": {result['code']}" if result["code"] else "")

    async def sales_tries(self, number: str, what: str, **record: Any) -> tuple[str, str]:
        change = await self.sales(number, "update", **record)
        [note] = await self.probe.wait_for("dataverse.notifications",
                                           lambda r: r.value["refused_message_id"] == change["message_id"])
        return f"Sales {what}", f"refused: {note.value['code']}"


async def run_quote_to_cash(bootstrap: str, login: KafkaCredentials | None = None) -> None:
    async with TopicProbe(bootstrap, TOPICS, credentials=login) as probe:
        run = uuid4().hex[:4].upper()
        await scenario_1(Stage(probe), f"C-{run}1")
        await scenario_2(Stage(probe))
        await four_steps(Stage(probe), run)


async def scenario_1(stage: Stage, number: str) -> None:
    print(f"\nScenario 1: quotation {number} created and activated in Sales (Origin Dynamics 365 Sales)")
    await stage.sales(number, "create", name="Office PCs", customerid="US-001", transactioncurrencyid="USD",
                      statecode=0, statuscode=1, revisionnumber=0)
    await stage.sales_line(number)
    await stage.show("1 create in Sales", number, "created", stage.scm_tries("quote.send", number))
    await stage.sales(number, "update", statecode=1, statuscode=2)
    await stage.show("2 activate in Sales", number, "sent", stage.scm_tries("quote.update", number,
                                                                                    {"name": "edit"}))


async def scenario_2(stage: Stage) -> None:
    result = await stage.scm("quote.create", None, {"customer_account": "US-001", "currency": "USD",
                                                    "name": "Servers", "lines": [
                                                        {"product_number": "SRV-1", "quantity": "2",
                                                         "unit_price": "2000.00"}]})
    number = result["target"]
    print(f"\nScenario 2: quotation {number} created and sent in SCM (Origin Supply Chain Management)")
    await stage.settled(number, "created")
    stage.ids[number] = str(uuid4())  # the id Sales gave the row q2c wrote
    await stage.show("1 create in SCM", number, "created",
                     stage.sales_tries(number, "activate", statecode=1, statuscode=2))
    await stage.scm("quote.send", number)
    await stage.show("2 send in SCM", number, "sent",
                     stage.sales_tries(number, "close as lost", statecode=3, statuscode=5))


async def four_steps(stage: Stage, run: str) -> None:
    old, new, lost, won = f"C-{run}2", f"C-{run}3", f"C-{run}4", f"C-{run}5"
    print(f"\nThe four-step example: {old} revised into {new}, then closed as lost / canceled; {won} won")
    for number in (old, lost, won):
        await stage.sales(number, "create", name="Office PCs", customerid="US-001", transactioncurrencyid="USD",
                          statecode=0, statuscode=1, revisionnumber=0)
        await stage.sales_line(number)
    await stage.show(f"1 create {old}", old, "created", stage.scm_tries("quote.send", old))
    await stage.sales(old, "update", statecode=1, statuscode=2)
    await stage.show(f"2 activate {old}", old, "sent", stage.scm_tries("quote.lose", old))
    await stage.sales(old, "update", statecode=3, statuscode=7)
    await stage.sales(new, "create", name="Office PCs", customerid="US-001", transactioncurrencyid="USD",
                      statecode=0, statuscode=1, revisionnumber=1)
    await stage.sales_line(new)
    await stage.show(f"3 revise: {old}", old, "revised", stage.scm_tries("quote.update", old,
                                                                                 {"name": "edit"}))
    await stage.show(f"3 revise: {new}", new, "created", stage.scm_tries("quote.send", new))
    await stage.sales(new, "update", statecode=1, statuscode=2)
    await stage.sales(new, "update", statecode=3, statuscode=5)
    await stage.show(f"4 close {new} as lost", new, "lost", stage.scm_tries("quote.cancel", new))
    await stage.sales(lost, "update", statecode=1, statuscode=2)
    await stage.sales(lost, "update", statecode=3, statuscode=6)
    await stage.show(f"4 close {lost} as canceled", lost, "cancelled", stage.scm_tries("quote.send", lost))
    await stage.sales(won, "update", statecode=1, statuscode=2)
    await stage.sales(won, "update", statecode=2, statuscode=4)
    await stage.show(f"4 win {won} (create order)", won, "confirmed", stage.scm_tries("quote.lose", won))

