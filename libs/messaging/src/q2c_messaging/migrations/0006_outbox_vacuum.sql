-- The outbox is a queue: every row is deleted within milliseconds of its insert, so its dead
-- rows, not its live ones, decide what the relay's read costs. The relay reads in `id` order
-- from the start of the primary key, and each dead row still in the index is a heap visit:
-- measured under load with the defaults (a vacuum once 20 % of the table is dead, checked
-- once a minute), 14,800 dead rows behind 0 live ones made the adapter's relay read take 13 ms
-- instead of 0.4 (docs/performance.md "Fifth session").
-- So: vacuum after 1,000 dead rows whatever the table's size, at full speed (no cost delay:
-- the table is small, the work is short). How often the server looks is the cluster's
-- `autovacuum_naptime` (2 s in the local stack; docs/messaging.md says what to set elsewhere).
ALTER TABLE outbox SET (
    autovacuum_vacuum_scale_factor = 0,
    autovacuum_vacuum_threshold = 1000,
    autovacuum_vacuum_cost_delay = 0
);
