-- +goose NO TRANSACTION
-- +goose Up
-- The due rows are found through outbox_pending_kind (kind, run_at, id) alone: a claim
-- walks its kind's part of it, and the two reads across kinds (the head of a drain,
-- when the next row for later is due) take each kind's head from it and the earliest
-- of those. outbox_pending (run_at, id) served only those two and cost every job an
-- index entry at the index's busiest page, its right end (14 a return's lifecycle).
-- Dropped concurrently: the outbox keeps being written meanwhile.
DROP INDEX CONCURRENTLY IF EXISTS outbox_pending;

-- +goose Down
CREATE INDEX CONCURRENTLY IF NOT EXISTS outbox_pending ON outbox (run_at, id) WHERE state = 'pending';
