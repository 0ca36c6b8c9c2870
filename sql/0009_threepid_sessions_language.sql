-- The language a session's message was written in (a tag such as "de", from
-- the requestToken's Accept-Language), so the page its link opens speaks the
-- same one. NULL for sessions from before, and for those an identity server runs.
ALTER TABLE threepid_sessions ADD COLUMN language TEXT;
