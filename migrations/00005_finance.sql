-- +goose Up
-- The finance ledger: one append-only entry per money movement, written by the
-- triggers below in the same transaction as the change that moved the money, so no
-- code path can forget it. Entries are never updated or deleted; a correction is a
-- new entry.
--
-- amount is the magnitude (> 0) of the refund, credit or fee the entry is about.
-- net is the signed effect on the merchant's money, in the same minor units:
-- negative when money or store credit leaves the shop for a shopper, positive when
-- it comes back, 0 for a step that moves nothing:
--   refund_queued                       0      (owed, not paid)
--   refund_sent                        -amount (Stripe debits the balance when it creates the refund)
--   refund_succeeded                    0      (confirms what refund_sent took)
--   refund_failed, refund_canceled     +amount when the refund had been sent (Stripe's failure
--                                       balance transaction puts it back), else 0
--   store_credit_issued, _bonus        -amount (credit the shopper can spend)
--   store_credit_redeemed              +amount (credit spent)
--   store_credit_adjusted              -(the entry's signed amount)
--   fee_retained                        0      (restocking and label fees kept when the
--                                       return completed: money that never left)
-- so sum(net) per currency over a period is the merchant's net outflow to shoppers,
-- and sum(net) over the refund kinds matches Stripe's refund balance transactions.
CREATE TABLE ledger_entries (
    id                    bigserial PRIMARY KEY,
    merchant_id           bigint NOT NULL REFERENCES merchants(id),
    at                    timestamptz NOT NULL DEFAULT now(),
    kind                  text NOT NULL CHECK (kind IN ('refund_queued', 'refund_sent', 'refund_succeeded',
                              'refund_failed', 'refund_canceled', 'store_credit_issued', 'store_credit_bonus',
                              'store_credit_redeemed', 'store_credit_adjusted', 'fee_retained')),
    currency              text NOT NULL,
    amount                bigint NOT NULL CHECK (amount >= 0),
    net                   bigint NOT NULL,
    refund_id             bigint,
    -- the refund's generation: 0 for the first sending, one more per retry by finance
    attempt               int,
    -- the refund's status after the change
    status                text,
    store_credit_entry_id bigint,
    return_id             bigint,
    rma                   text,
    order_number          text,
    stripe_refund_id      text,
    charge_id             text,
    payment_intent_id     text,
    balance_transaction   text,
    note                  text NOT NULL DEFAULT ''
);
CREATE INDEX ledger_entries_merchant ON ledger_entries (merchant_id, id DESC);
CREATE INDEX ledger_entries_at ON ledger_entries (merchant_id, at);
CREATE INDEX ledger_entries_refund ON ledger_entries (refund_id, id) WHERE refund_id IS NOT NULL;
CREATE INDEX ledger_entries_stripe ON ledger_entries (merchant_id, stripe_refund_id) WHERE stripe_refund_id IS NOT NULL;
CREATE INDEX ledger_entries_rma ON ledger_entries (merchant_id, rma) WHERE rma IS NOT NULL;
CREATE INDEX ledger_entries_order ON ledger_entries (merchant_id, order_number) WHERE order_number IS NOT NULL;

-- +goose StatementBegin
CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger_entries is append-only: % is not allowed; record a correction as a new entry', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER ledger_entries_no_truncate BEFORE TRUNCATE ON ledger_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();

-- refunds: INSERT writes refund_queued; a retry (back to queued) another refund_queued;
-- the Stripe refund ID being set writes refund_sent; reaching succeeded, failed or
-- canceled writes that entry. Moves between pending and requires_action move no money
-- and write nothing. An INSERT of a refund that is already further on (imports, tests)
-- writes every step it skipped, in order. The triggers are per statement with
-- transition tables, so that a bulk insert or update writes its entries in one pass.
-- +goose StatementBegin
CREATE FUNCTION ledger_refund_steps(n refunds, p refunds)
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
CREATE FUNCTION ledger_refunds() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO ledger_entries (merchant_id, kind, currency, amount, net, refund_id, attempt, status, return_id,
            rma, order_number, stripe_refund_id, charge_id, payment_intent_id, balance_transaction, note)
        SELECT n.merchant_id, s.kind, n.currency, n.amount, s.net, n.id, n.generation, s.status, n.return_id,
            r.rma, o.number, CASE WHEN s.step > 1 THEN n.stripe_refund_id END, n.charge_id, n.payment_intent_id,
            CASE WHEN s.step > 1 THEN n.balance_transaction END, s.note
        FROM new_rows n
        JOIN returns r ON r.id = n.return_id
        JOIN orders o ON o.id = r.order_id
        CROSS JOIN LATERAL ledger_refund_steps(n::refunds, NULL::refunds) s
        ORDER BY n.id, s.step;
    ELSE
        INSERT INTO ledger_entries (merchant_id, kind, currency, amount, net, refund_id, attempt, status, return_id,
            rma, order_number, stripe_refund_id, charge_id, payment_intent_id, balance_transaction, note)
        SELECT n.merchant_id, s.kind, n.currency, n.amount, s.net, n.id, n.generation, s.status, n.return_id,
            r.rma, o.number, CASE WHEN s.step > 1 THEN n.stripe_refund_id END, n.charge_id, n.payment_intent_id,
            CASE WHEN s.step > 1 THEN n.balance_transaction END, s.note
        FROM new_rows n
        JOIN old_rows p ON p.id = n.id
        JOIN returns r ON r.id = n.return_id
        JOIN orders o ON o.id = r.order_id
        CROSS JOIN LATERAL ledger_refund_steps(n::refunds, p::refunds) s
        ORDER BY n.id, s.step;
    END IF;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER refunds_ledger_insert AFTER INSERT ON refunds
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ledger_refunds();
CREATE TRIGGER refunds_ledger_update AFTER UPDATE ON refunds
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ledger_refunds();

-- +goose StatementBegin
CREATE FUNCTION ledger_store_credit() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_rma   text;
    v_order text;
BEGIN
    IF NEW.return_id IS NOT NULL THEN
        SELECT r.rma, o.number INTO v_rma, v_order
            FROM returns r JOIN orders o ON o.id = r.order_id WHERE r.id = NEW.return_id;
    END IF;
    INSERT INTO ledger_entries (merchant_id, kind, currency, amount, net, store_credit_entry_id, return_id, rma,
        order_number, note)
    VALUES (NEW.merchant_id, 'store_credit_' || NEW.kind, NEW.currency, abs(NEW.amount), -NEW.amount, NEW.id,
        NEW.return_id, v_rma, v_order, NEW.note);
    RETURN NULL;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER store_credit_ledger AFTER INSERT ON store_credit_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_store_credit();

-- fee_retained: when a return completes, the restocking and label fees of its accepted
-- units, computed from the quote the shopper saw exactly as returns.QuoteResult.ForAccepted
-- does (unit shares of discount and tax by largest remainder, basis points rounded
-- half up, the label fee at most the items' total).
-- +goose StatementBegin
CREATE FUNCTION ledger_return_fees() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_order   text;
    v_restock numeric;
    v_items   numeric;
    v_units   numeric;
    v_label   numeric := 0;
BEGIN
    SELECT number INTO v_order FROM orders WHERE id = NEW.order_id;
    SELECT coalesce(sum(restock), 0), coalesce(sum(item - disc + tax - restock), 0), coalesce(sum(n), 0)
        INTO v_restock, v_items, v_units
        FROM (
            SELECT n, item, disc, tax,
                   CASE WHEN item - disc <= 0 OR bps <= 0 THEN 0
                        ELSE least(div((item - disc) * bps + 5000, 10000), item - disc) END AS restock
            FROM (
                SELECT k.n,
                       k.price * k.n AS item,
                       k.n * div(k.d, k.q) + least(k.n, mod(k.d, k.q)) AS disc,
                       k.n * div(k.t, k.q) + least(k.n, mod(k.t, k.q)) AS tax,
                       k.bps
                FROM jsonb_array_elements(CASE WHEN jsonb_typeof(NEW.quote->'lines') = 'array'
                                               THEN NEW.quote->'lines' ELSE '[]'::jsonb END) l
                JOIN return_items i ON i.return_id = NEW.id AND i.line_id = l->>'line_id'
                CROSS JOIN LATERAL (SELECT
                        least(greatest(i.accepted, 0), coalesce((l->>'quantity')::numeric, 0)) AS n,
                        coalesce((l->>'unit_price')::numeric, 0) AS price,
                        coalesce((l->>'discount')::numeric, 0) AS d,
                        coalesce((l->>'tax')::numeric, 0) AS t,
                        greatest(coalesce((l->>'quantity')::numeric, 1), 1) AS q,
                        coalesce((l->>'restocking_fee_bps')::numeric, 0) AS bps) k
                WHERE coalesce((l->>'eligible')::boolean, false) AND k.n > 0
            ) x
        ) y;
    IF v_units > 0 THEN
        v_label := greatest(least(coalesce((NEW.quote->>'label_fee')::numeric, 0), v_items), 0);
    END IF;
    IF v_restock > 0 THEN
        INSERT INTO ledger_entries (merchant_id, kind, currency, amount, net, return_id, rma, order_number, note)
        VALUES (NEW.merchant_id, 'fee_retained', NEW.currency, v_restock, 0, NEW.id, NEW.rma, v_order, 'restocking fee');
    END IF;
    IF v_label > 0 THEN
        INSERT INTO ledger_entries (merchant_id, kind, currency, amount, net, return_id, rma, order_number, note)
        VALUES (NEW.merchant_id, 'fee_retained', NEW.currency, v_label, 0, NEW.id, NEW.rma, v_order, 'label fee');
    END IF;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER returns_fee_ledger AFTER UPDATE OF state ON returns
    FOR EACH ROW WHEN (NEW.state = 'completed' AND OLD.state IS DISTINCT FROM 'completed')
    EXECUTE FUNCTION ledger_return_fees();

-- Reconciliation runs against Stripe and their lines.
CREATE TABLE reconciliations (
    id               bigserial PRIMARY KEY,
    merchant_id      bigint NOT NULL REFERENCES merchants(id),
    period_from      timestamptz NOT NULL,
    period_to        timestamptz NOT NULL CHECK (period_to > period_from),
    status           text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
    -- listing (Stripe's refunds of the period), checking (ours that Stripe did not list), done
    phase            text NOT NULL DEFAULT 'listing' CHECK (phase IN ('listing', 'checking', 'done')),
    -- every start adds one; a writer of an older attempt finds its batches refused
    attempt          int NOT NULL DEFAULT 0,
    -- Stripe's refunds of [period_from, listed_until) are listed and their lines committed
    listed_until     timestamptz,
    -- the counters as they were at listed_until, restored when a failed run resumes
    checkpoint       jsonb NOT NULL DEFAULT '{}',
    stripe_listed    bigint NOT NULL DEFAULT 0,
    local_expected   bigint NOT NULL DEFAULT 0,
    local_seen       bigint NOT NULL DEFAULT 0,
    lines            bigint NOT NULL DEFAULT 0,
    -- Stripe refunds of the period on no refund or order of this merchant
    not_ours         bigint NOT NULL DEFAULT 0,
    error            text,
    idempotency_key  text,
    created_by       text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    finished_at      timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (merchant_id, idempotency_key)
);
CREATE INDEX reconciliations_merchant ON reconciliations (merchant_id, id DESC);

CREATE TABLE reconciliation_lines (
    id                  bigserial PRIMARY KEY,
    reconciliation_id   bigint NOT NULL REFERENCES reconciliations(id) ON DELETE CASCADE,
    merchant_id         bigint NOT NULL,
    class               text NOT NULL CHECK (class IN ('matched', 'missing_in_stripe', 'missing_locally',
                            'amount_mismatch', 'currency_mismatch', 'status_mismatch')),
    -- stripe_list: found in Stripe's list of the period; local: ours, not in that list
    source              text NOT NULL CHECK (source IN ('stripe_list', 'local')),
    -- how ours was found: stripe_id, earlier_attempt (a retried refund's former Stripe
    -- refund, from the ledger), metadata (refund_id on the Stripe refund), or empty
    matched_by          text NOT NULL DEFAULT '',
    refund_id           bigint,
    attempt             int,
    return_id           bigint,
    rma                 text,
    order_number        text,
    currency            text,
    amount              bigint,
    status              text,
    stripe_refund_id    text,
    stripe_currency     text,
    stripe_amount       bigint,
    stripe_status       text,
    stripe_created      timestamptz,
    charge_id           text,
    payment_intent_id   text,
    balance_transaction text,
    note                text NOT NULL DEFAULT ''
);
CREATE INDEX reconciliation_lines_run ON reconciliation_lines (reconciliation_id, id);
CREATE INDEX reconciliation_lines_class ON reconciliation_lines (reconciliation_id, class, id);
CREATE INDEX reconciliation_lines_refund ON reconciliation_lines (reconciliation_id, refund_id) WHERE refund_id IS NOT NULL;

-- reconciliation finds our refunds sent in a period, exports list them by creation
CREATE INDEX refunds_sent ON refunds (merchant_id, (coalesce(sent_at, created_at))) WHERE stripe_refund_id IS NOT NULL;
CREATE INDEX refunds_created ON refunds (merchant_id, created_at, id);
-- finance lists refunds by when they settled
CREATE INDEX refunds_settled ON refunds (merchant_id, settled_at) WHERE settled_at IS NOT NULL;
-- reconciliation finds the order of a Stripe refund that Roundtrip did not make by its payment
CREATE INDEX orders_payment_intent ON orders (merchant_id, (data->'payment'->>'payment_intent_id'));
CREATE INDEX orders_charge ON orders (merchant_id, (data->'payment'->>'charge_id'));

-- +goose Down
DROP INDEX orders_charge;
DROP INDEX orders_payment_intent;
DROP INDEX refunds_settled;
DROP INDEX refunds_created;
DROP INDEX refunds_sent;
DROP TABLE reconciliation_lines;
DROP TABLE reconciliations;
DROP TRIGGER returns_fee_ledger ON returns;
DROP FUNCTION ledger_return_fees();
DROP TRIGGER store_credit_ledger ON store_credit_entries;
DROP FUNCTION ledger_store_credit();
DROP TRIGGER refunds_ledger_update ON refunds;
DROP TRIGGER refunds_ledger_insert ON refunds;
DROP FUNCTION ledger_refunds();
DROP FUNCTION ledger_refund_steps(refunds, refunds);
DROP TABLE ledger_entries;
DROP FUNCTION ledger_append_only();
