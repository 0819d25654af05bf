-- +goose Up
-- The catalogue the shop pushes (PUT /v1/products/{product_id}): what a returned line
-- can be exchanged for. Stock is the shop's: available is what it last said; units of
-- open exchanges (awaiting_payment, reserved) are held on top of it.
CREATE TABLE products (
    merchant_id  bigint NOT NULL REFERENCES merchants(id),
    product_id   text NOT NULL,
    name         text NOT NULL,
    revision     int NOT NULL DEFAULT 1,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (merchant_id, product_id)
);

CREATE TABLE product_variants (
    merchant_id  bigint NOT NULL REFERENCES merchants(id),
    sku          text NOT NULL,
    product_id   text NOT NULL,
    position     int NOT NULL,
    name         text NOT NULL,
    -- [{"name": "Size", "value": "M"}, …] in the shop's order
    options      jsonb NOT NULL DEFAULT '[]',
    -- {"EUR": 2500, "GBP": 2200}: minor units per currency
    prices       jsonb NOT NULL DEFAULT '{}',
    available    int NOT NULL CHECK (available >= 0),
    -- units held for open exchanges; a PUT of the product keeps it
    reserved     int NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    image_url    text NOT NULL DEFAULT '',
    PRIMARY KEY (merchant_id, sku),
    FOREIGN KEY (merchant_id, product_id) REFERENCES products (merchant_id, product_id) ON DELETE CASCADE
);
CREATE INDEX product_variants_product ON product_variants (merchant_id, product_id, position);

