-- Sales order numbers from a PostgreSQL sequence instead of a number_sequence row
-- (docs/domain.md §4, docs/decisions.md "Numbers from PostgreSQL sequences, with gaps"): nextval
-- holds no row lock until commit, so numbering chunks no longer queue behind each other.
-- The lock first: a transaction of an older replica still taking a number from the row commits
-- before the value is read, so the sequence starts where the row stopped.
LOCK TABLE number_sequence IN ACCESS EXCLUSIVE MODE;

-- CACHE 1: with a per-session cache, replicas would hand out numbers out of order.
CREATE SEQUENCE sales_order_number_seq AS bigint MINVALUE 1 CACHE 1;
-- is_called = false: the next nextval returns next_value itself, the row's next number.
SELECT setval('sales_order_number_seq', next_value, false) FROM number_sequence WHERE name = 'sales-order';

DROP TABLE number_sequence;
