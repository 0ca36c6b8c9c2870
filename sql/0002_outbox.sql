-- Transactional outbox: a message is written in the same transaction as the
-- session it belongs to, and a worker delivers it. The payload holds the token,
-- so it is cleared once the message is sent or given up on.
CREATE TABLE IF NOT EXISTS outbox (
  id TEXT PRIMARY KEY,
  channel TEXT NOT NULL,
  payload TEXT,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL,
  next_attempt_at BIGINT NOT NULL,
  locked_until BIGINT NOT NULL DEFAULT 0,
  last_error TEXT,
  finished_at BIGINT
);

CREATE INDEX IF NOT EXISTS outbox_due ON outbox (status, next_attempt_at);
