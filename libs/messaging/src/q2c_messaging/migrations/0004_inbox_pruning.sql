-- Inbox pruning (docs/messaging.md "Inbox pruning"): a row may go once its record has left its
-- topic's log, which depends on the topic (retention, compaction). The claim records the topic;
-- rows from before this migration keep NULL (the pruning treats them as of any of the
-- service's topics). A nullable column without a default: adding it rewrites nothing.
ALTER TABLE inbox ADD COLUMN topic text;

-- A pruning pass deletes the oldest rows of one topic in small batches: found through this
-- index instead of a scan of the whole table.
CREATE INDEX inbox_topic_received_at ON inbox (topic, received_at);