-- An exchange: the replacements a return's lines are exchanged for, and what happens
-- to them (awaiting_payment → reserved → released → shipped, or cancelled).
CREATE TABLE exchanges (
    id                   bigserial PRIMARY KEY,
    merchant_id          bigint NOT NULL REFERENCES merchants(id),
    return_id            bigint NOT NULL REFERENCES returns(id) UNIQUE,
    status               text NOT NULL CHECK (status IN ('awaiting_payment', 'reserved', 'released', 'shipped', 'cancelled')),
    -- the policy's exchange_release when the exchange was made: on_receipt, instant, on_carrier_scan
    release_on           text NOT NULL,
    currency             text NOT NULL,
    -- what the exchanged items are worth (their quote subtotals), the replacements'
    -- price, the part of the difference the shop absorbs (upsell allowance) and what
    -- the shopper pays through Stripe Checkout
    returned_value       bigint NOT NULL CHECK (returned_value >= 0),
    replacement_value    bigint NOT NULL CHECK (replacement_value >= 0),
    absorbed             bigint NOT NULL DEFAULT 0 CHECK (absorbed >= 0),
    amount_due           bigint NOT NULL DEFAULT 0 CHECK (amount_due >= 0),
    paid                 bigint NOT NULL DEFAULT 0 CHECK (paid >= 0),
    -- the Checkout Session of the current payment attempt (one more per expired session)
    checkout_attempt     int NOT NULL DEFAULT 0,
    checkout_session_id  text,
    checkout_url         text,
    checkout_expires_at  timestamptz,
    payment_intent_id    text,
    shipping_address     jsonb NOT NULL,
    customer_name        text NOT NULL DEFAULT '',
    reference            text NOT NULL,
    carrier              text,
    tracking_number      text,
    released_at          timestamptz,
    shipped_at           timestamptz,
    cancelled_at         timestamptz,
    unreturned_at        timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX exchanges_merchant ON exchanges (merchant_id, id DESC);
CREATE UNIQUE INDEX exchanges_checkout ON exchanges (checkout_session_id) WHERE checkout_session_id IS NOT NULL;

CREATE TABLE exchange_lines (
    id              bigserial PRIMARY KEY,
    merchant_id     bigint NOT NULL REFERENCES merchants(id),
    exchange_id     bigint NOT NULL REFERENCES exchanges(id),
    line_id         text NOT NULL,
    quantity        int NOT NULL CHECK (quantity > 0),
    sku             text NOT NULL,
    product_id      text NOT NULL,
    name            text NOT NULL,
    options         jsonb NOT NULL DEFAULT '[]',
    unit_price      bigint NOT NULL CHECK (unit_price >= 0),
    returned_value  bigint NOT NULL,
    image_url       text NOT NULL DEFAULT '',
    UNIQUE (exchange_id, line_id)
);

-- Store credit that can be spent: every issue of credit is one credit with its own
-- code (only its SHA-256 is kept; the code itself until the shopper has seen it once),
-- balance and expiry. The balance never goes below zero.
CREATE TABLE store_credits (
    id           bigserial PRIMARY KEY,
    merchant_id  bigint NOT NULL REFERENCES merchants(id),
    email        text NOT NULL,
    currency     text NOT NULL,
    code_hash    bytea NOT NULL,
    code_hint    text NOT NULL,
    code_reveal  text,
    amount       bigint NOT NULL CHECK (amount >= 0),
    balance      bigint NOT NULL CHECK (balance >= 0),
    return_id    bigint REFERENCES returns(id),
    expires_at   timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (merchant_id, code_hash)
);
CREATE INDEX store_credits_owner ON store_credits (merchant_id, email, currency, id);

CREATE TABLE store_credit_redemptions (
    id               bigserial PRIMARY KEY,
    merchant_id      bigint NOT NULL REFERENCES merchants(id),
    email            text NOT NULL,
    currency         text NOT NULL,
    amount           bigint NOT NULL CHECK (amount > 0),
    order_reference  text NOT NULL,
    -- what was left to spend right after it (of the code, or of the email in the currency)
    balance_after    bigint NOT NULL,
    idempotency_key  text NOT NULL,
    created_by       text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    reversed_at      timestamptz,
    reversed_by      text,
    UNIQUE (merchant_id, idempotency_key)
);
CREATE INDEX store_credit_redemptions_merchant ON store_credit_redemptions (merchant_id, id DESC);

ALTER TABLE store_credit_entries ADD COLUMN credit_id bigint REFERENCES store_credits(id);
ALTER TABLE store_credit_entries ADD COLUMN redemption_id bigint REFERENCES store_credit_redemptions(id);
ALTER TABLE store_credit_entries DROP CONSTRAINT store_credit_entries_kind_check;
ALTER TABLE store_credit_entries ADD CONSTRAINT store_credit_entries_kind_check
    CHECK (kind IN ('issued', 'bonus', 'redeemed', 'adjusted', 'reversed'));
CREATE INDEX store_credit_entries_credit ON store_credit_entries (credit_id, id) WHERE credit_id IS NOT NULL;

-- The ledger learns exchanges: exchange_in is the value of the returned items kept as
-- an exchange instead of refunded, exchange_out the value of the replacements sent
-- (goods, not money: net 0); exchange_payment is a price difference the shopper paid
-- (+amount); store_credit_reversed is a redemption given back (−amount).
ALTER TABLE ledger_entries ADD COLUMN exchange_id bigint;
ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_kind_check;
ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_kind_check
    CHECK (kind IN ('refund_queued', 'refund_sent', 'refund_succeeded', 'refund_failed', 'refund_canceled',
        'store_credit_issued', 'store_credit_bonus', 'store_credit_redeemed', 'store_credit_adjusted',
        'store_credit_reversed', 'fee_retained', 'exchange_in', 'exchange_out', 'exchange_payment',
        'label_purchased', 'label_voided'));

-- +goose StatementBegin
CREATE FUNCTION ledger_exchanges() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_rma   text;
    v_order text;
BEGIN
    SELECT r.rma, o.number INTO v_rma, v_order FROM returns r JOIN orders o ON o.id = r.order_id WHERE r.id = NEW.return_id;
    IF NEW.paid > 0 AND (TG_OP = 'INSERT' OR OLD.paid = 0) THEN
        INSERT INTO ledger_entries (merchant_id, kind, currency, amount, net, exchange_id, return_id, rma, order_number,
            payment_intent_id, note)
        VALUES (NEW.merchant_id, 'exchange_payment', NEW.currency, NEW.paid, NEW.paid, NEW.id, NEW.return_id, v_rma, v_order,
            NEW.payment_intent_id, 'price difference paid through Stripe Checkout');
    END IF;
    IF NEW.released_at IS NOT NULL AND (TG_OP = 'INSERT' OR OLD.released_at IS NULL) THEN
        INSERT INTO ledger_entries (merchant_id, kind, currency, amount, net, exchange_id, return_id, rma, order_number, note)
        VALUES (NEW.merchant_id, 'exchange_in', NEW.currency, NEW.returned_value, 0, NEW.id, NEW.return_id, v_rma, v_order,
                'returned items kept as an exchange'),
               (NEW.merchant_id, 'exchange_out', NEW.currency, NEW.replacement_value, 0, NEW.id, NEW.return_id, v_rma, v_order,
                'replacements released to the shopper');
    END IF;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER exchanges_ledger AFTER INSERT OR UPDATE ON exchanges
    FOR EACH ROW EXECUTE FUNCTION ledger_exchanges();

-- +goose Down
DROP TRIGGER exchanges_ledger ON exchanges;
DROP FUNCTION ledger_exchanges();
ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_kind_check;
ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_kind_check
    CHECK (kind IN ('refund_queued', 'refund_sent', 'refund_succeeded', 'refund_failed', 'refund_canceled',
        'store_credit_issued', 'store_credit_bonus', 'store_credit_redeemed', 'store_credit_adjusted', 'fee_retained',
        'label_purchased', 'label_voided'));
ALTER TABLE ledger_entries DROP COLUMN exchange_id;
DROP INDEX store_credit_entries_credit;
ALTER TABLE store_credit_entries DROP CONSTRAINT store_credit_entries_kind_check;
ALTER TABLE store_credit_entries ADD CONSTRAINT store_credit_entries_kind_check
    CHECK (kind IN ('issued', 'bonus', 'redeemed', 'adjusted'));
ALTER TABLE store_credit_entries DROP COLUMN redemption_id;
ALTER TABLE store_credit_entries DROP COLUMN credit_id;
DROP TABLE store_credit_redemptions;
DROP TABLE store_credits;
DROP TABLE exchange_lines;
DROP TABLE exchanges;
DROP TABLE product_variants;
DROP TABLE products;
