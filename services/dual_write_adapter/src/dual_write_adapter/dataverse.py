"""What the adapter knows of Dataverse: the columns of each table it maps (docs/contract.md
§1–§2, DUALWRITE-REFERENCE §4), the JSON type of alternate-key columns, and Sales codes."""

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
    "salesorder": frozenset({
        "salesorderid", "msdyn_salesordernumber", "name", "customerid", "transactioncurrencyid",
        "msdyn_quotationnumber", "quoteid", "ownerid", "requestdeliveryby", "statecode", "statuscode",
        "msdyn_processingstatus", "totalamount",
    }),
    "salesorderdetail": frozenset({
        "salesorderdetailid", "salesorderid", "msdyn_salesordernumber", "sequencenumber", "productid", "quantity",
        "priceperunit", "manualdiscountamount", "msdyn_linediscountamount", "msdyn_shippingsite",
        "msdyn_shippingwarehouse", "uomid", "extendedamount", "msdyn_linestatus",
    }),
    "invoice": frozenset({
        "invoiceid", "msdyn_invoicenumber", "msdyn_salesordernumber", "customerid", "transactioncurrencyid",
        "msdyn_invoicedate", "msdyn_totalamount", "statecode", "statuscode", "ispricelocked", "ownerid",
    }),
    "invoicedetail": frozenset({
        "invoicedetailid", "invoiceid", "msdyn_invoicenumber", "sequencenumber", "productid", "quantity",
        "priceperunit", "extendedamount",
    }),
    "msdyn_supplychainfeaturestate": frozenset({"msdyn_name", "statecode"}),
}

# Alternate-key columns that are JSON integers; every other key column is a string.
INTEGER_KEY_COLUMNS = frozenset({"sequencenumber"})
