-- Validation sessions: one per (client_secret, medium, address, flow) until validated.
-- Times are integer milliseconds since the epoch. Secrets are stored as hashes only.
CREATE TABLE IF NOT EXISTS threepid_sessions (
  sid TEXT PRIMARY KEY,
  client_secret_hash TEXT NOT NULL,
  medium TEXT NOT NULL,
  address TEXT NOT NULL,
  flow TEXT NOT NULL,
  next_link TEXT,
  send_attempt BIGINT NOT NULL,
  token_hash TEXT NOT NULL,
  failed_attempts INTEGER NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  validated_at BIGINT,
  consumed_at BIGINT
);

CREATE INDEX IF NOT EXISTS threepid_sessions_by_secret
  ON threepid_sessions (client_secret_hash, medium, address, flow);

CREATE INDEX IF NOT EXISTS threepid_sessions_by_expiry
  ON threepid_sessions (expires_at);
