-- A session an identity server runs for a request the flow checks refused
-- (errors inhibited). It is recorded like an allowed request's, under the
-- identity server's sid and the client's secret, so that proving it answers
-- as an allowed one does until the identity server says it was validated;
-- only then is it refused. 0 for every session from before.
ALTER TABLE threepid_sessions ADD COLUMN refused INTEGER NOT NULL DEFAULT 0;
