// Package receiving is the warehouse's side of a return: scanning a parcel's RMA or
// tracking number as it arrives, and recording per item what arrived, in which
// condition and where it goes. A receipt moves the return on (partially received,
// received) and hands the accepted units to the returns store's Resolver
// (returns.Tx.Resolve), which issues the refund or store credit in the same
// transaction. It writes only receipts; the items go through returns.Tx and the
// parcels' arrival through labels (Parcels).
package receiving

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/jmoiron/sqlx"

	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/internal/db"
	"github.com/roundtriphq/roundtrip/internal/outbox"
	"github.com/roundtriphq/roundtrip/internal/validation"
	"github.com/roundtriphq/roundtrip/returns"
)

// Condition is the state an item arrived in.
type Condition string

// The conditions. wrong_item and missing units are rejected and not refunded.
const (
	ConditionNew       Condition = "new"
	ConditionLikeNew   Condition = "like_new"
	ConditionUsed      Condition = "used"
	ConditionDamaged   Condition = "damaged"
	ConditionWrongItem Condition = "wrong_item"
	ConditionMissing   Condition = "missing"
)

// Accepted reports whether units in this condition are accepted (and refunded).
func (c Condition) Accepted() bool { return c != ConditionWrongItem && c != ConditionMissing }

// Disposition is what happens to received units.
type Disposition string

// The dispositions.
const (
	DispositionRestock    Disposition = "restock"
	DispositionResaleHold Disposition = "resale_hold"
	DispositionRefurbish  Disposition = "refurbish"
	DispositionRecycle    Disposition = "recycle"
	DispositionDispose    Disposition = "dispose"
)

// ErrUnknownCode means a scanned code matches no return or parcel of the merchant;
// Scan answers it as an *UnknownCodeError, which names the code.
var ErrUnknownCode = errors.New("receiving: unknown code")

// UnknownCodeError is a scanned code that matches no return or parcel of the merchant.
type UnknownCodeError struct{ Code string }

func (e *UnknownCodeError) Error() string        { return fmt.Sprintf("receiving: unknown code %q", e.Code) }
func (e *UnknownCodeError) Is(target error) bool { return target == ErrUnknownCode }

// ClosedError is a scan or receipt for a return that can no longer receive parcels.
type ClosedError struct {
	RMA   string
	State returns.State
}

func (e *ClosedError) Error() string {
	return fmt.Sprintf("receiving: return %s is %s", e.RMA, e.State)
}

// closed lists the states in which nothing can be received.
func closed(s returns.State) bool {
	switch s {
	case returns.StateCancelled, returns.StateRejected, returns.StateExpired, returns.StateRequested, returns.StateCompleted:
		return true
	}
	return false
}

// Parcels are the labelled parcels of returns (labels.Service implements it): a scan
// finds a parcel by its tracking number and records its arrival; a receipt names its
// parcel.
type Parcels interface {
	// ParcelByTracking finds the merchant's parcel with a tracking number and the
	// return it belongs to, or ErrNoParcel.
	ParcelByTracking(ctx context.Context, merchantID int64, tracking string) (returnID int64, p Parcel, err error)
	// ArriveIssued lists the return's parcels whose labels may be used, by number, as
	// they were before the scan at, and records the arrival of the only one when there
	// is exactly one and it had not arrived yet.
	ArriveIssued(ctx context.Context, q sqlx.QueryerContext, r *returns.Return, at time.Time, with ...outbox.Part) ([]Parcel, error)
	// ParcelNumbered finds the return's parcel with a number, or ErrNoParcel.
	ParcelNumbered(ctx context.Context, q sqlx.QueryerContext, r *returns.Return, n int) (Parcel, error)
	// MarkArrived records that the warehouse scanned a parcel.
	MarkArrived(ctx context.Context, x sqlx.ExecerContext, parcelID int64, at time.Time) error
}

// ErrNoParcel means no parcel has that tracking number, or the return has no parcel
// with that number.
var ErrNoParcel = errors.New("receiving: no such parcel")

