-- +goose Up
-- A sent email's line on its return's timeline ("Email sent: refund sent") is kept on
-- the email's own row, written by the update that marks it sent, and read into the
-- timeline at its sent_at (returns.Store.Events). It was a row of return_events of its
-- own: four a lifecycle, each with two index entries and a foreign-key check that
-- locked the return's row from the sending job. Lines written before stay in
-- return_events: a message whose timeline_note is NULL is not read into the timeline,
-- so none shows twice.
ALTER TABLE email_messages ADD COLUMN timeline_note text;

-- +goose Down
-- The lines go back into return_events, each at its email's time and with the state
-- the return had then (the last timeline entry before it), as the earlier code wrote
-- them; that code lists a timeline in the order its rows were written, so these come
-- after the entries already there.
INSERT INTO return_events (merchant_id, return_id, at, actor, event, from_state, to_state, note)
SELECT e.merchant_id, e.return_id, e.sent_at, 'system', 'email', s.state, s.state, e.timeline_note
FROM email_messages e
CROSS JOIN LATERAL (SELECT coalesce((SELECT p.to_state FROM return_events p
        WHERE p.merchant_id = e.merchant_id AND p.return_id = e.return_id AND p.at <= e.sent_at
        ORDER BY p.at DESC, p.id DESC LIMIT 1),
    (SELECT r.state FROM returns r WHERE r.merchant_id = e.merchant_id AND r.id = e.return_id)) AS state) s
WHERE e.timeline_note IS NOT NULL AND e.sent_at IS NOT NULL
ORDER BY e.sent_at, e.id;
ALTER TABLE email_messages DROP COLUMN timeline_note;
