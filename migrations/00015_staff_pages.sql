-- +goose Up
-- A failed refund need not stay failed: finance can close it as store credit (the
-- shopper gets store credit of its amount instead) or as refunded outside Roundtrip
-- (the shop paid it back another way, say by bank transfer). The refund keeps its
-- Stripe status (failed, as Stripe says); closed_as says how it was settled instead,
-- and the ledger records it in the same transaction: refund_to_store_credit (net 0,
-- the credit's own store_credit_issued entry takes the amount) or refund_outside
-- (−amount: money left the shop outside Stripe).
ALTER TABLE refunds ADD COLUMN closed_as text CHECK (closed_as IN ('store_credit', 'outside'));
ALTER TABLE refunds ADD COLUMN closed_note text NOT NULL DEFAULT '';
ALTER TABLE refunds ADD COLUMN closed_by text;
ALTER TABLE refunds ADD COLUMN closed_at timestamptz;
ALTER TABLE refunds ADD CONSTRAINT refunds_closed_only_failed CHECK (closed_as IS NULL OR status = 'failed');
CREATE INDEX refunds_open_failed ON refunds (merchant_id, id DESC) WHERE status = 'failed' AND closed_as IS NULL;

-- the ledger's kinds, whatever earlier migrations made them, and the two new ones
-- +goose StatementBegin
DO $$
DECLARE
    def text;
BEGIN
    SELECT pg_get_constraintdef(oid) INTO def FROM pg_constraint
        WHERE conrelid = 'ledger_entries'::regclass AND conname = 'ledger_entries_kind_check';
    EXECUTE 'ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_kind_check';
    EXECUTE 'ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_kind_check '
        || replace(def, 'ARRAY[', 'ARRAY[''refund_to_store_credit''::text, ''refund_outside''::text, ');
END;
$$;
-- +goose StatementEnd

-- the steps of a refund's change, as in 00005_finance.sql, and a fourth: closed
-- another way
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION ledger_refund_steps(n refunds, p refunds)
RETURNS TABLE (step int, kind text, net bigint, status text, note text) LANGUAGE sql IMMUTABLE AS $$
    SELECT * FROM (VALUES
        (1, 'refund_queued', 0::bigint, 'queued',
            CASE WHEN n.generation > 0 THEN 'retry ' || n.generation ELSE '' END),
        (2, 'refund_sent', -n.amount, n.status, ''),
        (3, 'refund_' || n.status,
            CASE WHEN n.status <> 'succeeded' AND n.stripe_refund_id IS NOT NULL THEN n.amount ELSE 0 END,
            n.status, CASE WHEN n.status = 'failed' THEN coalesce(n.failure_reason, '') ELSE '' END),
        (4, CASE WHEN n.closed_as = 'outside' THEN 'refund_outside' ELSE 'refund_to_store_credit' END,
            CASE WHEN n.closed_as = 'outside' THEN -n.amount ELSE 0 END,
            n.status, n.closed_note)
    ) s (step, kind, net, status, note)
    WHERE CASE s.step
        WHEN 1 THEN p.id IS NULL OR (n.status = 'queued' AND p.status IS DISTINCT FROM 'queued')
        WHEN 2 THEN n.stripe_refund_id IS NOT NULL AND n.stripe_refund_id IS DISTINCT FROM p.stripe_refund_id
        WHEN 3 THEN n.status IN ('succeeded', 'failed', 'canceled') AND n.status IS DISTINCT FROM p.status
        ELSE n.closed_as IS NOT NULL AND p.closed_as IS NULL
    END
$$;
-- +goose StatementEnd

-- A mismatch of a reconciliation can be acknowledged with a note (explained, nothing
-- to do); the line keeps what was found.
ALTER TABLE reconciliation_lines ADD COLUMN acked_note text NOT NULL DEFAULT '';
ALTER TABLE reconciliation_lines ADD COLUMN acked_by text;
ALTER TABLE reconciliation_lines ADD COLUMN acked_at timestamptz;

-- +goose Down
ALTER TABLE reconciliation_lines DROP COLUMN acked_at;
ALTER TABLE reconciliation_lines DROP COLUMN acked_by;
ALTER TABLE reconciliation_lines DROP COLUMN acked_note;
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION ledger_refund_steps(n refunds, p refunds)
RETURNS TABLE (step int, kind text, net bigint, status text, note text) LANGUAGE sql IMMUTABLE AS $$
    SELECT * FROM (VALUES
        (1, 'refund_queued', 0::bigint, 'queued',
            CASE WHEN n.generation > 0 THEN 'retry ' || n.generation ELSE '' END),
        (2, 'refund_sent', -n.amount, n.status, ''),
        (3, 'refund_' || n.status,
            CASE WHEN n.status <> 'succeeded' AND n.stripe_refund_id IS NOT NULL THEN n.amount ELSE 0 END,
            n.status, CASE WHEN n.status = 'failed' THEN coalesce(n.failure_reason, '') ELSE '' END)
    ) s (step, kind, net, status, note)
    WHERE CASE s.step
        WHEN 1 THEN p.id IS NULL OR (n.status = 'queued' AND p.status IS DISTINCT FROM 'queued')
        WHEN 2 THEN n.stripe_refund_id IS NOT NULL AND n.stripe_refund_id IS DISTINCT FROM p.stripe_refund_id
        ELSE n.status IN ('succeeded', 'failed', 'canceled') AND n.status IS DISTINCT FROM p.status
    END
$$;
-- +goose StatementEnd
-- +goose StatementBegin
DO $$
DECLARE
    def text;
BEGIN
    SELECT pg_get_constraintdef(oid) INTO def FROM pg_constraint
        WHERE conrelid = 'ledger_entries'::regclass AND conname = 'ledger_entries_kind_check';
    EXECUTE 'ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_kind_check';
    EXECUTE 'ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_kind_check '
        || replace(def, '''refund_to_store_credit''::text, ''refund_outside''::text, ', '');
END;
$$;
-- +goose StatementEnd
DROP INDEX refunds_open_failed;
ALTER TABLE refunds DROP CONSTRAINT refunds_closed_only_failed;
ALTER TABLE refunds DROP COLUMN closed_at;
ALTER TABLE refunds DROP COLUMN closed_by;
ALTER TABLE refunds DROP COLUMN closed_note;
ALTER TABLE refunds DROP COLUMN closed_as;