// Service records scans and receipts. A receipt hands the units it accepted to the
// returns store's Resolver (returns.Tx.Resolve), which issues the refund or store
// credit in the receipt's transaction.
type Service struct {
	returns *returns.Store
	parcels Parcels
	now     func() time.Time
}

// New returns a Service.
func New(store *returns.Store, parcels Parcels) *Service {
	return &Service{returns: store, parcels: parcels, now: time.Now}
}

// NormalizeCode turns what a scanner or a person typed into the code to look up: it
// drops AIM symbology prefixes (]C0, ]Q1), Code 39 asterisks, spaces, dashes and case.
func NormalizeCode(s string) string {
	s = strings.TrimSpace(s)
	if len(s) >= 3 && s[0] == ']' {
		s = s[3:]
	}
	var b strings.Builder
	for _, r := range strings.Trim(strings.TrimSpace(s), "*") {
		if unicode.IsSpace(r) || unicode.Is(unicode.Pd, r) || unicode.IsControl(r) {
			continue
		}
		b.WriteRune(unicode.ToUpper(r))
	}
	return b.String()
}

// Parcel is one labelled parcel of a return.
type Parcel struct {
	Number         int        `json:"number" db:"number" example:"1"`
	TrackingNumber string     `json:"tracking_number" db:"tracking_number" example:"RR123456785GB"`
	Carrier        string     `json:"carrier" db:"carrier" example:"own"`
	ArrivedAt      *time.Time `json:"arrived_at,omitempty" db:"arrived_at"`
	ID             int64      `json:"-" db:"id"`
}

// Expected is an item the warehouse should find in the parcel.
type Expected struct {
	LineID   string `json:"line_id" example:"line-1"`
	SKU      string `json:"sku" example:"TEE-BLK-M"`
	Name     string `json:"name" example:"Black T-shirt, M"`
	Quantity int    `json:"quantity" example:"1" doc:"Units still expected."`
	Reason   string `json:"reason" example:"too_small"`
}

// Scan is what a scan found.
type Scan struct {
	Repeat   bool            `json:"repeat" doc:"True when this parcel was scanned before: nothing new was recorded."`
	Message  string          `json:"message" example:"Parcel 1 of return R-7KQ4-M2XD: 2 items expected." doc:"What to tell the person at the scan station."`
	Parcel   *Parcel         `json:"parcel,omitempty" doc:"The parcel, when the code was its tracking number (or the return has one parcel)."`
	Expected []Expected      `json:"expected" doc:"Items still expected for the return."`
	Return   *returns.Return `json:"return"`
}

// Scan records a parcel's arrival by RMA or tracking number. A second scan of the
// same parcel answers the same result marked as a repeat.
func (s *Service) Scan(ctx context.Context, merchantID int64, code string) (*Scan, error) {
	norm := NormalizeCode(code)
	if norm == "" {
		return nil, &UnknownCodeError{Code: code}
	}
	var parcel *Parcel
	var update func(fn func(context.Context, *returns.Tx) error) (*returns.Return, error)
	rma, byRMA := returns.ParseRMA(norm)
	if byRMA {
		// found and locked in one statement
		update = func(fn func(context.Context, *returns.Tx) error) (*returns.Return, error) {
			return s.returns.UpdateByRMA(ctx, merchantID, rma, fn)
		}
	} else {
		rid, p, err := s.parcels.ParcelByTracking(ctx, merchantID, norm)
		if errors.Is(err, ErrNoParcel) {
			return nil, &UnknownCodeError{Code: code}
		}
		if err != nil {
			return nil, fmt.Errorf("receiving: scan lookup: %w", err)
		}
		parcel = &p
		update = func(fn func(context.Context, *returns.Tx) error) (*returns.Return, error) {
			return s.returns.Update(ctx, merchantID, rid, fn)
		}
	}
	var out *Scan
	_, err := update(func(ctx context.Context, t *returns.Tx) error {
		r := t.Return
		if closed(r.State) {
			return &ClosedError{RMA: r.RMA, State: r.State}
		}
		now := s.now()
		out = &Scan{Return: r, Parcel: parcel}
		arrivedBefore := t.ArrivedAt() != nil
		switch {
		case byRMA:
			// the return's parcels, the arrival of its only one and the return's
			// first arrival, in one statement
			issued, err := s.parcels.ArriveIssued(ctx, t.Tx, r, now, t.Arrival(now)...)
			if err != nil {
				return err
			}
			out.Repeat = arrivedBefore
			if len(issued) == 1 {
				out.Parcel = &issued[0]
				out.Repeat = out.Parcel.ArrivedAt != nil
				if !out.Repeat {
					out.Parcel.ArrivedAt = &now
				}
			}
		case out.Parcel != nil:
			out.Repeat = out.Parcel.ArrivedAt != nil
			if !out.Repeat {
				if err := s.parcels.MarkArrived(ctx, t.Tx, out.Parcel.ID, now); err != nil {
					return err
				}
				out.Parcel.ArrivedAt = &now
				if err := t.MarkArrived(ctx, now); err != nil {
					return err
				}
			}
		default:
			out.Repeat = arrivedBefore
			if err := t.MarkArrived(ctx, now); err != nil {
				return err
			}
		}
		out.Expected, out.Message = expected(r, out)
		return nil
	})
	if byRMA && errors.Is(err, returns.ErrNotFound) {
		return nil, &UnknownCodeError{Code: code}
	}
	return out, err
}

