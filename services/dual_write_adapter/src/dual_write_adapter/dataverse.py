"""What the adapter knows of Dataverse: the columns of each table it maps and their JSON
types (docs/contract.md §0–§2, DUALWRITE-REFERENCE §4), the JSON type of alternate-key
columns, and Sales codes.

A column's type says what JSON a change must carry (a wrong JSON type is dead-lettered at
parse time, CONTRACT §0) and which limits its value must keep (DOMAIN.md §5: a well-typed
value SCM cannot hold is refused with `command.invalid`)."""

from typing import Literal

ColumnType = Literal["text", "money", "quantity", "integer", "boolean"]
TEXT: ColumnType = "text"
MONEY: ColumnType = "money"  # a decimal string, ±922,337,203,685,477, at most 4 decimals
QUANTITY: ColumnType = "quantity"  # a decimal string, above 0, at most 1,000,000,000, 5 decimals
INTEGER: ColumnType = "integer"  # a JSON integer: option sets, sequence and revision numbers
BOOLEAN: ColumnType = "boolean"
JSON_TYPES: dict[ColumnType, tuple[type, ...]] = {
    TEXT: (str,), MONEY: (str,), QUANTITY: (str,), INTEGER: (int,), BOOLEAN: (bool,)}
JSON_NAMES: dict[ColumnType, str] = {
    TEXT: "a string", MONEY: "a decimal string", QUANTITY: "a decimal string", INTEGER: "an integer",
    BOOLEAN: "a boolean"}


def _text(*names: str) -> dict[str, ColumnType]:
    return dict.fromkeys(names, TEXT)


def _integer(*names: str) -> dict[str, ColumnType]:
    return dict.fromkeys(names, INTEGER)


def _money(*names: str) -> dict[str, ColumnType]:
    return dict.fromkeys(names, MONEY)


_LINE: dict[str, ColumnType] = {
    **_text("productid", "msdyn_shippingsite", "msdyn_shippingwarehouse", "uomid"), **_integer("sequencenumber"),
    "quantity": QUANTITY, **_money("priceperunit", "manualdiscountamount", "msdyn_linediscountamount",
                                   "extendedamount"),
}

COLUMN_TYPES: dict[str, dict[str, ColumnType]] = {
    "quote": {
        **_text("quoteid", "msdyn_quotenumber", "name", "customerid", "transactioncurrencyid", "requestdeliveryby",
                "msdyn_generatedsalesordernumber"),
        **_integer("statecode", "statuscode", "revisionnumber", "msdyn_salesquotationstatus",
                   "msdyn_quotationcreationmethod", "msdyn_quotationownership"),
        **_money("totalamount", "discountamount"),
    },
    "quotedetail": {
        **_LINE, **_text("quotedetailid", "quoteid", "msdyn_quotenumber"),
        **_money("baseamount", "msdyn_totalchargesamount"), **_integer("msdyn_salesquotationstatus"),
    },
    "salesorder": {
        **_text("salesorderid", "msdyn_salesordernumber", "name", "customerid", "transactioncurrencyid",
                "msdyn_quotationnumber", "quoteid", "ownerid", "requestdeliveryby"),
        **_integer("statecode", "statuscode", "msdyn_processingstatus"), **_money("totalamount"),
    },
    "salesorderdetail": {
        **_LINE, **_text("salesorderdetailid", "salesorderid", "msdyn_salesordernumber"),
        **_integer("msdyn_linestatus"),
    },
    "invoice": {
        **_text("invoiceid", "msdyn_invoicenumber", "msdyn_salesordernumber", "customerid", "transactioncurrencyid",
                "msdyn_invoicedate", "ownerid"),
        **_money("msdyn_totalamount"), **_integer("statecode", "statuscode"), "ispricelocked": BOOLEAN,
    },
    "invoicedetail": {
        **_text("invoicedetailid", "invoiceid", "msdyn_invoicenumber", "productid"), **_integer("sequencenumber"),
        "quantity": QUANTITY, **_money("priceperunit", "extendedamount"),
    },
    "msdyn_supplychainfeaturestate": {**_text("msdyn_name"), **_integer("statecode")},
}

COLUMNS: dict[str, frozenset[str]] = {table: frozenset(types) for table, types in COLUMN_TYPES.items()}

# Alternate-key columns that are JSON integers; every other key column is a string.
INTEGER_KEY_COLUMNS = frozenset({"sequencenumber"})


def type_problem(table: str, column: str, value: object) -> str | None:
    """Why `value` is not of the column's JSON type (null is: a cleared column), or None.
    Columns the registry does not know are ignored (CONTRACT §0)."""
    kind = COLUMN_TYPES.get(table, {}).get(column)
    if kind is None or value is None:
        return None
    if isinstance(value, JSON_TYPES[kind]) and (kind == BOOLEAN or not isinstance(value, bool)):
        return None
    return f"record.{column} must be {JSON_NAMES[kind]}, got {type(value).__name__} {_short(value)}"


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:40]}…"
