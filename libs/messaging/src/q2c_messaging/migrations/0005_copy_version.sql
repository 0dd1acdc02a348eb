-- Versions of the small copies a service keeps in memory (docs/messaging.md "Cached copies"):
-- one row per copied table, its version a fresh random UUID at every statement that writes
-- the table (a service's migration puts the trigger below on it). Random, not a counter: a
-- rolled-back write's version is never given to another write, and no two databases share
-- one, so a value cached under a version is the value committed with it. The consumer's inbox
-- claim reads every row in the same statement, so a handler learns without a round trip
-- whether its process's copy is current.
CREATE TABLE copy_version (
    name    text PRIMARY KEY,  -- the copied table
    version uuid NOT NULL
);

-- A statement-level trigger: one new version per writing statement, in its transaction, so
-- the version commits (or rolls back) with the write itself; also for TRUNCATE and for writes
-- that bypass the services (an operator's UPDATE).
CREATE FUNCTION copy_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO copy_version (name, version) VALUES (TG_TABLE_NAME, gen_random_uuid())
    ON CONFLICT (name) DO UPDATE SET version = EXCLUDED.version;
    RETURN NULL;
END;
$$;
