-- The SMS daily cap counts messages per channel over the last 24 hours.
CREATE INDEX IF NOT EXISTS outbox_by_channel_created ON outbox (channel, created_at);
