-- +goose Up
CREATE TABLE merchants (
    id          bigserial PRIMARY KEY,
    slug        text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
    name        text NOT NULL CHECK (name <> ''),
    -- branding and the returns warehouse address, as JSON the merchant package owns
    settings    jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
    id           bigserial PRIMARY KEY,
    merchant_id  bigint NOT NULL REFERENCES merchants(id),
    role         text NOT NULL CHECK (role IN ('admin', 'integration', 'warehouse', 'finance')),
    name         text NOT NULL DEFAULT '',
    -- the first characters of the key, shown in listings so people can tell keys apart
    prefix       text NOT NULL,
    -- SHA-256 of the whole key: keys are 190-bit random secrets, so a fast hash is enough
    hash         bytea NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX api_keys_merchant ON api_keys (merchant_id, id);

CREATE TABLE idempotency_keys (
    merchant_id   bigint NOT NULL REFERENCES merchants(id),
    key           text NOT NULL,
    -- SHA-256 of method, path and body: the same key with another request answers 422
    request_hash  bytea NOT NULL,
    status        int NOT NULL,
    headers       jsonb NOT NULL DEFAULT '{}',
    body          bytea NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (merchant_id, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

CREATE TABLE outbox (
    id           bigserial PRIMARY KEY,
    merchant_id  bigint REFERENCES merchants(id),
    kind         text NOT NULL,
    payload      jsonb NOT NULL DEFAULT '{}',
    state        text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'dead')),
    run_at       timestamptz NOT NULL DEFAULT now(),
    attempts     int NOT NULL DEFAULT 0,
    max_attempts int NOT NULL DEFAULT 12 CHECK (max_attempts > 0),
    last_error   text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    done_at      timestamptz
);
-- the claim query walks only pending rows in run_at order
CREATE INDEX outbox_pending ON outbox (run_at, id) WHERE state = 'pending';

-- +goose Down
DROP TABLE outbox;
DROP TABLE idempotency_keys;
DROP TABLE api_keys;
DROP TABLE merchants;
