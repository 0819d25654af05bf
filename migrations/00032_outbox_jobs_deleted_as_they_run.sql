-- +goose NO TRANSACTION
-- +goose Up
-- A job's claim deletes its row (a failed one is written back) where it marked the row
-- done: what a job did is kept where it did it (a delivery's attempts, an email's row,
-- a refund and its ledger), and marking it done wrote a new version of the row and an
-- entry in its primary key, for a sweep to delete a week later. The jobs that earlier
-- releases ran (and an older replica runs during a rolling deploy) are still done rows,
-- deleted by the sweep after their week; it reads them through this index over them
-- alone, so that once they are gone a sweep reads nothing instead of walking every
-- pending job. New jobs never enter it. It is built concurrently, as jobs keep being
-- written meanwhile. A build cut short leaves an invalid index that IF NOT EXISTS
-- would keep, so the migration, run again, drops it first.
DROP INDEX CONCURRENTLY IF EXISTS outbox_done;
CREATE INDEX CONCURRENTLY IF NOT EXISTS outbox_done ON outbox (done_at) WHERE state = 'done';

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS outbox_done;
