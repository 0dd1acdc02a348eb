-- The W3C trace context of the work that wrote the row (docs/observability.md): the relay
-- publishes it as the record's `traceparent` and `tracestate` headers, so the consumers
-- continue the trace. NULL: the row was written outside any trace. Nullable columns without a
-- default: adding them rewrites nothing.
ALTER TABLE outbox
    ADD COLUMN traceparent text,
    ADD COLUMN tracestate  text;
