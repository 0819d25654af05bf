-- +goose NO TRANSACTION
-- +goose Up
-- Refunds go to Stripe named by their public ID (rf_…) instead of the internal ID,
-- and Stripe's webhook events, which name no merchant, find the refund by it: an
-- index on the public ID alone (public IDs are unique per merchant, so it is not a
-- unique index). Built concurrently: refunds keep being written meanwhile.
DROP INDEX CONCURRENTLY IF EXISTS refunds_public_id_lookup;
CREATE INDEX CONCURRENTLY IF NOT EXISTS refunds_public_id_lookup ON refunds (public_id);

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS refunds_public_id_lookup;
