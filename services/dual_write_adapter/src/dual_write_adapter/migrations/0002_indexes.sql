-- Lookups on the hot path that the primary keys do not serve.
CREATE INDEX forwarded_command_sales_message ON forwarded_command (sales_message_id);
-- live_line_keys: the lines of a quote, by alt_key prefix ("<number>/"), whatever the collation
CREATE INDEX sales_row_line_prefix ON sales_row (alt_key text_pattern_ops) WHERE sales_table = 'quotedetail';
CREATE INDEX held_line_quote ON held_line (quote_number, seq);
CREATE INDEX queued_change_map ON queued_change (map, seq);
CREATE INDEX error_log_open ON error_log (id) WHERE state = 'open';
