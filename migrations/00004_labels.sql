-- +goose Up
-- when the carrier event that set carrier_status happened: an older event that
-- arrives late does not overwrite a newer status
ALTER TABLE parcels ADD COLUMN carrier_status_at timestamptz;
-- the Idempotency-Key of POST /v1/returns/{id}/parcels: a retry after a crash
-- finds the parcel it made instead of booking a second label
ALTER TABLE parcels ADD COLUMN idempotency_key text;
CREATE UNIQUE INDEX parcels_idempotency ON parcels (merchant_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
COMMENT ON COLUMN merchants.carrier_secret IS 'hex SHA-256 of the carrier secret (rtc_<slug>_…); the secret itself is shown once';

-- +goose Down
COMMENT ON COLUMN merchants.carrier_secret IS NULL;
DROP INDEX parcels_idempotency;
ALTER TABLE parcels DROP COLUMN idempotency_key;
ALTER TABLE parcels DROP COLUMN carrier_status_at;
