-- +goose Up
-- Emails to the shopper (package notify/email) and the shopper's feedback on a return
-- (package returns).

-- one row per message a return's change asked for; (return, kind, ref) is unique, so
-- one change never sends its message twice
CREATE TABLE email_messages (
    merchant_id  bigint NOT NULL REFERENCES merchants(id),
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    return_id    bigint NOT NULL REFERENCES returns(id),
    kind         text NOT NULL,
    -- what the message is about besides the return (a refund's ID), or ''
    ref          text NOT NULL DEFAULT '',
    -- what the message needs of its event (a refund's amount)
    data         jsonb NOT NULL DEFAULT '{}',
    -- queued: waiting to be sent; sent: the SMTP server accepted it; failed: the last
    -- attempt failed and another follows; parked: no more attempts; skipped: the
    -- shopper unsubscribed and the message is not about money
    status       text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'sent', 'failed', 'parked', 'skipped')),
    to_address   text NOT NULL DEFAULT '',
    subject      text NOT NULL DEFAULT '',
    attempts     int NOT NULL DEFAULT 0,
    last_error   text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    sent_at      timestamptz,
    UNIQUE (merchant_id, return_id, kind, ref)
);
CREATE INDEX email_messages_return ON email_messages (merchant_id, return_id, id);

-- links in emails that open one return's status page without signing in; only a
-- SHA-256 hash of each is kept
CREATE TABLE return_links (
    token_hash  bytea PRIMARY KEY,
    merchant_id bigint NOT NULL REFERENCES merchants(id),
    return_id   bigint NOT NULL REFERENCES returns(id),
    email       text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);
CREATE INDEX return_links_return ON return_links (merchant_id, return_id);

-- shoppers who asked for no more emails except the ones about their money
CREATE TABLE email_optouts (
    merchant_id bigint NOT NULL REFERENCES merchants(id),
    email       text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (merchant_id, email)
);

-- the shopper's answer after a completed return; a second answer replaces the first
CREATE TABLE return_feedback (
    merchant_id bigint NOT NULL REFERENCES merchants(id),
    return_id   bigint NOT NULL REFERENCES returns(id),
    ease        smallint NOT NULL CHECK (ease BETWEEN 1 AND 5),
    comment     text NOT NULL DEFAULT '' CHECK (length(comment) <= 2000),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (merchant_id, return_id)
);

-- +goose Down
DROP TABLE return_feedback;
DROP TABLE email_optouts;
DROP TABLE return_links;
DROP TABLE email_messages;