// expected lists the items still expected of r and says what the scan found.
func expected(r *returns.Return, out *Scan) ([]Expected, string) {
	list := []Expected{}
	units := 0
	for _, it := range r.Items {
		if left := it.Quantity - it.Received; left > 0 {
			list = append(list, Expected{LineID: it.LineID, SKU: it.SKU, Name: it.Name, Quantity: left, Reason: string(it.Reason)})
			units += left
		}
	}
	what := "Return " + r.RMA
	if out.Parcel != nil {
		what = fmt.Sprintf("Parcel %d of return %s", out.Parcel.Number, r.RMA)
	}
	switch {
	case out.Repeat:
		return list, fmt.Sprintf("Already scanned: %s. %d item(s) still expected.", what, units)
	case units == 0:
		return list, fmt.Sprintf("%s: everything was already received.", what)
	}
	return list, fmt.Sprintf("%s: %d item(s) expected.", what, units)
}

// ReceivedLine is what arrived of one returned line.
type ReceivedLine struct {
	LineID      string      `json:"line_id" minLength:"1" maxLength:"255" example:"line-1"`
	Quantity    int         `json:"quantity" minimum:"0" maximum:"1000000" example:"1" doc:"Units recorded in this receipt."`
	Condition   Condition   `json:"condition" enum:"new,like_new,used,damaged,wrong_item,missing" example:"like_new" doc:"wrong_item and missing units are not refunded."`
	Disposition Disposition `json:"disposition" enum:"restock,resale_hold,refurbish,recycle,dispose" example:"restock"`
	Note        string      `json:"note,omitempty" maxLength:"1000" example:"Tags still on."`
}

// Unexpected is something in the parcel that the return did not list.
type Unexpected struct {
	Description string `json:"description" minLength:"1" maxLength:"500" example:"Blue scarf, not from this order"`
	Quantity    int    `json:"quantity" minimum:"1" maximum:"1000" example:"1"`
	Note        string `json:"note,omitempty" maxLength:"1000"`
}

// ReceiptInput is one receipt.
type ReceiptInput struct {
	Parcel     int            `json:"parcel,omitempty" minimum:"0" example:"1" doc:"The parcel these items came in, when known."`
	Items      []ReceivedLine `json:"items" maxItems:"1000"`
	Unexpected []Unexpected   `json:"unexpected,omitempty" maxItems:"100" doc:"Items in the parcel that the return did not list; recorded, not refunded."`
	Note       string         `json:"note,omitempty" maxLength:"1000" example:"Box crushed on one corner." doc:"About the parcel as a whole. Notes are for staff: they are kept with the receipt (GET /v1/returns/{id}/receipts), not shown to the shopper."`
}

