-- +goose Up
-- Processes cache a merchant's carrier settings (merchant.Store.CarrierIn) for every
-- label they book; a change of the settings, the Shippo token or the tracking
-- webhook's token tells every process, through NOTIFY at commit, to forget that
-- merchant's copy (the merchants' channel: their cached merchant is forgotten too,
-- which costs one read).
CREATE TRIGGER carrier_settings_changed AFTER INSERT OR UPDATE OR DELETE ON carrier_settings
    FOR EACH ROW EXECUTE FUNCTION notify_merchant_change('roundtrip_merchants');

-- +goose Down
DROP TRIGGER carrier_settings_changed ON carrier_settings;
