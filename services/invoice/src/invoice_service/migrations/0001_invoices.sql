-- Invoices as SCM holds them (docs/orders-and-invoices.md "The invoice service").
CREATE TABLE invoice (
    number             text        PRIMARY KEY,
    sales_order_number text,                         -- NULL: a free-text invoice
    customer           text        NOT NULL,
    currency           text        NOT NULL,
    invoice_date       date        NOT NULL,
    total              numeric     NOT NULL,
    posted_by          text        NOT NULL UNIQUE,  -- the command id: one invoice per command
    created_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX invoice_by_order ON invoice (sales_order_number) WHERE sales_order_number IS NOT NULL;

CREATE TABLE invoice_line (
    number         text    NOT NULL REFERENCES invoice (number) ON DELETE CASCADE,
    sequence       integer NOT NULL,
    product        text,            -- a sales-order line
    description    text,            -- a free-text line
    ledger_account text,
    quantity       numeric NOT NULL,
    price          numeric NOT NULL,
    amount         numeric NOT NULL,
    PRIMARY KEY (number, sequence)
);

-- invoice.post commands waiting for the order service's decision, and how each ended.
CREATE TABLE pending_post (
    command_id         text        PRIMARY KEY,  -- = the invoicing request id
    sales_order_number text        NOT NULL,
    lines              jsonb       NOT NULL,     -- [{sequence_number, quantity}] as validated
    invoice_date       date        NOT NULL,
    state              text        NOT NULL DEFAULT 'awaiting-decision'
                                   CHECK (state IN ('awaiting-decision', 'posted', 'rejected')),
    invoice_number     text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    decided_at         timestamptz
);

-- Money invoiced so far per order line: the completing post takes LINEAMOUNT minus this.
CREATE TABLE line_remainder (
    sales_order_number text    NOT NULL,
    sequence           integer NOT NULL,
    invoiced_quantity  numeric NOT NULL DEFAULT 0,
    invoiced_amount    numeric NOT NULL DEFAULT 0,
    PRIMARY KEY (sales_order_number, sequence)
);

CREATE TABLE number_sequence (
    name       text   PRIMARY KEY,
    next_value bigint NOT NULL
);
INSERT INTO number_sequence (name, next_value) VALUES ('invoice', 1);

-- The invoice service's copy of the parameters it reads (from scm.feature.events).
CREATE TABLE feature_copy (
    name  text  PRIMARY KEY,
    value jsonb NOT NULL
);
