-- Lookups on the hot path that the primary keys do not serve.
CREATE INDEX quotation_journal_number ON quotation_journal (number, position);
CREATE INDEX processor_message_depends_on ON processor_message (depends_on) WHERE depends_on IS NOT NULL;