// Receipt is a recorded receipt.
type Receipt struct {
	ID      string          `json:"id" example:"rcpt_6t9w2z5c8f1h4k7n0q3s6v9y2b"`
	Return  *returns.Return `json:"return"`
	Message string          `json:"message" example:"Received 2 item(s); the refund is on its way."`
}

// Receive records a receipt: under the return's row lock it checks every line against
// what is still expected (more than requested answers a validation error naming the
// field), updates the items, moves the return on and lets the Resolver issue the
// refund for the newly accepted units, all in one transaction.
//
// key is the request's Idempotency-Key (may be empty): a receipt posted again with the
// same key, after a crash lost the first answer, answers the first receipt instead of
// receiving the items twice.
func (s *Service) Receive(ctx context.Context, merchantID, returnID int64, in ReceiptInput, actor, key string) (*Receipt, error) {
	return s.receiveLocked(ctx, merchantID, key, func(fn func(context.Context, *returns.Tx) error) error {
		_, err := s.returns.UpdateReading(ctx, merchantID, returnID, receiptRead(key), fn)
		return err
	}, in, actor)
}

// ReceiveFor is Receive for the return that p names by its public ID or its RMA
// number, found and locked in one statement; the receipt is p's.
func (s *Service) ReceiveFor(ctx context.Context, p auth.Principal, idOrRMA string, in ReceiptInput, key string) (*Receipt, error) {
	return s.receiveLocked(ctx, p.MerchantID, key, func(fn func(context.Context, *returns.Tx) error) error {
		_, err := s.returns.UpdateForReading(ctx, p, idOrRMA, receiptRead(key), fn)
		return err
	}, in, p.Actor)
}

// receiveLocked records the receipt in the change update makes (with receiptRead on
// its lock), and answers the receipt recorded with key when the insert met it.
func (s *Service) receiveLocked(ctx context.Context, merchantID int64, key string,
	update func(fn func(context.Context, *returns.Tx) error) error, in ReceiptInput, actor string) (*Receipt, error) {
	var out *Receipt
	var returnID int64
	err := update(func(ctx context.Context, t *returns.Tx) error {
		returnID = t.Return.ID
		var err error
		out, err = s.receive(ctx, t, in, actor, key)
		return err
	})
	if err != nil && key != "" && db.IsUniqueViolation(err, receiptKeyConstraint) {
		return s.recorded(ctx, merchantID, returnID, key)
	}
	return out, err
}

// receiptKeyConstraint is the receipts' unique key on (return_id, idempotency_key).
const receiptKeyConstraint = "receipts_return_id_idempotency_key_key"

// alreadyRecorded is the message of a receipt answered again for its key.
const alreadyRecorded = "This receipt was already recorded."

// receiptRead rides on the statement that locks the return of a receipt: the receipt
// recorded already with the request's key, if any (a retry after a crash lost the
// first answer), and the keys of the receipt to record, drawn once. A receipt with
// the key that another transaction committed while this one waited for the lock is
// not in the statement's snapshot: its insert then fails on the key (Receive answers
// that receipt), or a refusal before it looks again (receive).
func receiptRead(key string) returns.LockRead {
	return returns.LockRead{Expr: `json_build_object(
		'prior', (SELECT x.public_id FROM receipts x WHERE x.return_id = r.id AND x.idempotency_key = nullif($1::text, '')),
		'next', (SELECT json_build_object('id', nextval('receipts_id_seq'), 'public_id', new_public_id('rcpt'))))`,
		Args: []any{key}}
}

// recorded answers the receipt recorded with key for a return, read afresh.
func (s *Service) recorded(ctx context.Context, merchantID, returnID int64, key string) (*Receipt, error) {
	id, err := receiptByKey(ctx, s.returns.DB(), returnID, key)
	if err != nil {
		return nil, err
	}
	r, err := s.returns.Get(ctx, merchantID, returnID)
	if err != nil {
		return nil, err
	}
	return &Receipt{ID: id, Return: r, Message: alreadyRecorded}, nil
}

