"""What the adapter knows of Dataverse: the columns of each table it maps (CONTRACT.md §1–§2,
DUALWRITE-REFERENCE §4) and the Sales state codes (§1.1)."""

COLUMNS: dict[str, frozenset[str]] = {
    "quote": frozenset({
        "quoteid", "msdyn_quotenumber", "name", "customerid", "transactioncurrencyid", "statecode", "statuscode",
        "revisionnumber", "requestdeliveryby", "msdyn_salesquotationstatus", "msdyn_quotationcreationmethod",
        "msdyn_quotationownership", "msdyn_generatedsalesordernumber", "totalamount", "discountamount",
    }),
    "quotedetail": frozenset({
        "quotedetailid", "quoteid", "msdyn_quotenumber", "sequencenumber", "productid", "quantity", "priceperunit",
        "manualdiscountamount", "msdyn_linediscountamount", "msdyn_shippingsite", "msdyn_shippingwarehouse", "uomid",
        "extendedamount", "baseamount", "msdyn_salesquotationstatus", "msdyn_totalchargesamount",
    }),
    "msdyn_supplychainfeaturestate": frozenset({"msdyn_name", "statecode"}),
}
PRIMARY_ID = {"quote": "quoteid", "quotedetail": "quotedetailid"}

# quote statecode / statuscode (DUALWRITE-REFERENCE §1.1)
DRAFT, ACTIVE, WON, CLOSED = 0, 1, 2, 3
LOST, CANCELED, REVISED = 5, 6, 7
