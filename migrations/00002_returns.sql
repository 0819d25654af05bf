-- +goose Up
CREATE TABLE orders (
    id           bigserial PRIMARY KEY,
    merchant_id  bigint NOT NULL REFERENCES merchants(id),
    number       text NOT NULL,
    -- trimmed, lower-case: the portal finds orders by number and email
    email        text NOT NULL,
    currency     text NOT NULL,
    -- the order exactly as the shop sent it last; returns keep their own snapshot
    data         jsonb NOT NULL,
    revision     int NOT NULL DEFAULT 1,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (merchant_id, number)
);
-- the portal matches order numbers case-insensitively
CREATE INDEX orders_number_ci ON orders (merchant_id, lower(number));

CREATE TABLE policies (
    merchant_id  bigint NOT NULL REFERENCES merchants(id),
    version      int NOT NULL CHECK (version > 0),
    data         jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    created_by   text NOT NULL DEFAULT '',
    PRIMARY KEY (merchant_id, version)
);

CREATE TABLE returns (
    id               bigserial PRIMARY KEY,
    merchant_id      bigint NOT NULL REFERENCES merchants(id),
    order_id         bigint NOT NULL REFERENCES orders(id),
    rma              text NOT NULL,
    state            text NOT NULL,
    resolution       text NOT NULL,
    policy_version   int NOT NULL,
    currency         text NOT NULL,
    -- the quote the shopper saw, and the order lines it was made from
    quote            jsonb NOT NULL,
    total            bigint NOT NULL,
    keep_it          boolean NOT NULL DEFAULT false,
    customer_email   text NOT NULL,
    -- the Idempotency-Key the return was created with: a retry after a crash finds it
    idempotency_key  text,
    reject_reason    text,
    created_by       text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (merchant_id, rma),
    UNIQUE (merchant_id, idempotency_key)
);
CREATE INDEX returns_merchant_created ON returns (merchant_id, id DESC);
CREATE INDEX returns_order ON returns (merchant_id, order_id);
CREATE INDEX returns_state ON returns (merchant_id, state, id DESC);

CREATE TABLE return_items (
    id                 bigserial PRIMARY KEY,
    merchant_id        bigint NOT NULL REFERENCES merchants(id),
    return_id          bigint NOT NULL REFERENCES returns(id),
    line_id            text NOT NULL,
    sku                text NOT NULL,
    name               text NOT NULL,
    quantity           int NOT NULL CHECK (quantity > 0),
    -- the order's units this item took, e.g. units 2..3 of a line of 4
    first_unit         int NOT NULL,
    received           int NOT NULL DEFAULT 0,
    accepted           int NOT NULL DEFAULT 0,
    rejected           int NOT NULL DEFAULT 0,
    reason             text NOT NULL,
    comment            text NOT NULL DEFAULT '',
    condition          text,
    disposition        text,
    amount             bigint NOT NULL,
    UNIQUE (return_id, line_id)
);

CREATE TABLE return_events (
    id          bigserial PRIMARY KEY,
    merchant_id bigint NOT NULL REFERENCES merchants(id),
    return_id   bigint NOT NULL REFERENCES returns(id),
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text NOT NULL,
    event       text NOT NULL,
    from_state  text,
    to_state    text NOT NULL,
    note        text NOT NULL DEFAULT '',
    data        jsonb
);
CREATE INDEX return_events_return ON return_events (return_id, id);

CREATE TABLE shopper_sessions (
    token_hash   bytea PRIMARY KEY,
    merchant_id  bigint NOT NULL REFERENCES merchants(id),
    order_id     bigint NOT NULL REFERENCES orders(id),
    expires_at   timestamptz NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX shopper_sessions_expiry ON shopper_sessions (expires_at);

-- fixed-window counters shared by every replica
CREATE TABLE rate_limits (
    bucket        text NOT NULL,
    window_start  timestamptz NOT NULL,
    hits          int NOT NULL,
    PRIMARY KEY (bucket, window_start)
);

-- +goose Down
DROP TABLE rate_limits;
DROP TABLE shopper_sessions;
DROP TABLE return_events;
DROP TABLE return_items;
DROP TABLE returns;
DROP TABLE policies;
DROP TABLE orders;
