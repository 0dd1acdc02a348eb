-- The dual-write adapter's state (docs/dual-write-adapter.md).

-- The last known Sales row per alternate key: what Sales sent us, plus what we wrote to it.
CREATE TABLE sales_row (
    sales_table text        NOT NULL,
    alt_key     text        NOT NULL,
    primary_id  text,
    record      jsonb       NOT NULL DEFAULT '{}'::jsonb,
    deleted     boolean     NOT NULL DEFAULT false,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (sales_table, alt_key)
);
CREATE INDEX sales_row_primary_id ON sales_row (sales_table, primary_id);

-- The last SCM snapshot per quotation (for initial sync), and per map the last version it
-- applied, so a replay after a pause keeps the whole sequence and never goes back in time.
CREATE TABLE scm_quote (
    number         text    PRIMARY KEY,
    version        integer NOT NULL,
    snapshot       jsonb   NOT NULL,
    deleted        boolean NOT NULL DEFAULT false,
    header_version integer NOT NULL DEFAULT 0,
    lines_version  integer NOT NULL DEFAULT 0,
    lines_snapshot jsonb
);

-- Each Sales change forwarded, and the commands it became (to answer refusals once).
CREATE TABLE sales_change (
    message_id  text        PRIMARY KEY,
    sales_table text        NOT NULL,
    alt_key     text        NOT NULL,
    notified    boolean     NOT NULL DEFAULT false,
    received_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE forwarded_command (
    command_id       text PRIMARY KEY,
    sales_message_id text NOT NULL REFERENCES sales_change (message_id),
    command_type     text NOT NULL
);

-- Line changes that arrived before their quote.
CREATE TABLE held_line (
    seq          bigserial   PRIMARY KEY,
    quote_number text        NOT NULL,
    change       jsonb       NOT NULL,
    held_at      timestamptz NOT NULL DEFAULT now()
);

-- The engine: map states, changes queued while a map is paused, and the error log.
CREATE TABLE map_state (
    name       text        PRIMARY KEY,
    state      text        NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE queued_change (
    seq       bigserial   PRIMARY KEY,
    map       text        NOT NULL,
    kind      text        NOT NULL,
    payload   jsonb       NOT NULL,
    queued_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE error_log (
    id         bigserial   PRIMARY KEY,
    map        text        NOT NULL,
    kind       text        NOT NULL,
    payload    jsonb       NOT NULL,
    reason     text        NOT NULL,
    state      text        NOT NULL DEFAULT 'open',
    attempts   integer     NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    retried_at timestamptz
);

CREATE TABLE feature_copy (
    name  text  PRIMARY KEY,
    kind  text  NOT NULL DEFAULT 'feature',
    value jsonb NOT NULL
);
