package email

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/roundtriphq/roundtrip/internal/outbox"
)

// JobReminders is the periodic job that writes label reminders.
const JobReminders = "email.label_reminders"

// ReminderLead is how long before a label expires its reminder is written.
const ReminderLead = "2 days"

// Remind writes, in tx, the label reminder of every approved return whose labels all
// expire within ReminderLead while none of its parcels moved or arrived; once per
// return. It runs hourly (Jobs).
func (s *Service) Remind(ctx context.Context, tx *sqlx.Tx) error {
	if !s.Enabled() {
		return nil
	}
	type due struct {
		MerchantID int64 `db:"merchant_id"`
		ID         int64 `db:"id"`
	}
	var list []due
	err := tx.SelectContext(ctx, &list, `SELECT r.merchant_id, r.id FROM returns r
		WHERE r.state = 'approved' AND NOT r.keep_it AND r.arrived_at IS NULL
		AND EXISTS (SELECT 1 FROM parcels p WHERE p.return_id = r.id AND p.status = 'issued'
			AND p.valid_until > now() AND p.valid_until <= now() + $1::interval)
		AND NOT EXISTS (SELECT 1 FROM parcels p WHERE p.return_id = r.id
			AND (p.moved_at IS NOT NULL OR p.arrived_at IS NOT NULL
			OR (p.status = 'issued' AND p.valid_until > now() + $1::interval)))
		AND NOT EXISTS (SELECT 1 FROM email_messages e WHERE e.merchant_id = r.merchant_id AND e.return_id = r.id AND e.kind = $2)
		ORDER BY r.id LIMIT 1000`, ReminderLead, KindLabelReminder)
	if err != nil {
		return fmt.Errorf("email: due reminders: %w", err)
	}
	for _, d := range list {
		var id int64
		err := tx.GetContext(ctx, &id, `INSERT INTO email_messages (merchant_id, return_id, kind) VALUES ($1, $2, $3)
			ON CONFLICT (merchant_id, return_id, kind, ref) DO NOTHING RETURNING id`, d.MerchantID, d.ID, KindLabelReminder)
		if isNoRows(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("email: reminder of %d: %w", d.ID, err)
		}
		if _, err := outbox.Enqueue(ctx, tx, outbox.Message{MerchantID: d.MerchantID, Kind: JobSend, Payload: sendJob{ID: id}, MaxAttempts: 100}); err != nil {
			return err
		}
	}
	return nil
}
