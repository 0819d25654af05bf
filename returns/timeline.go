package returns

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/roundtriphq/roundtrip/internal/db"
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

// Events returns a return's timeline, oldest first.
func (s *Store) Events(ctx context.Context, merchantID, id int64) ([]TimelineEntry, error) {
	events := []TimelineEntry{}
	err := s.db.SelectContext(ctx, &events, `SELECT at, actor, event, from_state, to_state, note FROM return_events
		WHERE merchant_id = $1 AND return_id = $2 ORDER BY id`, merchantID, id)
	if err != nil {
		return nil, fmt.Errorf("returns: events of %d: %w", id, err)
	}
	return events, nil
}

func addEvent(ctx context.Context, tx sqlx.ExecerContext, merchantID, returnID int64, actor, event string, from *State, to State, note string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO return_events (merchant_id, return_id, actor, event, from_state, to_state, note)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, merchantID, returnID, actor, event, from, to, note)
	if err != nil {
		return fmt.Errorf("returns: event: %w", err)
	}
	return nil
}

// AddNoteWith is AddNote written in one statement with the caller's own change of what
// happened (an email marked sent): with is the statement's WITH list of
// data-modifying CTEs on the caller's tables, whose parameters are args, numbered
// from $6.
func AddNoteWith(ctx context.Context, tx sqlx.ExtContext, merchantID, returnID int64, actor, event, note, with string, args ...any) error {
	_, err := tx.ExecContext(ctx, `WITH `+with+` INSERT INTO return_events (merchant_id, return_id, actor, event, from_state, to_state, note)
		SELECT merchant_id, id, $3, $4, state, state, $5 FROM returns WHERE merchant_id = $1 AND id = $2`,
		append([]any{merchantID, returnID, actor, event, note}, args...)...)
	if err != nil {
		return fmt.Errorf("returns: note on %d: %w", returnID, err)
	}
	return nil
}

// Note is one timeline entry of AddNotesWith.
type Note struct {
	MerchantID, ReturnID int64
	Actor, Event, Note   string
}

// AddNotesWith is AddNoteWith for several entries, of several returns, in one
// statement: with's parameters are numbered from $6.
func AddNotesWith(ctx context.Context, tx sqlx.ExtContext, notes []Note, with string, args ...any) error {
	if len(notes) == 0 {
		return nil
	}
	n := len(notes)
	merchants, ids := make([]int64, n), make([]int64, n)
	actors, events, texts := make([]string, n), make([]string, n), make([]string, n)
	for i, e := range notes {
		merchants[i], ids[i], actors[i], events[i], texts[i] = e.MerchantID, e.ReturnID, e.Actor, e.Event, e.Note
	}
	q := `INSERT INTO return_events (merchant_id, return_id, actor, event, from_state, to_state, note)
		SELECT r.merchant_id, r.id, e.actor, e.event, r.state, r.state, e.note
		FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[]) WITH ORDINALITY AS e(merchant_id, return_id, actor, event, note, i)
		JOIN returns r ON r.merchant_id = e.merchant_id AND r.id = e.return_id ORDER BY e.i`
	if with != "" {
		q = `WITH ` + with + ` ` + q
	}
	_, err := tx.ExecContext(ctx, q, append([]any{db.Array(merchants), db.Array(ids), db.Array(actors), db.Array(events), db.Array(texts)}, args...)...)
	if err != nil {
		return fmt.Errorf("returns: notes on %v: %w", ids, err)
	}
	return nil
}

// AddNote adds a timeline entry that changes no state, in the caller's transaction,
// without the return's row lock: for what happened outside the return (an email was
// sent), so that recording it never waits for, or holds up, a change of the return.
func AddNote(ctx context.Context, tx sqlx.ExtContext, merchantID, returnID int64, actor, event, note string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO return_events (merchant_id, return_id, actor, event, from_state, to_state, note)
		SELECT merchant_id, id, $3, $4, state, state, $5 FROM returns WHERE merchant_id = $1 AND id = $2`,
		merchantID, returnID, actor, event, note)
	if err != nil {
		return fmt.Errorf("returns: note on %d: %w", returnID, err)
	}
	return nil
}
