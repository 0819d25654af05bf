-- +goose Up
-- Keys that every replica shares to sign what it hands out and later checks without
-- the database (shopper tokens). The first process that needs a key makes it.
-- Deleting a key's row and restarting every replica ends everything signed with it.
CREATE TABLE signing_keys (
    name       text PRIMARY KEY,
    key        bytea NOT NULL CHECK (octet_length(key) >= 32),
    created_at timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE signing_keys;
