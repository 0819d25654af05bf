-- +goose Up
-- staff who sign in to the web pages (scan station, finance) with a user name and
-- password; the roles are the API keys' roles that make sense for a person
CREATE TABLE staff_users (
    id             bigserial PRIMARY KEY,
    merchant_id    bigint NOT NULL REFERENCES merchants(id),
    -- lower case; unique within the merchant, so two shops may both have an "ana"
    username       text NOT NULL CHECK (username ~ '^[a-z0-9][a-z0-9._@-]{0,62}$'),
    -- bcrypt
    password_hash  text NOT NULL,
    role           text NOT NULL CHECK (role IN ('admin', 'warehouse', 'finance')),
    created_at     timestamptz NOT NULL DEFAULT now(),
    disabled_at    timestamptz,
    UNIQUE (merchant_id, username)
);

-- signed-in browser sessions of staff; the cookie holds the token, the table its
-- SHA-256, so a copy of the table signs nobody in
CREATE TABLE web_sessions (
    token_hash   bytea PRIMARY KEY,
    merchant_id  bigint NOT NULL REFERENCES merchants(id),
    user_id      bigint NOT NULL REFERENCES staff_users(id) ON DELETE CASCADE,
    -- every form of the session carries it; a POST without it is refused
    csrf_token   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL
);
CREATE INDEX web_sessions_user ON web_sessions (user_id);
CREATE INDEX web_sessions_expiry ON web_sessions (expires_at);

-- +goose Down
DROP TABLE web_sessions;
DROP TABLE staff_users;
