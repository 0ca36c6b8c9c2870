-- The operator's view counts the messages given up on in the last hour:
-- found by status and finish time, without reading every failed row kept
-- until the purge.
CREATE INDEX IF NOT EXISTS threepid_outbox_finished ON threepid_outbox (status, finished_at);