// receiptByKey is the public ID of a return's receipt recorded with key
// (sql.ErrNoRows: none).
func receiptByKey(ctx context.Context, q sqlx.QueryerContext, returnID int64, key string) (string, error) {
	var id string
	err := sqlx.GetContext(ctx, q, &id, `SELECT public_id FROM receipts WHERE return_id = $1 AND idempotency_key = $2`, returnID, key)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("receiving: receipt by key: %w", err)
	}
	return id, err
}

func (s *Service) receive(ctx context.Context, t *returns.Tx, in ReceiptInput, actor, key string) (*Receipt, error) {
	r := t.Return
	raw, ok := t.LockRead()
	if !ok {
		return nil, errors.New("receiving: the receipt's keys were not read with the lock")
	}
	var read struct {
		Prior *string `json:"prior"`
		Next  struct {
			ID       int64  `json:"id"`
			PublicID string `json:"public_id"`
		} `json:"next"`
	}
	if err := json.Unmarshal([]byte(raw), &read); err != nil {
		return nil, fmt.Errorf("receiving: the receipt's keys: %w", err)
	}
	if read.Prior != nil {
		return &Receipt{ID: *read.Prior, Return: r, Message: alreadyRecorded}, nil
	}
	// a refusal of a receipt posted again with its key, recorded by a transaction
	// that committed while this one waited for the lock (receiptRead), answers that
	// receipt instead
	refuse := func(err error) (*Receipt, error) {
		if key == "" {
			return nil, err
		}
		switch id, e := receiptByKey(ctx, t, r.ID, key); {
		case e == nil:
			return &Receipt{ID: id, Return: r, Message: alreadyRecorded}, nil
		case errors.Is(e, sql.ErrNoRows):
			return nil, err
		default:
			return nil, e
		}
	}
	var parcelID *int64
	noParcel := false
	if in.Parcel > 0 {
		p, err := s.parcels.ParcelNumbered(ctx, t.Tx, r, in.Parcel)
		switch {
		case errors.Is(err, ErrNoParcel):
			noParcel = true // answered below, after what is checked first
		case err != nil:
			return nil, err
		default:
			parcelID = &p.ID
		}
	}
	data, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	if closed(r.State) {
		return refuse(&ClosedError{RMA: r.RMA, State: r.State})
	}
	var v validation.Error
	if len(in.Items) == 0 && len(in.Unexpected) == 0 && strings.TrimSpace(in.Note) == "" {
		v.Add("items", "must list at least one item (or an unexpected one, or a note)")
	}
	byLine := map[string]int{}
	for i, it := range r.Items {
		byLine[it.LineID] = i
	}
	after := map[string]int{}
	for _, it := range r.Items {
		after[it.LineID] = it.Accepted
	}
	seen := map[string]bool{}
	adding := map[string]int{}
	for i, l := range in.Items {
		p := fmt.Sprintf("items[%d].", i)
		idx, ok := byLine[l.LineID]
		switch {
		case !ok:
			v.AddValue(p+"line_id", l.LineID, "is not an item of return %s; record it under unexpected", r.RMA)
			continue
		case seen[l.LineID]:
			v.AddValue(p+"line_id", l.LineID, "is listed twice")
			continue
		}
		seen[l.LineID] = true
		it := r.Items[idx]
		if left := it.Quantity - it.Received; l.Quantity > left {
			v.AddValue(p+"quantity", l.Quantity, "is more than the %d unit(s) still expected of %s", left, it.Name)
		}
		adding[l.LineID] = l.Quantity
	}
	if err := v.Err(); err != nil {
		return refuse(err)
	}
	if noParcel {
		v.AddValue("parcel", in.Parcel, "return %s has no parcel %d", r.RMA, in.Parcel)
		return refuse(&v)
	}
	receipt := read.Next
	var notes []string
	var items []returns.ItemReceipt
	for _, l := range in.Items {
		if l.Quantity == 0 {
			continue
		}
		acc, rej := l.Quantity, 0
		if !l.Condition.Accepted() {
			acc, rej = 0, l.Quantity
			notes = append(notes, fmt.Sprintf("%d × %s recorded as %s: not refunded.", l.Quantity, r.Items[byLine[l.LineID]].Name, strings.ReplaceAll(string(l.Condition), "_", " ")))
		}
		after[l.LineID] += acc
		items = append(items, returns.ItemReceipt{LineID: l.LineID, Received: l.Quantity, Accepted: acc, Rejected: rej,
			Condition: string(l.Condition), Disposition: string(l.Disposition)})
	}
	if err := t.Receive(ctx, items...); err != nil {
		return nil, err
	}
	// the receipt is written with the change's next write (the refund's statement,
	// when the receipt issues one), with the keys the lock statement drew
	t.Defer(outbox.Part{With: `receipt_new AS (INSERT INTO receipts (id, public_id, merchant_id, return_id, parcel_id, actor, data,
			idempotency_key, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, nullif($8::text, ''), $9))`,
		Args: []any{receipt.ID, receipt.PublicID, r.MerchantID, r.ID, parcelID, actor, data, key, t.Now()}})
	for _, u := range in.Unexpected {
		notes = append(notes, fmt.Sprintf("Unexpected: %d × %s.", u.Quantity, strings.TrimSpace(u.Description)))
	}
	all := true
	units := 0
	for _, it := range r.Items {
		if it.Received+adding[it.LineID] < it.Quantity {
			all = false
		}
		units += adding[it.LineID]
	}
	ev := returns.EventReceivePartial
	if all {
		ev = returns.EventReceiveAll
	}
	note := fmt.Sprintf("Received %d item(s).", units)
	if len(notes) > 0 {
		note += " " + strings.Join(notes, " ")
	}
	if units > 0 || all {
		// the resolution below writes the receipt's change with its own first write
		if err := t.TransitionResolving(ctx, ev, actor, note); err != nil {
			return nil, err
		}
	}
	// t.Return is the return as this receipt left it (Receive and Transition keep
	// it as the database has it), and as the resolver leaves it
	if err := t.Resolve(ctx, receipt.ID, after, actor); err != nil {
		return nil, err
	}
	return &Receipt{ID: receipt.PublicID, Return: t.Return, Message: note}, nil
}

