-- +goose Up
-- Public IDs: every resource the API and the pages name by ID gets an opaque, prefixed
-- random ID (ret_…, rf_…, rec_…, key_…), made by the database when the row is
-- inserted, so that nobody reads the platform's volume off the IDs. The bigint id
-- stays the key that foreign keys and list cursors use; it is never shown. Public IDs
-- are unique per merchant and every lookup by one names the merchant.

-- +goose StatementBegin
CREATE FUNCTION new_public_id(prefix text) RETURNS text LANGUAGE sql VOLATILE PARALLEL SAFE AS $$
    SELECT prefix || '_' || string_agg(substr('0123456789abcdefghjkmnpqrstvwxyz', get_byte(b, i) % 32 + 1, 1), '' ORDER BY i)
    FROM (SELECT uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid()) AS b) s,
         unnest(ARRAY[0,1,2,3,4,5,7,9,10,11,12,13,14,15,16,17,18,19,20,21,23,25,26,27,28,29,30,31]) AS i
$$;
-- +goose StatementEnd

ALTER TABLE returns ADD COLUMN public_id text NOT NULL DEFAULT new_public_id('ret');
ALTER TABLE refunds ADD COLUMN public_id text NOT NULL DEFAULT new_public_id('rf');
ALTER TABLE reconciliations ADD COLUMN public_id text NOT NULL DEFAULT new_public_id('rec');
ALTER TABLE api_keys ADD COLUMN public_id text NOT NULL DEFAULT new_public_id('key');
ALTER TABLE receipts ADD COLUMN public_id text NOT NULL DEFAULT new_public_id('rcpt');
ALTER TABLE store_credit_entries ADD COLUMN public_id text NOT NULL DEFAULT new_public_id('sc');
ALTER TABLE ledger_entries ADD COLUMN public_id text NOT NULL DEFAULT new_public_id('le');
ALTER TABLE audit_log ADD COLUMN public_id text NOT NULL DEFAULT new_public_id('aud');
ALTER TABLE staff_users ADD COLUMN public_id text NOT NULL DEFAULT new_public_id('usr');
ALTER TABLE reconciliation_lines ADD COLUMN public_id text NOT NULL DEFAULT new_public_id('rl');
ALTER TABLE exchanges ADD COLUMN public_id text NOT NULL DEFAULT new_public_id('exch');
ALTER TABLE store_credits ADD COLUMN public_id text NOT NULL DEFAULT new_public_id('cred');
ALTER TABLE store_credit_redemptions ADD COLUMN public_id text NOT NULL DEFAULT new_public_id('red');
ALTER TABLE email_messages ADD COLUMN public_id text NOT NULL DEFAULT new_public_id('em');
ALTER TABLE return_cases ADD COLUMN public_id text NOT NULL DEFAULT new_public_id('case');
ALTER TABLE return_photos ADD COLUMN public_id text NOT NULL DEFAULT new_public_id('ph');

CREATE UNIQUE INDEX returns_public_id ON returns (merchant_id, public_id);
CREATE UNIQUE INDEX refunds_public_id ON refunds (merchant_id, public_id);
CREATE UNIQUE INDEX reconciliations_public_id ON reconciliations (merchant_id, public_id);
CREATE UNIQUE INDEX api_keys_public_id ON api_keys (merchant_id, public_id);
CREATE UNIQUE INDEX receipts_public_id ON receipts (merchant_id, public_id);
CREATE UNIQUE INDEX store_credit_entries_public_id ON store_credit_entries (merchant_id, public_id);
CREATE UNIQUE INDEX ledger_entries_public_id ON ledger_entries (merchant_id, public_id);
CREATE UNIQUE INDEX audit_log_public_id ON audit_log (merchant_id, public_id);
CREATE UNIQUE INDEX staff_users_public_id ON staff_users (merchant_id, public_id);
CREATE UNIQUE INDEX reconciliation_lines_public_id ON reconciliation_lines (merchant_id, public_id);
CREATE UNIQUE INDEX exchanges_public_id ON exchanges (merchant_id, public_id);
CREATE UNIQUE INDEX store_credits_public_id ON store_credits (merchant_id, public_id);
CREATE UNIQUE INDEX store_credit_redemptions_public_id ON store_credit_redemptions (merchant_id, public_id);
CREATE UNIQUE INDEX email_messages_public_id ON email_messages (merchant_id, public_id);
CREATE UNIQUE INDEX return_cases_public_id ON return_cases (merchant_id, public_id);
CREATE UNIQUE INDEX return_photos_public_id ON return_photos (merchant_id, public_id);

-- +goose Down
ALTER TABLE returns DROP COLUMN public_id;
ALTER TABLE refunds DROP COLUMN public_id;
ALTER TABLE reconciliations DROP COLUMN public_id;
ALTER TABLE api_keys DROP COLUMN public_id;
ALTER TABLE receipts DROP COLUMN public_id;
ALTER TABLE store_credit_entries DROP COLUMN public_id;
ALTER TABLE ledger_entries DROP COLUMN public_id;
ALTER TABLE audit_log DROP COLUMN public_id;
ALTER TABLE staff_users DROP COLUMN public_id;
ALTER TABLE reconciliation_lines DROP COLUMN public_id;
ALTER TABLE exchanges DROP COLUMN public_id;
ALTER TABLE store_credits DROP COLUMN public_id;
ALTER TABLE store_credit_redemptions DROP COLUMN public_id;
ALTER TABLE email_messages DROP COLUMN public_id;
ALTER TABLE return_cases DROP COLUMN public_id;
ALTER TABLE return_photos DROP COLUMN public_id;
DROP FUNCTION new_public_id(text);
