-- Sessions run by an identity server (proxy mode) remember which one, so the
-- homeserver can ask it whether the session was validated. NULL: our own.
ALTER TABLE threepid_sessions ADD COLUMN id_server TEXT;
