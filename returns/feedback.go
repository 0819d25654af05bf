package returns

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"

	"github.com/roundtriphq/roundtrip/internal/validation"
)

// MaxFeedbackComment bounds a feedback comment, in characters.
const MaxFeedbackComment = 2000

// Feedback is the shopper's answer after a completed return: how easy the return
// was and what they want to say. A return has at most one; a second answer
// replaces the first.
type Feedback struct {
	ReturnID  string    `json:"return_id" db:"return_public_id" example:"ret_5kq2m9x4c8v1b7n3z6p0r4t2wd" doc:"The return's ID."`
	RMA       string    `json:"rma" db:"rma" example:"R-7KQ4-M2XD"`
	Ease      int       `json:"ease" db:"ease" minimum:"1" maximum:"5" example:"4" doc:"How easy the return was, from 1 (very hard) to 5 (very easy)."`
	Comment   string    `json:"comment" db:"comment" example:"The label printed fine; the refund was quick." doc:"What the shopper wrote, or empty."`
	CreatedAt time.Time `json:"created_at" db:"created_at" doc:"When the shopper first answered."`
	UpdatedAt time.Time `json:"updated_at" db:"updated_at" doc:"When the shopper last changed the answer."`
}

// FeedbackError is feedback for a return that is not completed yet.
type FeedbackError struct {
	State State
}

func (e *FeedbackError) Error() string {
	return fmt.Sprintf("returns: feedback is asked for after a return is completed; this one is %s", e.State)
}

// ValidateFeedback names what is wrong with an answer, under prefix ("body").
func ValidateFeedback(prefix string, ease int, comment string) error {
	var v validation.Error
	if ease < 1 || ease > 5 {
		v.AddValue(prefix+".ease", ease, "must be a whole number from 1 to 5")
	}
	validation.NoNUL(prefix+".comment", comment, &v)
	if utf8.RuneCountInString(comment) > MaxFeedbackComment {
		v.Add(prefix+".comment", "must be at most %d characters", MaxFeedbackComment)
	}
	return v.Err()
}

// SetFeedback stores the shopper's answer for a completed return, replacing an
// earlier one, notes it on the timeline and tells the Notifier (feedback.received),
// all in one transaction.
func (s *Store) SetFeedback(ctx context.Context, merchantID, returnID int64, ease int, comment string) (Feedback, error) {
	comment = strings.TrimSpace(comment)
	if err := ValidateFeedback("body", ease, comment); err != nil {
		return Feedback{}, err
	}
	var f Feedback
	_, err := s.Update(ctx, merchantID, returnID, func(ctx context.Context, t *Tx) error {
		r := t.Return
		if r.State != StateCompleted {
			return &FeedbackError{State: r.State}
		}
		err := t.GetContext(ctx, &f, `INSERT INTO return_feedback (merchant_id, return_id, ease, comment)
			VALUES ($1, $2, $3, $4)
			ON CONFLICT (merchant_id, return_id) DO UPDATE SET ease = excluded.ease, comment = excluded.comment, updated_at = now()
			RETURNING (SELECT r.public_id FROM returns r WHERE r.id = return_id) AS return_public_id, ease, comment,
				created_at, updated_at`, merchantID, returnID, ease, comment)
		if err != nil {
			return fmt.Errorf("returns: feedback of %d: %w", returnID, err)
		}
		f.RMA = r.RMA
		r.Feedback = &f
		if err := t.Note(ctx, "shopper", "feedback", fmt.Sprintf("Feedback: %d of 5 for ease.", ease)); err != nil {
			return err
		}
		if s.effects.Notifier != nil {
			return s.effects.Notifier.FeedbackReceived(ctx, t, f)
		}
		return nil
	})
	return f, err
}

// feedbackOf reads a return's feedback; nil when the shopper has not answered.
func feedbackOf(ctx context.Context, q sqlx.QueryerContext, r *Return) (*Feedback, error) {
	var f Feedback
	err := sqlx.GetContext(ctx, q, &f, `SELECT r.public_id AS return_public_id, f.ease, f.comment, f.created_at, f.updated_at
		FROM return_feedback f JOIN returns r ON r.id = f.return_id WHERE f.merchant_id = $1 AND f.return_id = $2`, r.MerchantID, r.ID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("returns: feedback of %d: %w", r.ID, err)
	}
	f.RMA = r.RMA
	return &f, nil
}
