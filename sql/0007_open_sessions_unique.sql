-- One open session per (client_secret, medium, address, flow): two identical
-- first requests racing on two connections could each insert one, and send
-- two emails. Older duplicates left by that race are removed first, keeping
-- the newest; the unique index replaces the plain one on the same columns.
DELETE FROM threepid_sessions
WHERE validated_at IS NULL
  AND id_server IS NULL
  AND EXISTS (
    SELECT 1 FROM threepid_sessions AS newer
    WHERE newer.client_secret_hash = threepid_sessions.client_secret_hash
      AND newer.medium = threepid_sessions.medium
      AND newer.address = threepid_sessions.address
      AND newer.flow = threepid_sessions.flow
      AND newer.validated_at IS NULL
      AND newer.id_server IS NULL
      AND (newer.created_at > threepid_sessions.created_at
        OR (newer.created_at = threepid_sessions.created_at AND newer.sid > threepid_sessions.sid))
  );

DROP INDEX IF EXISTS threepid_sessions_by_secret;

CREATE UNIQUE INDEX IF NOT EXISTS threepid_sessions_open_by_secret
  ON threepid_sessions (client_secret_hash, medium, address, flow)
  WHERE validated_at IS NULL AND id_server IS NULL;
