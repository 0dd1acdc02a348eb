-- The sales order made from a quotation, as scm.order.events named it (docs/orders-and-invoices.md
-- "The link to the quotation"). One row per quotation: the first order wins.
CREATE TABLE order_link (
    quotation_number   text        PRIMARY KEY,
    sales_order_number text        NOT NULL,
    linked_at          timestamptz NOT NULL DEFAULT now()
);
