-- +goose NO TRANSACTION
-- +goose Up
-- A worker told which kind is due claims that kind's oldest due rows: an index that
-- starts with the kind takes it straight to them, instead of walking every due row of
-- every kind (a backlog of webhooks in front of a refund) in run_at order. Built
-- concurrently: the outbox keeps being written meanwhile.
DROP INDEX CONCURRENTLY IF EXISTS outbox_pending_kind;
CREATE INDEX CONCURRENTLY IF NOT EXISTS outbox_pending_kind ON outbox (kind, run_at, id) WHERE state = 'pending';

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS outbox_pending_kind;
