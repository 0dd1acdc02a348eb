-- Features and parameters: one row each, the whole current value. Defaults are domain
-- knowledge (domain.py) and are inserted at start-up, so a release that adds a feature
-- adds its row without a data migration.
CREATE TABLE setting (
    name       text        PRIMARY KEY,
    kind       text        NOT NULL CHECK (kind IN ('feature', 'parameter')),
    value      jsonb       NOT NULL,
    version    integer     NOT NULL DEFAULT 1,
    updated_at timestamptz NOT NULL DEFAULT now(),
    -- the command that set the value; NULL for a default
    updated_by text
);
