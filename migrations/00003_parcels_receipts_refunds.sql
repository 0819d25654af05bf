-- +goose Up
ALTER TABLE merchants ADD COLUMN carrier_secret text;
-- when a parcel of the return was first scanned by RMA at the warehouse
ALTER TABLE returns ADD COLUMN arrived_at timestamptz;

-- every S10 tracking number takes the next serial; 8 digits, so it wraps at 10^8
CREATE SEQUENCE tracking_serial MINVALUE 1 MAXVALUE 99999999 CYCLE;

CREATE TABLE parcels (
    id               bigserial PRIMARY KEY,
    merchant_id      bigint NOT NULL REFERENCES merchants(id),
    return_id        bigint NOT NULL REFERENCES returns(id),
    number           int NOT NULL CHECK (number > 0),
    carrier          text NOT NULL,
    service          text NOT NULL,
    tracking_number  text NOT NULL,
    status           text NOT NULL DEFAULT 'issued' CHECK (status IN ('issued', 'voided')),
    issued_at        timestamptz NOT NULL DEFAULT now(),
    valid_until      timestamptz NOT NULL,
    moved_at         timestamptz,
    carrier_status   text,
    arrived_at       timestamptz,
    voided_at        timestamptz,
    UNIQUE (return_id, number),
    UNIQUE (merchant_id, tracking_number)
);

CREATE TABLE receipts (
    id           bigserial PRIMARY KEY,
    merchant_id  bigint NOT NULL REFERENCES merchants(id),
    return_id    bigint NOT NULL REFERENCES returns(id),
    parcel_id    bigint REFERENCES parcels(id),
    actor        text NOT NULL,
    -- what was recorded: items with quantity, condition, disposition and note; unexpected items
    data         jsonb NOT NULL,
    -- the Idempotency-Key it was posted with: a retry after a crash finds it
    idempotency_key text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (return_id, idempotency_key)
);
CREATE INDEX receipts_return ON receipts (return_id, id);

CREATE TABLE refunds (
    id                   bigserial PRIMARY KEY,
    merchant_id          bigint NOT NULL REFERENCES merchants(id),
    return_id            bigint NOT NULL REFERENCES returns(id),
    receipt_id           bigint REFERENCES receipts(id),
    amount               bigint NOT NULL CHECK (amount > 0),
    currency             text NOT NULL,
    status               text NOT NULL DEFAULT 'queued'
                         CHECK (status IN ('queued', 'pending', 'requires_action', 'succeeded', 'failed', 'canceled')),
    payment_intent_id    text,
    charge_id            text,
    stripe_refund_id     text,
    balance_transaction  text,
    failure_reason       text,
    -- finance retries bump it; it is part of the Stripe idempotency key (see refunds.Key)
    generation           int NOT NULL DEFAULT 0,
    explanation          text NOT NULL DEFAULT '',
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    sent_at              timestamptz,
    settled_at           timestamptz
);
CREATE INDEX refunds_merchant ON refunds (merchant_id, id DESC);
CREATE INDEX refunds_return ON refunds (return_id);
CREATE UNIQUE INDEX refunds_stripe ON refunds (stripe_refund_id) WHERE stripe_refund_id IS NOT NULL;

-- each Stripe event is processed once
CREATE TABLE stripe_events (
    id           text PRIMARY KEY,
    type         text NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now()
);

-- append-only: a balance is the sum of its entries
CREATE TABLE store_credit_entries (
    id           bigserial PRIMARY KEY,
    merchant_id  bigint NOT NULL REFERENCES merchants(id),
    email        text NOT NULL,
    currency     text NOT NULL,
    amount       bigint NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('issued', 'bonus', 'redeemed', 'adjusted')),
    return_id    bigint REFERENCES returns(id),
    note         text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX store_credit_owner ON store_credit_entries (merchant_id, email, currency, id);

-- +goose Down
DROP TABLE store_credit_entries;
DROP TABLE stripe_events;
DROP TABLE refunds;
DROP TABLE receipts;
DROP TABLE parcels;
DROP SEQUENCE tracking_serial;
ALTER TABLE returns DROP COLUMN arrived_at;
ALTER TABLE merchants DROP COLUMN carrier_secret;
