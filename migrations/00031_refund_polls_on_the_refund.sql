-- +goose NO TRANSACTION
-- +goose Up
-- A refund Stripe answers pending is asked about again (a missed webhook) when its
-- poll_at comes: a periodic sweep reads the pending refunds through refunds_poll and
-- enqueues a poll job for each one due. The poll job was enqueued with every refund
-- and marked done through outbox_pending_refund_poll when the refund settled: two
-- writes of a row and three index entries a refund, for a poll that almost never
-- runs. The refunds pending now get a poll due at once (their earlier poll jobs
-- still run as well: a poll that learns nothing new writes nothing); the index is
-- built and the old one dropped concurrently, as refunds and jobs keep being written
-- meanwhile. Each statement can be run again.
ALTER TABLE refunds ADD COLUMN IF NOT EXISTS poll_at timestamptz;
UPDATE refunds SET poll_at = now()
    WHERE status IN ('pending', 'requires_action') AND stripe_refund_id IS NOT NULL AND poll_at IS NULL;
DROP INDEX CONCURRENTLY IF EXISTS refunds_poll;
CREATE INDEX CONCURRENTLY IF NOT EXISTS refunds_poll ON refunds (poll_at) WHERE status IN ('pending', 'requires_action');
DROP INDEX CONCURRENTLY IF EXISTS outbox_pending_refund_poll;

-- +goose Down
-- The earlier code polls through a job per refund, enqueued with its send: the refunds
-- not settled yet get one, due when their poll was (a refund not sent yet: now, and
-- that job waits for the send).
CREATE INDEX CONCURRENTLY IF NOT EXISTS outbox_pending_refund_poll ON outbox ((payload->>'refund_id'))
    WHERE state = 'pending' AND kind = 'refund.poll';
INSERT INTO outbox (merchant_id, kind, payload, run_at, max_attempts)
    SELECT f.merchant_id, 'refund.poll', json_build_object('refund_id', f.id)::jsonb, coalesce(f.poll_at, now()), 100
    FROM refunds f
    WHERE f.status IN ('queued', 'pending', 'requires_action') AND NOT EXISTS (SELECT 1 FROM outbox o
        WHERE o.state = 'pending' AND o.kind = 'refund.poll' AND o.payload->>'refund_id' = f.id::text);
DROP INDEX CONCURRENTLY IF EXISTS refunds_poll;
ALTER TABLE refunds DROP COLUMN IF EXISTS poll_at;
