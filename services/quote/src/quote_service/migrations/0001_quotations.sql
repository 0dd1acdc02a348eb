-- Quotations as SCM holds them (docs/quote-lifecycle.md "Tables").
CREATE TABLE quotation (
    number                text        PRIMARY KEY,
    status                text        NOT NULL,
    origin                text        NOT NULL,
    ownership             text        NOT NULL,
    customer              text        NOT NULL,
    currency              text        NOT NULL,
    name                  text,
    requested_shipping_date text,
    generated_sales_order text,
    version               integer     NOT NULL,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE quotation_line (
    number        text    NOT NULL REFERENCES quotation (number) ON DELETE CASCADE,
    sequence      integer NOT NULL,
    product       text    NOT NULL,
    quantity      numeric NOT NULL,
    unit_price    numeric NOT NULL,
    line_discount numeric NOT NULL,
    charges       numeric NOT NULL,
    site          text    NOT NULL,
    warehouse     text    NOT NULL,
    PRIMARY KEY (number, sequence)
);

CREATE TABLE quotation_journal (
    journal_number text        PRIMARY KEY,
    number         text        NOT NULL REFERENCES quotation (number) ON DELETE CASCADE,
    type           text        NOT NULL CHECK (type IN ('quotation', 'confirmation')),
    position       integer     NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);

-- SCM number sequences: quotations and both kinds of journal.
CREATE TABLE number_sequence (
    name       text    PRIMARY KEY,
    next_value bigint  NOT NULL
);
INSERT INTO number_sequence (name, next_value) VALUES
    ('quotation', 1), ('quotation-journal', 1), ('confirmation-journal', 1);

-- Lifecycle commands waiting for the ownership service's decision.
CREATE TABLE pending_command (
    command_id    text        PRIMARY KEY,
    number        text        NOT NULL,
    type          text        NOT NULL,
    action        text        NOT NULL,
    issuer        text        NOT NULL CHECK (issuer IN ('scm', 'sales')),
    user_name     text,
    privileges    jsonb       NOT NULL DEFAULT '[]'::jsonb,
    data          jsonb       NOT NULL DEFAULT '{}'::jsonb,
    request_id    text        NOT NULL,
    asked_version integer     NOT NULL,
    state         text        NOT NULL DEFAULT 'awaiting-decision',
    created_at    timestamptz NOT NULL DEFAULT now(),
    decided_at    timestamptz
);

-- The message processor's queue (DOMAIN.md §6).
CREATE TABLE processor_message (
    seq                bigserial   UNIQUE,
    message_id         text        PRIMARY KEY,
    type               text        NOT NULL,
    document           text        NOT NULL,
    state              text        NOT NULL DEFAULT 'Queued',
    depends_on         text        REFERENCES processor_message (message_id),
    sales_order_number text,
    caused_by          text,
    error              text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    processed_at       timestamptz
);
CREATE INDEX processor_message_queued ON processor_message (seq) WHERE state = 'Queued';

-- The quote service's copy of the features and parameters (from scm.feature.events).
CREATE TABLE feature_copy (
    name  text  PRIMARY KEY,
    value jsonb NOT NULL
);
