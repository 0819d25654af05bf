package refunds

import (
	"context"
	"fmt"
	"strings"

	"github.com/roundtriphq/roundtrip/internal/money"
	"github.com/roundtriphq/roundtrip/internal/validation"
	"github.com/roundtriphq/roundtrip/notify"
	"github.com/roundtriphq/roundtrip/returns"
)

// SettleAs is how a failed refund is settled instead of through Stripe.
type SettleAs string

// The ways of settling a failed refund.
const (
	// SettleStoreCredit: the shopper gets store credit of the refund's amount.
	SettleStoreCredit SettleAs = "store_credit"
	// SettleOutside: the shop paid the money back outside Roundtrip (a bank
	// transfer, cash); the note says how.
	SettleOutside SettleAs = "outside"
)

// NotSettleableError is a settlement of a refund that is not failed, or that was
// settled already.
type NotSettleableError struct {
	Status   Status
	ClosedAs SettleAs // set when it was settled already
}

func (e *NotSettleableError) Error() string {
	if e.ClosedAs != "" {
		return "refunds: the refund was already settled as " + string(e.ClosedAs)
	}
	return "refunds: only failed refunds can be settled; this one is " + string(e.Status)
}

// Settle closes a failed refund another way, so that a refund Stripe refuses is
// never a dead end: as store credit of its amount for the shopper, or as refunded
// outside Roundtrip (note says how; it is required). The refund keeps Stripe's
// status (failed); the ledger records the settlement (refund_to_store_credit with the
// credit's store_credit_issued, or refund_outside) in the same transaction, and the
// return moves on: with nothing else failed or in flight, it completes.
func (s *Service) Settle(ctx context.Context, merchantID, id int64, as SettleAs, note, actor string) (*Refund, error) {
	note = strings.TrimSpace(note)
	var v validation.Error
	switch as {
	case SettleStoreCredit, SettleOutside:
	default:
		v.AddValue("as", string(as), "must be store_credit or outside")
	}
	if as == SettleOutside && note == "" {
		v.Add("note", "say how the money was paid back (a bank transfer and its reference, say)")
	}
	if len([]rune(note)) > 1000 {
		v.Add("note", "must be at most 1000 characters")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	f, err := lock(ctx, tx, id)
	if err != nil || f.MerchantID != merchantID {
		return nil, ErrNotFound
	}
	if f.Status != StatusFailed || f.ClosedAs != nil {
		e := &NotSettleableError{Status: f.Status}
		if f.ClosedAs != nil {
			e.ClosedAs = SettleAs(*f.ClosedAs)
		}
		return nil, e
	}
	t, err := s.returns.Lock(ctx, tx, merchantID, f.ReturnID)
	if err != nil {
		return nil, err
	}
	r := t.Return
	amount := money.Format(f.Amount, f.Currency)
	var said string
	switch as {
	case SettleStoreCredit:
		pol, err := t.Policy(ctx)
		if err != nil {
			return nil, err
		}
		c, err := credit(ctx, tx, r, f.Amount, 0, pol.StoreCreditExpiryDays)
		if err != nil {
			return nil, err
		}
		if err := s.publish(ctx, tx, merchantID, notify.StoreCreditIssued, CreditIssued{
			Email: r.CustomerEmail, Currency: r.Currency, Amount: f.Amount, ReturnID: r.ID, ReturnPublicID: r.PublicID, RMA: r.RMA,
			CreditID: c.PublicID, Code: c.Code, ExpiresAt: c.ExpiresAt,
		}); err != nil {
			return nil, err
		}
		said = fmt.Sprintf("The refund of %s could not be sent to the original payment; store credit of %s was issued to %s instead.",
			amount, amount, r.CustomerEmail)
	case SettleOutside:
		said = fmt.Sprintf("The refund of %s could not be sent to the original payment; the shop paid it back another way.", amount)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE refunds SET closed_as = $2, closed_note = $3, closed_by = $4, closed_at = now(),
		updated_at = now() WHERE id = $1`, f.ID, string(as), note, actor); err != nil {
		return nil, fmt.Errorf("refunds: settle %d: %w", f.ID, err)
	}
	// the timeline says what the shopper may read; finance's note stays with the
	// refund and the ledger
	if _, err := returns.Next(r.State, returns.EventSettleRefund); err == nil {
		if err := t.Transition(ctx, returns.EventSettleRefund, actor, said); err != nil {
			return nil, err
		}
	} else if err := t.Note(ctx, actor, string(returns.EventSettleRefund), said); err != nil {
		return nil, err
	}
	if err := s.settle(ctx, t, actor); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return Get(ctx, s.db, merchantID, id)
}
