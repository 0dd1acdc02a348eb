-- Sales orders as SCM holds them (docs/orders-and-invoices.md "The order service").
CREATE TABLE sales_order (
    number                  text        PRIMARY KEY,
    origin                  text        NOT NULL CHECK (origin IN ('SCM', 'Dynamics365Sales')),
    quotation_number        text,
    name                    text,
    customer                text        NOT NULL,
    currency                text        NOT NULL,
    requested_shipping_date text,
    confirmed               boolean     NOT NULL DEFAULT false,
    picked                  boolean     NOT NULL DEFAULT false,
    canceled                boolean     NOT NULL DEFAULT false,
    document_status         text        NOT NULL,
    version                 integer     NOT NULL,
    -- A deleted order keeps its row so that its number is never given again.
    deleted                 boolean     NOT NULL DEFAULT false,
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sales_order_line (
    number        text    NOT NULL REFERENCES sales_order (number) ON DELETE CASCADE,
    sequence      integer NOT NULL,
    product       text    NOT NULL,
    quantity      numeric NOT NULL,
    unit_price    numeric NOT NULL,
    line_discount numeric NOT NULL,
    charges       numeric NOT NULL,
    site          text    NOT NULL,
    warehouse     text    NOT NULL,
    delivered     numeric NOT NULL DEFAULT 0,
    invoiced      numeric NOT NULL DEFAULT 0,
    PRIMARY KEY (number, sequence),
    CHECK (invoiced <= quantity AND delivered <= quantity AND invoiced <= delivered)
);

-- The order service's copy of quotations (from scm.quote.events): Sales orders copy their
-- values, and a quotation confirmed in SCM becomes an order once (TV-17).
CREATE TABLE quotation_copy (
    number                    text    PRIMARY KEY,
    version                   integer NOT NULL,
    snapshot                  jsonb   NOT NULL,
    order_created_for_confirm text
);

CREATE TABLE number_sequence (
    name       text   PRIMARY KEY,
    next_value bigint NOT NULL
);
INSERT INTO number_sequence (name, next_value) VALUES ('sales-order', 1);

-- The decision taken for each invoicing request, re-sent when the request comes again.
CREATE TABLE invoicing_decision (
    request_id   text        PRIMARY KEY,
    order_number text        NOT NULL,
    outcome      text        NOT NULL CHECK (outcome IN ('approved', 'rejected')),
    decision     jsonb       NOT NULL,
    decided_at   timestamptz NOT NULL DEFAULT now()
);

-- The copy of the features and parameters (from scm.feature.events).
CREATE TABLE feature_copy (
    name  text  PRIMARY KEY,
    value jsonb NOT NULL
);
