-- +goose NO TRANSACTION
-- +goose Up
-- What a return already had issued (refunds.issuedFor, read at every receipt,
-- inspection and keep-it approval that pays) sums the return's store-credit entries:
-- without an index by return that read every entry of every merchant, a cost that
-- grew with the table. Built concurrently: credit keeps being issued meanwhile.
DROP INDEX CONCURRENTLY IF EXISTS store_credit_entries_return;
CREATE INDEX CONCURRENTLY IF NOT EXISTS store_credit_entries_return ON store_credit_entries (return_id)
    WHERE return_id IS NOT NULL;

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS store_credit_entries_return;
