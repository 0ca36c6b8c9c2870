-- Every table of the module carries its prefix, so that it lives beside a
-- host's own tables in one database (a homeserver passing its own Kysely).
-- SQLite keeps an index's name through a rename: the two outbox indexes are
-- made again under prefixed names.
ALTER TABLE outbox RENAME TO threepid_outbox;
ALTER TABLE rate_limits RENAME TO threepid_rate_limits;
DROP INDEX IF EXISTS outbox_due;
CREATE INDEX IF NOT EXISTS threepid_outbox_due ON threepid_outbox (status, next_attempt_at);
DROP INDEX IF EXISTS outbox_by_channel_created;
CREATE INDEX IF NOT EXISTS threepid_outbox_by_channel_created ON threepid_outbox (channel, created_at);
