-- +goose Up
-- Processes cache a merchant's webhook endpoints, settings and current policy for a
-- few seconds (internal/cache); these triggers tell every process, through NOTIFY at
-- commit, which merchant's copy to forget. The payload is the merchant's ID.

-- +goose StatementBegin
CREATE FUNCTION notify_merchant_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    m bigint;
BEGIN
    IF TG_OP = 'DELETE' THEN
        m := OLD.merchant_id;
    ELSE
        m := NEW.merchant_id;
    END IF;
    PERFORM pg_notify(TG_ARGV[0], m::text);
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION notify_merchant_row_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify(TG_ARGV[0], OLD.id::text);
    ELSE
        PERFORM pg_notify(TG_ARGV[0], NEW.id::text);
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- the endpoints an event goes to: which exist, which are enabled, for which types
CREATE TRIGGER webhook_endpoints_changed AFTER INSERT OR DELETE ON webhook_endpoints
    FOR EACH ROW EXECUTE FUNCTION notify_merchant_change('roundtrip_webhook_endpoints');
CREATE TRIGGER webhook_endpoints_updated AFTER UPDATE ON webhook_endpoints
    FOR EACH ROW WHEN (OLD.enabled IS DISTINCT FROM NEW.enabled
        OR OLD.enabled_events IS DISTINCT FROM NEW.enabled_events
        OR OLD.merchant_id IS DISTINCT FROM NEW.merchant_id)
    EXECUTE FUNCTION notify_merchant_change('roundtrip_webhook_endpoints');

-- a new policy version becomes the current one
CREATE TRIGGER policies_changed AFTER INSERT OR UPDATE OR DELETE ON policies
    FOR EACH ROW EXECUTE FUNCTION notify_merchant_change('roundtrip_policies');

-- a merchant's name, slug and settings
CREATE TRIGGER merchants_changed AFTER INSERT OR UPDATE OR DELETE ON merchants
    FOR EACH ROW EXECUTE FUNCTION notify_merchant_row_change('roundtrip_merchants');

-- a shopper session ended early or swept: every process forgets its cached sessions
-- +goose StatementBegin
CREATE FUNCTION notify_shopper_sessions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('roundtrip_shopper_sessions', '');
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER shopper_sessions_changed AFTER UPDATE OR DELETE ON shopper_sessions
    FOR EACH STATEMENT EXECUTE FUNCTION notify_shopper_sessions();

-- +goose Down
DROP TRIGGER shopper_sessions_changed ON shopper_sessions;
DROP FUNCTION notify_shopper_sessions();
DROP TRIGGER merchants_changed ON merchants;
DROP TRIGGER policies_changed ON policies;
DROP TRIGGER webhook_endpoints_updated ON webhook_endpoints;
DROP TRIGGER webhook_endpoints_changed ON webhook_endpoints;
DROP FUNCTION notify_merchant_row_change();
DROP FUNCTION notify_merchant_change();
