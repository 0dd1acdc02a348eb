-- A row the broker refuses for good (larger than the topic's max.message.bytes, say) must not
-- block the relay. Each refusal counts an attempt and keeps its error; after a bounded number
-- the row is parked: the relay passes it by, and the rows of its topic and key wait behind it
-- (per-key order). `python -m q2c_localstack outbox SERVICE parked|retry` lists and retries them.
ALTER TABLE outbox
    ADD COLUMN attempts   integer     NOT NULL DEFAULT 0,
    ADD COLUMN last_error text,
    ADD COLUMN parked_at  timestamptz;

CREATE INDEX outbox_parked ON outbox (topic, key) WHERE parked_at IS NOT NULL;
