-- +goose NO TRANSACTION
-- +goose Up
-- Fewer foreign-key checks per write. A row that belongs to a return (its items,
-- timeline, emails, links, parcels, receipts, refunds) had two foreign keys, one to
-- the merchant and one to the return: two checks per insert, the first of them a key
-- lock on the one merchant row that every concurrent write of the shop takes, which
-- PostgreSQL keeps as a multixact when many hold it at once. One foreign key on
-- (merchant_id, return_id) now says both, and more: the row's merchant is its
-- return's merchant. The outbox, a queue whose rows live for seconds, keeps no
-- foreign key to the merchant (its jobs check what they touch when they run).
--
-- Built for a live database: indexes concurrently, the new keys added NOT VALID
-- (a brief lock) and validated afterwards (writes go on meanwhile). Each statement
-- can be run again if the migration stopped half-way.

-- (merchant_id, id) is unique since id is; this index replaces returns_merchant_created,
-- the same columns, so the foreign keys cost no extra index.
-- A build cut short leaves the index invalid, and IF NOT EXISTS would keep it: drop it
-- first. Not concurrently: once the foreign keys below depend on a valid index it must
-- stay, and only a DO block can ask; an invalid index has no dependants and goes at once.
-- +goose StatementBegin
DO $$ BEGIN
    IF EXISTS (SELECT 1 FROM pg_index WHERE indexrelid = to_regclass('returns_merchant_id_key') AND NOT indisvalid) THEN
        DROP INDEX returns_merchant_id_key;
    END IF;
END $$;
-- +goose StatementEnd
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS returns_merchant_id_key ON returns (merchant_id, id DESC);
DROP INDEX CONCURRENTLY IF EXISTS returns_merchant_created;

-- A return's parcels by number, under the merchant like the statements that look
-- them up: with the merchant first, a planner without statistics no longer takes the
-- merchant's tracking-number index and filters every parcel of the shop.
DROP INDEX CONCURRENTLY IF EXISTS parcels_return_number;
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS parcels_return_number ON parcels (merchant_id, return_id, number);
ALTER TABLE parcels DROP CONSTRAINT IF EXISTS parcels_return_id_number_key;

ALTER TABLE return_items DROP CONSTRAINT IF EXISTS return_items_return_fkey, DROP CONSTRAINT IF EXISTS return_items_merchant_id_fkey,
    DROP CONSTRAINT IF EXISTS return_items_return_id_fkey,
    ADD CONSTRAINT return_items_return_fkey FOREIGN KEY (merchant_id, return_id) REFERENCES returns (merchant_id, id) NOT VALID;
ALTER TABLE return_events DROP CONSTRAINT IF EXISTS return_events_return_fkey, DROP CONSTRAINT IF EXISTS return_events_merchant_id_fkey,
    DROP CONSTRAINT IF EXISTS return_events_return_id_fkey,
    ADD CONSTRAINT return_events_return_fkey FOREIGN KEY (merchant_id, return_id) REFERENCES returns (merchant_id, id) NOT VALID;
ALTER TABLE return_links DROP CONSTRAINT IF EXISTS return_links_return_fkey, DROP CONSTRAINT IF EXISTS return_links_merchant_id_fkey,
    DROP CONSTRAINT IF EXISTS return_links_return_id_fkey,
    ADD CONSTRAINT return_links_return_fkey FOREIGN KEY (merchant_id, return_id) REFERENCES returns (merchant_id, id) NOT VALID;
ALTER TABLE email_messages DROP CONSTRAINT IF EXISTS email_messages_return_fkey, DROP CONSTRAINT IF EXISTS email_messages_merchant_id_fkey,
    DROP CONSTRAINT IF EXISTS email_messages_return_id_fkey,
    ADD CONSTRAINT email_messages_return_fkey FOREIGN KEY (merchant_id, return_id) REFERENCES returns (merchant_id, id) NOT VALID;
ALTER TABLE parcels DROP CONSTRAINT IF EXISTS parcels_return_fkey, DROP CONSTRAINT IF EXISTS parcels_merchant_id_fkey,
    DROP CONSTRAINT IF EXISTS parcels_return_id_fkey,
    ADD CONSTRAINT parcels_return_fkey FOREIGN KEY (merchant_id, return_id) REFERENCES returns (merchant_id, id) NOT VALID;
ALTER TABLE receipts DROP CONSTRAINT IF EXISTS receipts_return_fkey, DROP CONSTRAINT IF EXISTS receipts_merchant_id_fkey,
    DROP CONSTRAINT IF EXISTS receipts_return_id_fkey,
    ADD CONSTRAINT receipts_return_fkey FOREIGN KEY (merchant_id, return_id) REFERENCES returns (merchant_id, id) NOT VALID;
