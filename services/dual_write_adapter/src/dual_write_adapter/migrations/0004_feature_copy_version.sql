-- The feature copy is kept in memory by each process and read again only when its version
-- moved (docs/messaging.md "Cached copies"): every write of it gives it a new version, in the
-- writing transaction (the function and the copy_version table are the messaging migrations').
CREATE TRIGGER feature_copy_versioned AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON feature_copy
    FOR EACH STATEMENT EXECUTE FUNCTION copy_version_bump();

-- A version from the start, so that the copy already there is cached too.
INSERT INTO copy_version (name, version) VALUES ('feature_copy', gen_random_uuid())
ON CONFLICT (name) DO NOTHING;
