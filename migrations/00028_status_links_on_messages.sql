-- +goose Up
-- A status link is kept on the row of the email that carries it, instead of a row of
-- return_links of its own: every email wrote one (a row, two index entries and two
-- foreign-key checks, four a return's lifecycle) although the message's row, written
-- when the email is sent, already says to whom and about which return. The link's
-- token now names its message (email.OpenLink); only a SHA-256 hash of it is kept, as
-- before. Links sent before this migration stay in return_links and keep working;
-- revoking a return's links revokes both kinds.
ALTER TABLE email_messages
    ADD COLUMN link_hash bytea CHECK (octet_length(link_hash) = 32),
    ADD COLUMN link_revoked_at timestamptz;

-- +goose Down
-- the hash is of the whole token, as return_links keeps it: the links go on working
INSERT INTO return_links (token_hash, merchant_id, return_id, email, created_at, revoked_at)
    SELECT link_hash, merchant_id, return_id, to_address, coalesce(sent_at, updated_at), link_revoked_at
    FROM email_messages WHERE link_hash IS NOT NULL
    ON CONFLICT (token_hash) DO NOTHING;
ALTER TABLE email_messages DROP COLUMN link_hash, DROP COLUMN link_revoked_at;
