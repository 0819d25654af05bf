-- +goose NO TRANSACTION
-- +goose Up
-- A refund that settles (Stripe's webhook) marks its pending poll job done in the same
-- statement, instead of leaving it to run 30 seconds later and find nothing to ask:
-- an index on the refund the job names, for pending poll jobs only, keeps that a
-- look-up however many refunds are in flight. Built concurrently: the outbox keeps
-- being written meanwhile.
DROP INDEX CONCURRENTLY IF EXISTS outbox_pending_refund_poll;
CREATE INDEX CONCURRENTLY IF NOT EXISTS outbox_pending_refund_poll ON outbox ((payload->>'refund_id'))
    WHERE state = 'pending' AND kind = 'refund.poll';

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS outbox_pending_refund_poll;
