-- Each claim of an outbox message carries a token of its own: an outcome
-- (sent, retried, failed) is written only by the claim that still holds the
-- message, so a replica whose lease ran out cannot undo another's claim.
-- locked_until is from now on in the database's clock, not a process's.
ALTER TABLE threepid_outbox ADD COLUMN claim_token TEXT;
