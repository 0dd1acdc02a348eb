-- Issue 7: the engine is generic over table maps (docs/dual-write-adapter.md).

-- The last SCM document per events topic and key (for restores and initial sync).
CREATE TABLE scm_document (
    topic    text    NOT NULL,
    number   text    NOT NULL,
    version  integer,
    document jsonb   NOT NULL,
    deleted  boolean NOT NULL DEFAULT false,
    PRIMARY KEY (topic, number)
);
-- Per map and document, the last version it applied (and, for maps of rows, the document
-- it applied, to see which rows SCM deleted).
CREATE TABLE map_applied (
    map      text    NOT NULL,
    number   text    NOT NULL,
    version  integer NOT NULL,
    document jsonb,
    PRIMARY KEY (map, number)
);
INSERT INTO scm_document (topic, number, version, document, deleted)
    SELECT 'scm.quote.events', number, version, snapshot, deleted FROM scm_quote;
INSERT INTO map_applied (map, number, version)
    SELECT 'quotation-header', number, header_version FROM scm_quote WHERE header_version > 0;
INSERT INTO map_applied (map, number, version, document)
    SELECT 'quotation-lines', number, lines_version, lines_snapshot FROM scm_quote WHERE lines_version > 0;
DROP TABLE scm_quote;

-- Child rows (lines) that arrived before their parent document, per map.
CREATE TABLE held_change (
    seq        bigserial   PRIMARY KEY,
    map        text        NOT NULL,
    parent_key text        NOT NULL,
    change     jsonb       NOT NULL,
    held_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX held_change_parent ON held_change (map, parent_key, seq);
INSERT INTO held_change (map, parent_key, change, held_at)
    SELECT 'quotation-lines', quote_number, change, held_at FROM held_line ORDER BY seq;
DROP TABLE held_line;

-- The children of a document, by alt_key prefix ("<number>/"), for every table.
DROP INDEX sales_row_line_prefix;
CREATE INDEX sales_row_prefix ON sales_row (sales_table, alt_key text_pattern_ops);

-- Kinds of change name their map or topic now.
UPDATE queued_change SET kind = CASE kind
    WHEN 'sales-quote' THEN 'sales:quotation-header' WHEN 'sales-line' THEN 'sales:quotation-lines'
    WHEN 'scm-quote' THEN 'scm:scm.quote.events' WHEN 'scm-feature' THEN 'scm:scm.feature.events'
    ELSE kind END;
UPDATE error_log SET kind = CASE kind
    WHEN 'sales-quote' THEN 'sales:quotation-header' WHEN 'sales-line' THEN 'sales:quotation-lines'
    WHEN 'scm-quote' THEN 'scm:scm.quote.events' WHEN 'scm-feature' THEN 'scm:scm.feature.events'
    WHEN 'sales-result' THEN 'result:quote.sales-result' ELSE kind END;
