-- +goose Up
-- Outgoing webhooks to the shop's systems (package notify). Every table is keyed by
-- merchant first, and rows of one merchant only ever point at rows of the same merchant
-- (the foreign keys include merchant_id). IDs are opaque and prefixed (we_, evt_, wd_);
-- seq only orders lists and their cursors.

CREATE TABLE webhook_endpoints (
    merchant_id     bigint NOT NULL REFERENCES merchants(id),
    id              text NOT NULL CHECK (id ~ '^we_[a-z0-9]+$'),
    seq             bigint GENERATED ALWAYS AS IDENTITY,
    url             text NOT NULL CHECK (url <> '' AND length(url) <= 2048),
    description     text NOT NULL DEFAULT '',
    -- event types sent to this endpoint; empty: all of them
    enabled_events  text[] NOT NULL DEFAULT '{}',
    enabled         boolean NOT NULL DEFAULT true,
    -- whsec_ + base64 of the HMAC key; it has to be kept to sign with
    secret          text NOT NULL CHECK (secret LIKE 'whsec\_%'),
    -- after a rotation the old secret also signs until it expires
    previous_secret            text,
    previous_secret_expires_at timestamptz,
    -- why it stopped (set when disabled, automatically or through the API)
    disabled_reason text,
    -- when the current run of failed attempts began; NULL after any success
    failing_since   timestamptz,
    idempotency_key text,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    PRIMARY KEY (merchant_id, id),
    UNIQUE (merchant_id, idempotency_key)
);
CREATE INDEX webhook_endpoints_list ON webhook_endpoints (merchant_id, seq);

CREATE TABLE webhook_events (
    merchant_id  bigint NOT NULL REFERENCES merchants(id),
    id           text NOT NULL CHECK (id ~ '^evt_[a-z0-9]+$'),
    type         text NOT NULL,
    created_at   timestamptz NOT NULL,
    -- the envelope sent to endpoints: {id, type, api_version, created_at, data}
    payload      jsonb NOT NULL,
    PRIMARY KEY (merchant_id, id)
);

-- one per event and endpoint
CREATE TABLE webhook_deliveries (
    merchant_id      bigint NOT NULL,
    id               text NOT NULL CHECK (id ~ '^wd_[a-z0-9]+$'),
    seq              bigint GENERATED ALWAYS AS IDENTITY,
    endpoint_id      text NOT NULL,
    event_id         text NOT NULL,
    -- pending: waiting for its first (or a manually requested) attempt; failed: the last
    -- attempt failed and another is scheduled at next_attempt_at; succeeded: answered
    -- 2xx; parked: no more automatic attempts (retries ran out, or the endpoint is
    -- disabled) until someone retries it
    status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed', 'parked')),
    attempts         int NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz,
    last_attempt_at  timestamptz,
    last_status_code int,
    last_error       text,
    -- bumped by a manual retry: outbox jobs of an older generation do nothing
    generation       int NOT NULL DEFAULT 1,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    PRIMARY KEY (merchant_id, id),
    UNIQUE (merchant_id, endpoint_id, event_id),
    FOREIGN KEY (merchant_id, endpoint_id) REFERENCES webhook_endpoints (merchant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (merchant_id, event_id) REFERENCES webhook_events (merchant_id, id)
);
CREATE INDEX webhook_deliveries_list ON webhook_deliveries (merchant_id, seq);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (merchant_id, endpoint_id, seq);

CREATE TABLE webhook_delivery_attempts (
    merchant_id      bigint NOT NULL,
    id               bigint GENERATED ALWAYS AS IDENTITY,
    delivery_id      text NOT NULL,
    at               timestamptz NOT NULL,
    -- NULL when no answer came (timeout, refused connection, refused address)
    status_code      int,
    latency_ms       int NOT NULL CHECK (latency_ms >= 0),
    response_excerpt text NOT NULL DEFAULT '' CHECK (octet_length(response_excerpt) <= 1024),
    error            text,
    PRIMARY KEY (merchant_id, id),
    FOREIGN KEY (merchant_id, delivery_id) REFERENCES webhook_deliveries (merchant_id, id) ON DELETE CASCADE
);
CREATE INDEX webhook_delivery_attempts_delivery ON webhook_delivery_attempts (merchant_id, delivery_id, id);

-- +goose Down
DROP TABLE webhook_delivery_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE webhook_events;
DROP TABLE webhook_endpoints;
