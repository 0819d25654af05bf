-- +goose Up
-- The ledger's trigger on parcels records a label's price when the purchase is
-- recorded and its void when one is asked of the carrier. It ran for every update of
-- a parcel, and for a bought label it read the return and its order each time, though
-- most updates (a tracking poll's polled_at, an arrival) change no money. The WHEN
-- clause says in the trigger itself when the function has something to write, so
-- PostgreSQL skips the call otherwise; the function is unchanged.
DROP TRIGGER parcels_ledger ON parcels;
CREATE TRIGGER parcels_ledger AFTER UPDATE ON parcels FOR EACH ROW
    WHEN (NEW.label_amount IS NOT NULL AND (OLD.label_amount IS NULL
        OR (NEW.voided_at_carrier IS NOT NULL AND OLD.voided_at_carrier IS NULL)))
    EXECUTE FUNCTION ledger_parcels();

-- +goose Down
DROP TRIGGER parcels_ledger ON parcels;
CREATE TRIGGER parcels_ledger AFTER UPDATE ON parcels FOR EACH ROW EXECUTE FUNCTION ledger_parcels();
