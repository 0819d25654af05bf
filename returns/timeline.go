package returns

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// TimelineEntry is one step in a return's timeline.
type TimelineEntry struct {
	At    time.Time `json:"at" db:"at"`
	Actor string    `json:"actor" db:"actor" example:"shopper" doc:"Who did it: shopper, key:<id>, user:<name> or system."`
	Event string    `json:"event" db:"event" example:"approve"`
	From  *State    `json:"from,omitempty" db:"from_state" example:"requested"`
	To    State     `json:"to" db:"to_state" example:"approved"`
	Note  string    `json:"note,omitempty" db:"note" example:"Approved automatically by the return policy."`
}

// Events returns a return's timeline, oldest first: its entries in the order they
// were written, and the emails sent about it (their timeline_note, kept on the
// email's row since migration 30) each among them at the time it was sent, with the
// state the return had then.
func (s *Store) Events(ctx context.Context, merchantID, id int64) ([]TimelineEntry, error) {
	var rows []struct {
		TimelineEntry
		Email bool `db:"email"`
	}
	err := s.db.SelectContext(ctx, &rows, `SELECT at, actor, event, from_state, to_state, note, email FROM (
			SELECT id, at, actor, event, from_state, to_state, note, false AS email FROM return_events
				WHERE merchant_id = $1 AND return_id = $2
			UNION ALL
			SELECT id, sent_at, 'system', 'email', NULL, '', timeline_note, true FROM email_messages
				WHERE merchant_id = $1 AND return_id = $2 AND timeline_note IS NOT NULL AND sent_at IS NOT NULL) timeline
		ORDER BY email, CASE WHEN email THEN at END, id`, merchantID, id)
	if err != nil {
		return nil, fmt.Errorf("returns: events of %d: %w", id, err)
	}
	var written, emails []TimelineEntry
	for _, r := range rows {
		if r.Email {
			emails = append(emails, r.TimelineEntry)
		} else {
			written = append(written, r.TimelineEntry)
		}
	}
	return mergeEmails(written, emails), nil
}

// mergeEmails places each email entry (oldest first) before the first written entry
// that is later than it, with the state the return had then: the one the entry
// before it left (an email follows the entry that wrote it).
func mergeEmails(written, emails []TimelineEntry) []TimelineEntry {
	out := make([]TimelineEntry, 0, len(written)+len(emails))
	place := func(e TimelineEntry) {
		if len(out) > 0 {
			state := out[len(out)-1].To
			e.From, e.To = &state, state
		}
		out = append(out, e)
	}
	for _, w := range written {
		for len(emails) > 0 && emails[0].At.Before(w.At) {
			place(emails[0])
			emails = emails[1:]
		}
		out = append(out, w)
	}
	for _, e := range emails {
		place(e)
	}
	return out
}

func addEvent(ctx context.Context, tx sqlx.ExecerContext, merchantID, returnID int64, actor, event string, from *State, to State, note string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO return_events (merchant_id, return_id, actor, event, from_state, to_state, note)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, merchantID, returnID, actor, event, from, to, note)
	if err != nil {
		return fmt.Errorf("returns: event: %w", err)
	}
	return nil
}

// AddNote adds a timeline entry that changes no state, in the caller's transaction,
// without the return's row lock: for what happened outside the return (an email the
// mail server refused for good), so that recording it never waits for, or holds up,
// a change of the return. A sent email's line is kept on its own row instead (Events).
func AddNote(ctx context.Context, tx sqlx.ExtContext, merchantID, returnID int64, actor, event, note string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO return_events (merchant_id, return_id, actor, event, from_state, to_state, note)
		SELECT merchant_id, id, $3, $4, state, state, $5 FROM returns WHERE merchant_id = $1 AND id = $2`,
		merchantID, returnID, actor, event, note)
	if err != nil {
		return fmt.Errorf("returns: note on %d: %w", returnID, err)
	}
	return nil
}
