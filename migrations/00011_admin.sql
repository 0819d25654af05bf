-- +goose Up
-- The audit trail: who changed the shop's set-up (policy, users, keys, branding,
-- webhook endpoints) or decided a return from the admin console, when, what and on
-- what. Rows are only ever added: the trigger below refuses updates and deletes.
CREATE TABLE audit_log (
    id           bigserial PRIMARY KEY,
    merchant_id  bigint NOT NULL REFERENCES merchants(id),
    at           timestamptz NOT NULL DEFAULT now(),
    -- who: "user:ana" (the pages), "key:12" (the API), "cli"
    actor        text NOT NULL CHECK (actor <> ''),
    -- what, as a stable code: policy.updated, user.created, api_key.revoked, …
    action       text NOT NULL CHECK (action ~ '^[a-z_]+\.[a-z_]+$'),
    -- on what, in words: "policy v4", "user bob", "return R-7KQ4-M2XD"
    target       text NOT NULL DEFAULT '',
    -- what changed, in words
    summary      text NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_list ON audit_log (merchant_id, id);

-- +goose StatementBegin
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$;
-- +goose StatementEnd
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- Staff users as the admin console shows them: when the password was last set and
-- when they last signed in (to spot accounts nobody uses).
ALTER TABLE staff_users
    ADD COLUMN password_changed_at timestamptz,
    ADD COLUMN last_sign_in_at     timestamptz;
UPDATE staff_users SET password_changed_at = created_at;

-- The review queue shows each shopper's other returns (and the serial-returner
-- rule counts them); the policy editor offers the latest orders for its sample quote.
CREATE INDEX returns_customer ON returns (merchant_id, customer_email, created_at);
CREATE INDEX orders_recent ON orders (merchant_id, id);

-- +goose Down
DROP INDEX orders_recent;
DROP INDEX returns_customer;
ALTER TABLE staff_users DROP COLUMN last_sign_in_at, DROP COLUMN password_changed_at;
DROP TABLE audit_log;
DROP FUNCTION audit_log_append_only();
