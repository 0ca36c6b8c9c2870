-- The module's own 3PID directory: which user owns which validated address.
-- A host homeserver may supply its own directory instead.
CREATE TABLE IF NOT EXISTS threepid_bindings (
  medium TEXT NOT NULL,
  address TEXT NOT NULL,
  user_id TEXT NOT NULL,
  validated_at BIGINT NOT NULL,
  added_at BIGINT NOT NULL,
  PRIMARY KEY (medium, address)
);

CREATE INDEX IF NOT EXISTS threepid_bindings_by_user ON threepid_bindings (user_id);
