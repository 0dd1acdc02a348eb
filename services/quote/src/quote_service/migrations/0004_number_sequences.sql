-- Numbers from PostgreSQL sequences instead of number_sequence rows (docs/domain.md §4,
-- docs/decisions.md "Numbers from PostgreSQL sequences, with gaps"): nextval holds no row lock
-- until commit, so numbering chunks no longer queue behind each other nor deadlock.
-- The lock first: a transaction of an older replica still taking a number from a row commits
-- before the values are read, so each sequence starts where its row stopped and no number is
-- given twice.
LOCK TABLE number_sequence IN ACCESS EXCLUSIVE MODE;

-- CACHE 1 (the default, said out loud): with a per-session cache, replicas would hand out
-- numbers out of the order they were taken.
CREATE SEQUENCE quotation_number_seq            AS bigint MINVALUE 1 CACHE 1;
CREATE SEQUENCE quotation_journal_number_seq    AS bigint MINVALUE 1 CACHE 1;
CREATE SEQUENCE confirmation_journal_number_seq AS bigint MINVALUE 1 CACHE 1;

-- is_called = false: the next nextval returns next_value itself, the row's next number.
SELECT setval('quotation_number_seq', next_value, false) FROM number_sequence WHERE name = 'quotation';
SELECT setval('quotation_journal_number_seq', next_value, false) FROM number_sequence WHERE name = 'quotation-journal';
SELECT setval('confirmation_journal_number_seq', next_value, false)
  FROM number_sequence WHERE name = 'confirmation-journal';

DROP TABLE number_sequence;