// RecordedReceipt is a receipt as it was recorded: who, when, and what they entered,
// notes and unexpected items included.
type RecordedReceipt struct {
	ID     string       `json:"id" example:"rcpt_4c7f0j3m6q9t2w5z8b1e4h7k0n"`
	At     time.Time    `json:"at"`
	Actor  string       `json:"actor" example:"user:ana"`
	Parcel int          `json:"parcel,omitempty" example:"1" doc:"The parcel's number, when the receipt named one."`
	Input  ReceiptInput `json:"recorded" doc:"What was entered: items with condition, disposition and note, unexpected items, the parcel's note."`
}

// Receipts lists the receipts of a merchant's return, oldest first.
func Receipts(ctx context.Context, q sqlx.QueryerContext, merchantID, returnID int64) ([]RecordedReceipt, error) {
	var rows []struct {
		ID     string    `db:"public_id"`
		At     time.Time `db:"created_at"`
		Actor  string    `db:"actor"`
		Parcel *int      `db:"parcel"`
		Data   []byte    `db:"data"`
	}
	err := sqlx.SelectContext(ctx, q, &rows, `SELECT c.public_id, c.created_at, c.actor, p.number AS parcel, c.data
		FROM receipts c LEFT JOIN parcels p ON p.id = c.parcel_id
		WHERE c.merchant_id = $1 AND c.return_id = $2 ORDER BY c.id`, merchantID, returnID)
	if err != nil {
		return nil, fmt.Errorf("receiving: receipts of %d: %w", returnID, err)
	}
	out := make([]RecordedReceipt, 0, len(rows))
	for _, r := range rows {
		rc := RecordedReceipt{ID: r.ID, At: r.At, Actor: r.Actor}
		if r.Parcel != nil {
			rc.Parcel = *r.Parcel
		}
		if err := json.Unmarshal(r.Data, &rc.Input); err != nil {
			return nil, fmt.Errorf("receiving: receipt %s: %w", r.ID, err)
		}
		out = append(out, rc)
	}
	return out, nil
}
