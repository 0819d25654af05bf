-- +goose Up
-- Carrier settings per merchant: which carrier issues its labels (own S10 labels or
-- labels bought through Shippo), the Shippo API token (a secret: never answered by the
-- API), preferred carriers and service levels, the default parcel, whether own labels
-- stand in when Shippo cannot sell one, and the hash of the secret token that
-- authenticates Shippo's tracking webhooks.
CREATE TABLE carrier_settings (
    merchant_id         bigint PRIMARY KEY REFERENCES merchants(id),
    carrier             text NOT NULL DEFAULT 'own' CHECK (carrier IN ('own', 'shippo')),
    shippo_token        text NOT NULL DEFAULT '',
    preferred_carriers  text[] NOT NULL DEFAULT '{}',
    preferred_services  text[] NOT NULL DEFAULT '{}',
    parcel              jsonb NOT NULL DEFAULT '{}',
    own_fallback        boolean NOT NULL DEFAULT true,
    -- hex SHA-256 of the webhook token in the URL registered at Shippo
    webhook_token_hash  text,
    updated_at          timestamptz NOT NULL DEFAULT now()
);

-- A label bought from a remote carrier is bought after the approval commits: until
-- then the parcel is 'preparing' and has no tracking number.
ALTER TABLE parcels DROP CONSTRAINT parcels_status_check;
ALTER TABLE parcels ADD CONSTRAINT parcels_status_check CHECK (status IN ('preparing', 'issued', 'voided'));
ALTER TABLE parcels ALTER COLUMN tracking_number DROP NOT NULL;
-- the outbox job that buys the label: its attempts and last error say why a label is late
ALTER TABLE parcels ADD COLUMN label_job_id bigint;
-- the carrier's own label (Shippo transaction): its ID, the carrier and service as the
-- carrier names them, the public tracking page, the label file and drop-off QR code
ALTER TABLE parcels ADD COLUMN label_id text;
ALTER TABLE parcels ADD COLUMN carrier_name text;
ALTER TABLE parcels ADD COLUMN tracking_url text;
ALTER TABLE parcels ADD COLUMN label_pdf bytea;
ALTER TABLE parcels ADD COLUMN qr_code bytea;
-- what the label cost the shop, in minor units of label_currency
ALTER TABLE parcels ADD COLUMN label_amount bigint CHECK (label_amount >= 0);
ALTER TABLE parcels ADD COLUMN label_currency text;
-- the void at the carrier: its reference (Shippo refund ID) and status
ALTER TABLE parcels ADD COLUMN void_ref text;
ALTER TABLE parcels ADD COLUMN void_status text;
ALTER TABLE parcels ADD COLUMN voided_at_carrier timestamptz;
-- the last carrier status detail, and a carrier problem (FAILURE, RETURNED) for staff
ALTER TABLE parcels ADD COLUMN carrier_detail text;
ALTER TABLE parcels ADD COLUMN problem text;
-- when the tracking poller last asked the carrier about the parcel
ALTER TABLE parcels ADD COLUMN polled_at timestamptz;
CREATE INDEX parcels_tracking_poll ON parcels (carrier, coalesce(carrier_status_at, issued_at))
    WHERE status = 'issued' AND arrived_at IS NULL AND label_id IS NOT NULL;

-- A receipt that finds less than a refund already paid on the carrier's scan opens a
-- case for staff: nothing is clawed back automatically.
CREATE TABLE return_cases (
    id           bigserial PRIMARY KEY,
    merchant_id  bigint NOT NULL REFERENCES merchants(id),
    return_id    bigint NOT NULL REFERENCES returns(id),
    receipt_id   bigint REFERENCES receipts(id),
    kind         text NOT NULL,
    paid         bigint NOT NULL,
    owed         bigint NOT NULL,
    currency     text NOT NULL,
    note         text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    closed_at    timestamptz,
    UNIQUE (return_id, receipt_id)
);
CREATE INDEX return_cases_open ON return_cases (merchant_id, id DESC) WHERE closed_at IS NULL;

-- The price of each label bought from a carrier is a cost of the return: the ledger
-- records it (label_purchased, net −price) when the purchase is recorded, and the void
-- asked of the carrier for an unused label (label_voided, net 0: the carrier credits
-- the account later, on its own terms).
ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_kind_check;
ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_kind_check CHECK (kind IN ('refund_queued', 'refund_sent',
    'refund_succeeded', 'refund_failed', 'refund_canceled', 'store_credit_issued', 'store_credit_bonus',
    'store_credit_redeemed', 'store_credit_adjusted', 'fee_retained', 'label_purchased', 'label_voided'));
-- +goose StatementBegin
CREATE FUNCTION ledger_parcels() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_rma   text;
    v_order text;
BEGIN
    IF NEW.label_amount IS NULL THEN
        RETURN NULL;
    END IF;
    SELECT r.rma, o.number INTO v_rma, v_order FROM returns r JOIN orders o ON o.id = r.order_id WHERE r.id = NEW.return_id;
    IF OLD.label_amount IS NULL THEN
        INSERT INTO ledger_entries (merchant_id, kind, currency, amount, net, return_id, rma, order_number, note)
        VALUES (NEW.merchant_id, 'label_purchased', NEW.label_currency, NEW.label_amount, -NEW.label_amount, NEW.return_id,
            v_rma, v_order, coalesce(NEW.carrier_name, NEW.carrier) || ' ' || NEW.service || ' ' || coalesce(NEW.tracking_number, ''));
    END IF;
    IF NEW.voided_at_carrier IS NOT NULL AND OLD.voided_at_carrier IS NULL THEN
        INSERT INTO ledger_entries (merchant_id, kind, currency, amount, net, return_id, rma, order_number, note)
        VALUES (NEW.merchant_id, 'label_voided', NEW.label_currency, NEW.label_amount, 0, NEW.return_id, v_rma, v_order,
            'refund of the unused label asked of the carrier ' || coalesce(NEW.void_ref, ''));
    END IF;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER parcels_ledger AFTER UPDATE ON parcels FOR EACH ROW EXECUTE FUNCTION ledger_parcels();

-- +goose Down
DROP TRIGGER parcels_ledger ON parcels;
DROP FUNCTION ledger_parcels();
-- the kind check keeps label_purchased and label_voided: ledger entries are never removed
DROP TABLE return_cases;
DROP INDEX parcels_tracking_poll;
ALTER TABLE parcels DROP COLUMN polled_at, DROP COLUMN problem, DROP COLUMN carrier_detail, DROP COLUMN voided_at_carrier,
    DROP COLUMN void_status, DROP COLUMN void_ref, DROP COLUMN label_currency, DROP COLUMN label_amount,
    DROP COLUMN qr_code, DROP COLUMN label_pdf, DROP COLUMN tracking_url, DROP COLUMN carrier_name,
    DROP COLUMN label_id, DROP COLUMN label_job_id;
DELETE FROM parcels WHERE tracking_number IS NULL;
ALTER TABLE parcels ALTER COLUMN tracking_number SET NOT NULL;
ALTER TABLE parcels DROP CONSTRAINT parcels_status_check;
ALTER TABLE parcels ADD CONSTRAINT parcels_status_check CHECK (status IN ('issued', 'voided'));
DROP TABLE carrier_settings;