ALTER TABLE refunds DROP CONSTRAINT IF EXISTS refunds_return_fkey, DROP CONSTRAINT IF EXISTS refunds_merchant_id_fkey,
    DROP CONSTRAINT IF EXISTS refunds_return_id_fkey,
    ADD CONSTRAINT refunds_return_fkey FOREIGN KEY (merchant_id, return_id) REFERENCES returns (merchant_id, id) NOT VALID;

ALTER TABLE outbox DROP CONSTRAINT IF EXISTS outbox_merchant_id_fkey;

ALTER TABLE return_items VALIDATE CONSTRAINT return_items_return_fkey;
ALTER TABLE return_events VALIDATE CONSTRAINT return_events_return_fkey;
ALTER TABLE return_links VALIDATE CONSTRAINT return_links_return_fkey;
ALTER TABLE email_messages VALIDATE CONSTRAINT email_messages_return_fkey;
ALTER TABLE parcels VALIDATE CONSTRAINT parcels_return_fkey;
ALTER TABLE receipts VALIDATE CONSTRAINT receipts_return_fkey;
ALTER TABLE refunds VALIDATE CONSTRAINT refunds_return_fkey;

-- +goose Down
ALTER TABLE return_items DROP CONSTRAINT IF EXISTS return_items_return_fkey,
    ADD CONSTRAINT return_items_merchant_id_fkey FOREIGN KEY (merchant_id) REFERENCES merchants (id),
    ADD CONSTRAINT return_items_return_id_fkey FOREIGN KEY (return_id) REFERENCES returns (id);
ALTER TABLE return_events DROP CONSTRAINT IF EXISTS return_events_return_fkey,
    ADD CONSTRAINT return_events_merchant_id_fkey FOREIGN KEY (merchant_id) REFERENCES merchants (id),
    ADD CONSTRAINT return_events_return_id_fkey FOREIGN KEY (return_id) REFERENCES returns (id);
ALTER TABLE return_links DROP CONSTRAINT IF EXISTS return_links_return_fkey,
    ADD CONSTRAINT return_links_merchant_id_fkey FOREIGN KEY (merchant_id) REFERENCES merchants (id),
    ADD CONSTRAINT return_links_return_id_fkey FOREIGN KEY (return_id) REFERENCES returns (id);
ALTER TABLE email_messages DROP CONSTRAINT IF EXISTS email_messages_return_fkey,
    ADD CONSTRAINT email_messages_merchant_id_fkey FOREIGN KEY (merchant_id) REFERENCES merchants (id),
    ADD CONSTRAINT email_messages_return_id_fkey FOREIGN KEY (return_id) REFERENCES returns (id);
ALTER TABLE parcels DROP CONSTRAINT IF EXISTS parcels_return_fkey,
    ADD CONSTRAINT parcels_merchant_id_fkey FOREIGN KEY (merchant_id) REFERENCES merchants (id),
    ADD CONSTRAINT parcels_return_id_fkey FOREIGN KEY (return_id) REFERENCES returns (id);
ALTER TABLE receipts DROP CONSTRAINT IF EXISTS receipts_return_fkey,
    ADD CONSTRAINT receipts_merchant_id_fkey FOREIGN KEY (merchant_id) REFERENCES merchants (id),
    ADD CONSTRAINT receipts_return_id_fkey FOREIGN KEY (return_id) REFERENCES returns (id);
ALTER TABLE refunds DROP CONSTRAINT IF EXISTS refunds_return_fkey,
    ADD CONSTRAINT refunds_merchant_id_fkey FOREIGN KEY (merchant_id) REFERENCES merchants (id),
    ADD CONSTRAINT refunds_return_id_fkey FOREIGN KEY (return_id) REFERENCES returns (id);
ALTER TABLE outbox ADD CONSTRAINT outbox_merchant_id_fkey FOREIGN KEY (merchant_id) REFERENCES merchants (id);
ALTER TABLE parcels ADD CONSTRAINT parcels_return_id_number_key UNIQUE (return_id, number);
DROP INDEX CONCURRENTLY IF EXISTS parcels_return_number;
DROP INDEX CONCURRENTLY IF EXISTS returns_merchant_created;
CREATE INDEX CONCURRENTLY IF NOT EXISTS returns_merchant_created ON returns (merchant_id, id DESC);
DROP INDEX CONCURRENTLY IF EXISTS returns_merchant_id_key;
