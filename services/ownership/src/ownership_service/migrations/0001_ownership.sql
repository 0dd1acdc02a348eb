-- Every decision the ownership service made, and every ownership change that took effect.
CREATE TABLE decision_log (
    request_id       text        PRIMARY KEY,
    command_id       text        NOT NULL,
    action           text        NOT NULL,
    issuer_system    text        NOT NULL,
    issuer_user      text,
    quotation_number text        NOT NULL,
    version          integer     NOT NULL,
    status           text        NOT NULL,
    origin           text        NOT NULL,
    ownership        text        NOT NULL,
    requested_ownership text,
    lifecycle_integration boolean NOT NULL,
    outcome          text        NOT NULL CHECK (outcome IN ('approved', 'rejected')),
    code             text,
    text             text,
    decided_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX decision_log_command ON decision_log (command_id);

-- SalesQuotationOwnershipChangeLog: who, when, from, to (DOMAIN.md §2).
CREATE TABLE ownership_change_log (
    command_id       text        PRIMARY KEY,
    quotation_number text        NOT NULL,
    changed_by       text,
    changed_at       timestamptz NOT NULL,
    from_ownership   text        NOT NULL,
    to_ownership     text        NOT NULL
);

CREATE TABLE feature_copy (
    name  text  PRIMARY KEY,
    value jsonb NOT NULL
);
