package returns

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/roundtriphq/roundtrip/internal/cursor"
	"github.com/roundtriphq/roundtrip/internal/db"
)

// ErrNotFound means no such order or return for this merchant (or this shopper).
var ErrNotFound = errors.New("returns: not found")

// NotEligibleError is a return that cannot be created as asked; Quote says why.
type NotEligibleError struct {
	Quote QuoteResult
}

func (e *NotEligibleError) Error() string { return "returns: the return is not eligible" }

// OrderRecord is an order as stored.
type OrderRecord struct {
	ID        int64
	Number    string
	Order     Order
	Revision  int
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Return is a return as stored.
type Return struct {
	PublicID      string      `json:"id" example:"ret_5kq2m9x4c8v1b7n3z6p0r4t2wd" doc:"The return's ID."`
	RMA           string      `json:"rma" example:"R-7KQ4-M2XD" doc:"Return number to quote on the phone and on the parcel."`
	OrderNumber   string      `json:"order_number" example:"NW-10023"`
	State         State       `json:"state" example:"approved" doc:"Where the return stands: requested, approved, in_transit, partially_received, received, resolving, completed, refund_failed, rejected, cancelled or expired."`
	Resolution    Resolution  `json:"resolution" example:"refund"`
	Currency      string      `json:"currency" example:"EUR"`
	Total         int64       `json:"total" example:"4255" doc:"What the shopper gets back according to the quote, in minor units."`
	KeepIt        bool        `json:"keep_it" doc:"True for a returnless refund: nothing is sent back."`
	PolicyVersion int         `json:"policy_version" example:"3" doc:"The policy version the return was judged by."`
	CustomerEmail string      `json:"customer_email" example:"ada@example.com"`
	RejectReason  string      `json:"reject_reason,omitempty"`
	Items         []Item      `json:"items"`
	Quote         QuoteResult `json:"quote" doc:"The quote the shopper saw when the return was created."`
	Feedback      *Feedback   `json:"feedback,omitempty" doc:"The shopper's feedback after completion, when they gave it."`
	CreatedAt     time.Time   `json:"created_at"`
	UpdatedAt     time.Time   `json:"updated_at"`

	// ID is the internal key; the API and the pages name a return by PublicID or RMA.
	ID         int64 `json:"-"`
	MerchantID int64 `json:"-"`
	OrderID    int64 `json:"-"`
}

// Item is one order line in a return with what happened to its units.
type Item struct {
	LineID      string     `json:"line_id" db:"line_id" example:"line-1"`
	SKU         string     `json:"sku" db:"sku" example:"TEE-BLK-M"`
	Name        string     `json:"name" db:"name" example:"Black T-shirt, M"`
	Quantity    int        `json:"quantity" db:"quantity" example:"1" doc:"Units requested."`
	Received    int        `json:"received" db:"received" doc:"Units that arrived."`
	Accepted    int        `json:"accepted" db:"accepted" doc:"Units accepted at receipt or inspection."`
	Rejected    int        `json:"rejected" db:"rejected" doc:"Units rejected (wrong item, missing, not as stated)."`
	Reason      ReasonCode `json:"reason" db:"reason" example:"too_small"`
	Comment     string     `json:"comment,omitempty" db:"comment"`
	Condition   *string    `json:"condition,omitempty" db:"condition" doc:"Condition recorded at receipt: new, like_new, used, damaged, wrong_item or missing."`
	Disposition *string    `json:"disposition,omitempty" db:"disposition" doc:"What happens to the units: restock, resale_hold, refurbish, recycle or dispose."`
	Amount      int64      `json:"amount" db:"amount" doc:"The line's subtotal in the quote, minor units."`
}

// Store keeps orders, policies and returns in PostgreSQL. Every query filters on the
// merchant. What a return's changes set off in other domains is its Effects.
type Store struct {
	db      *sqlx.DB
	effects Effects
	now     func() time.Time
}

// DB is the store's database, for read-only queries of the packages that act on
// returns (the receipts a return has).
func (s *Store) DB() *sqlx.DB { return s.db }

// NewStore returns a store on d that sets off nothing until SetEffects.
func NewStore(d *sqlx.DB) *Store {
	return &Store{db: d, now: time.Now}
}

// CreateInput is a return as the shopper or staff asks for it.
type CreateInput struct {
	Items      []CreateItem
	Resolution Resolution
	// DifferenceAs is how an exchange pays back a cheaper replacement's difference:
	// refund (default) or store_credit.
	DifferenceAs Resolution
	Actor        string
	// IdempotencyKey, when set, makes a retry find the return made with it.
	IdempotencyKey string
}

// CreateItem is one line to return.
type CreateItem struct {
	QuoteItem
	Comment string
}

// QuoteFor prices a return of order against the merchant's current policy and the
// order's other returns.
func (s *Store) QuoteFor(ctx context.Context, merchantID int64, order OrderRecord, items []QuoteItem, res Resolution) (QuoteResult, Policy, error) {
	return s.QuoteAsked(ctx, merchantID, order, Ask{Items: items, Resolution: res})
}

// Ask is what a shopper asks a quote for.
type Ask struct {
	Items      []QuoteItem
	Resolution Resolution
	// DifferenceAs: see QuoteInput.
	DifferenceAs Resolution
}

// QuoteAsked prices a return of order as QuoteFor does, with the exchange's choices.
func (s *Store) QuoteAsked(ctx context.Context, merchantID int64, order OrderRecord, ask Ask) (QuoteResult, Policy, error) {
	pol, err := s.Policy(ctx, merchantID)
	if err != nil {
		return QuoteResult{}, Policy{}, err
	}
	q, err := s.quote(ctx, s.db, merchantID, pol, order, ask)
	return q, pol, err
}

// QuoteWith prices a return of order as QuoteFor does, against the policy pol
// instead of the current one: a policy being edited, before it is saved.
func (s *Store) QuoteWith(ctx context.Context, merchantID int64, pol Policy, order OrderRecord, items []QuoteItem, res Resolution) (QuoteResult, error) {
	return s.quote(ctx, s.db, merchantID, pol, order, Ask{Items: items, Resolution: res})
}

// quote reads what a quote depends on besides the order and the policy (the order's
// other returns, the variants asked in exchange) in q and prices the return.
func (s *Store) quote(ctx context.Context, q sqlx.QueryerContext, merchantID int64, pol Policy, order OrderRecord, ask Ask) (QuoteResult, error) {
	pr, _, err := prior(ctx, q, merchantID, order.ID)
	if err != nil {
		return QuoteResult{}, err
	}
	var skus []string
	for _, it := range ask.Items {
		if it.ExchangeSKU != "" {
			skus = append(skus, it.ExchangeSKU)
		}
	}
	cat, err := Variants(ctx, q, merchantID, skus)
	if err != nil {
		return QuoteResult{}, err
	}
	return Quote(QuoteInput{Order: order.Order, Policy: pol, Items: ask.Items, Resolution: ask.Resolution, Now: s.now(),
		Prior: pr, Catalogue: cat, DifferenceAs: ask.DifferenceAs}), nil
}

// Create makes a return for an order: it quotes it again inside a transaction that
// holds the order's row lock (so two returns of one order cannot take the same
// units), stores the quote, and approves it at once when the policy says so. A retry
// with the same idempotency key returns the first return.
func (s *Store) Create(ctx context.Context, merchantID int64, orderNumber string, in CreateInput) (*Return, error) {
	if in.IdempotencyKey != "" {
		if r, err := s.byIdempotencyKey(ctx, merchantID, in.IdempotencyKey); err == nil {
			return r, nil
		} else if !errors.Is(err, ErrNotFound) {
			return nil, err
		}
	}
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	var row orderRow
	err = tx.GetContext(ctx, &row, `SELECT `+orderCols+` FROM orders WHERE merchant_id = $1 AND number = $2 FOR UPDATE`, merchantID, orderNumber)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("returns: lock order: %w", err)
	}
	order, err := row.record()
	if err != nil {
		return nil, err
	}
	pol, err := policy(ctx, tx, merchantID)
	if err != nil {
		return nil, err
	}
	items := make([]QuoteItem, len(in.Items))
	for i, it := range in.Items {
		items[i] = it.QuoteItem
	}
	q, err := s.quote(ctx, tx, merchantID, pol, order, Ask{Items: items, Resolution: in.Resolution, DifferenceAs: in.DifferenceAs})
	if err != nil {
		return nil, err
	}
	if !q.Eligible {
		return nil, &NotEligibleError{Quote: q}
	}
	// only eligible lines become items; ineligible ones were reported by the quote
	quoteJSON, err := json.Marshal(q)
	if err != nil {
		return nil, err
	}
	var key *string
	if in.IdempotencyKey != "" {
		key = &in.IdempotencyKey
	}
	var id int64
	var rma string
	for attempt := 0; ; attempt++ {
		if rma, err = NewRMA(rand.Reader); err != nil {
			return nil, err
		}
		_, err = tx.ExecContext(ctx, `SAVEPOINT rma`)
		if err == nil {
			err = tx.GetContext(ctx, &id, `INSERT INTO returns (merchant_id, order_id, rma, state, resolution, policy_version,
				currency, quote, total, keep_it, customer_email, idempotency_key, created_by)
				VALUES ($1, $2, $3, 'requested', $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id`,
				merchantID, order.ID, rma, in.Resolution, pol.Version, q.Currency, quoteJSON, q.Total, q.KeepIt,
				NormalizeEmail(order.Order.Customer.Email), key, in.Actor)
		}
		if db.IsUniqueViolation(err, "returns_merchant_id_rma_key") && attempt < 5 {
			if _, err := tx.ExecContext(ctx, `ROLLBACK TO SAVEPOINT rma`); err != nil {
				return nil, err
			}
			continue
		}
		if db.IsUniqueViolation(err, "returns_merchant_id_idempotency_key_key") {
			// a concurrent request with the same key won: answer its return
			tx.Rollback()
			return s.byIdempotencyKey(ctx, merchantID, in.IdempotencyKey)
		}
		if err != nil {
			return nil, fmt.Errorf("returns: insert return: %w", err)
		}
		break
	}
	comments := map[string]string{}
	for _, it := range in.Items {
		comments[it.LineID] = it.Comment
	}
	for _, l := range q.Lines {
		if !l.Eligible {
			continue
		}
		first := 0
		if len(l.Units) > 0 {
			first = l.Units[0].First
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO return_items (merchant_id, return_id, line_id, sku, name, quantity,
			first_unit, reason, comment, amount) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			merchantID, id, l.LineID, l.SKU, l.Name, l.Quantity, first, l.Reason, comments[l.LineID], l.Subtotal)
		if err != nil {
			return nil, fmt.Errorf("returns: insert item: %w", err)
		}
	}
	note := "Return requested: " + q.Summary()
	if err := addEvent(ctx, tx, merchantID, id, in.Actor, string(EventCreate), nil, StateRequested, note); err != nil {
		return nil, err
	}
	r, err := get(ctx, tx, merchantID, id, true)
	if err != nil {
		return nil, err
	}
	t := &Tx{Tx: tx, Return: r, store: s}
	if err := s.setOff(ctx, t, EventCreate); err != nil {
		return nil, err
	}
	if !pol.ManualReview {
		why := "Approved automatically by the return policy."
		if q.KeepIt {
			why = "Approved automatically: the refund is below the keep-it threshold, so nothing needs to be sent back."
		}
		if err := s.transition(ctx, t, EventApprove, "system", why); err != nil {
			return nil, err
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return r, nil
}

func (s *Store) byIdempotencyKey(ctx context.Context, merchantID int64, key string) (*Return, error) {
	var id int64
	err := s.db.GetContext(ctx, &id, `SELECT id FROM returns WHERE merchant_id = $1 AND idempotency_key = $2`, merchantID, key)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return s.Get(ctx, merchantID, id)
}

type returnRow struct {
	ID            int64     `db:"id"`
	PublicID      string    `db:"public_id"`
	MerchantID    int64     `db:"merchant_id"`
	OrderID       int64     `db:"order_id"`
	OrderNumber   string    `db:"order_number"`
	RMA           string    `db:"rma"`
	State         State     `db:"state"`
	Resolution    string    `db:"resolution"`
	PolicyVersion int       `db:"policy_version"`
	Currency      string    `db:"currency"`
	Quote         []byte    `db:"quote"`
	Total         int64     `db:"total"`
	KeepIt        bool      `db:"keep_it"`
	CustomerEmail string    `db:"customer_email"`
	RejectReason  *string   `db:"reject_reason"`
	CreatedAt     time.Time `db:"created_at"`
	UpdatedAt     time.Time `db:"updated_at"`
}

const returnCols = `r.id, r.public_id, r.merchant_id, r.order_id, o.number AS order_number, r.rma, r.state, r.resolution,
	r.policy_version, r.currency, r.quote, r.total, r.keep_it, r.customer_email, r.reject_reason, r.created_at, r.updated_at`

func (row returnRow) ret() (*Return, error) {
	r := &Return{ID: row.ID, PublicID: row.PublicID, MerchantID: row.MerchantID, OrderID: row.OrderID, OrderNumber: row.OrderNumber, RMA: row.RMA,
		State: row.State, Resolution: Resolution(row.Resolution), PolicyVersion: row.PolicyVersion, Currency: row.Currency,
		Total: row.Total, KeepIt: row.KeepIt, CustomerEmail: row.CustomerEmail, CreatedAt: row.CreatedAt, UpdatedAt: row.UpdatedAt,
		Items: []Item{}}
	if row.RejectReason != nil {
		r.RejectReason = *row.RejectReason
	}
	if err := json.Unmarshal(row.Quote, &r.Quote); err != nil {
		return nil, fmt.Errorf("returns: stored quote of %d: %w", row.ID, err)
	}
	return r, nil
}

// get reads a return with its items; lock takes its row lock (inside a transaction).
func get(ctx context.Context, q sqlx.QueryerContext, merchantID, id int64, lock bool) (*Return, error) {
	query := `SELECT ` + returnCols + ` FROM returns r JOIN orders o ON o.id = r.order_id WHERE r.merchant_id = $1 AND r.id = $2`
	if lock {
		query += ` FOR UPDATE OF r`
	}
	var row returnRow
	err := sqlx.GetContext(ctx, q, &row, query, merchantID, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("returns: get %d: %w", id, err)
	}
	r, err := row.ret()
	if err != nil {
		return nil, err
	}
	err = sqlx.SelectContext(ctx, q, &r.Items, `SELECT line_id, sku, name, quantity, received, accepted, rejected, reason,
		comment, condition, disposition, amount FROM return_items WHERE return_id = $1 ORDER BY id`, id)
	if err != nil {
		return nil, fmt.Errorf("returns: items of %d: %w", id, err)
	}
	if r.State == StateCompleted {
		if r.Feedback, err = feedbackOf(ctx, q, r); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Get reads a return.
func (s *Store) Get(ctx context.Context, merchantID, id int64) (*Return, error) {
	return get(ctx, s.db, merchantID, id, false)
}

// ByRMA finds a return by its RMA number (canonical form).
func (s *Store) ByRMA(ctx context.Context, merchantID int64, rma string) (*Return, error) {
	var id int64
	err := s.db.GetContext(ctx, &id, `SELECT id FROM returns WHERE merchant_id = $1 AND rma = $2`, merchantID, rma)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return s.Get(ctx, merchantID, id)
}

// ByPublicID finds a return by its public ID (ret_…).
func (s *Store) ByPublicID(ctx context.Context, merchantID int64, publicID string) (*Return, error) {
	var id int64
	err := s.db.GetContext(ctx, &id, `SELECT id FROM returns WHERE merchant_id = $1 AND public_id = $2`, merchantID, publicID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return s.Get(ctx, merchantID, id)
}

// Transition applies ev to a return under its row lock. check, when not nil, runs on
// the locked return first and can refuse. The change, its timeline entry and what it
// sets off commit together; a refused transition is a *TransitionError.
func (s *Store) Transition(ctx context.Context, merchantID, id int64, ev Event, actor, note string, check func(*Return) error) (*Return, error) {
	return s.Update(ctx, merchantID, id, func(ctx context.Context, t *Tx) error {
		if check != nil {
			if err := check(t.Return); err != nil {
				return err
			}
		}
		return t.Transition(ctx, ev, actor, note)
	})
}

// transition moves t's return by ev, writes the timeline entry, and runs what the
// change sets off (setOff, in effects.go).
func (s *Store) transition(ctx context.Context, t *Tx, ev Event, actor, note string) error {
	r := t.Return
	to, err := Next(r.State, ev)
	if err != nil {
		return err
	}
	from := r.State
	_, err = t.ExecContext(ctx, `UPDATE returns SET state = $3, updated_at = now(),
		reject_reason = CASE WHEN $4 = 'reject' THEN $5 ELSE reject_reason END
		WHERE merchant_id = $1 AND id = $2`, r.MerchantID, r.ID, to, string(ev), note)
	if err != nil {
		return fmt.Errorf("returns: transition %d: %w", r.ID, err)
	}
	if err := addEvent(ctx, t.Tx, r.MerchantID, r.ID, actor, string(ev), &from, to, note); err != nil {
		return err
	}
	r.State = to
	if ev == EventReject {
		r.RejectReason = note
	}
	return s.setOff(ctx, t, ev)
}

// Filter narrows List.
type Filter struct {
	States        []State
	OrderID       int64
	RMA           string
	CreatedAfter  *time.Time
	CreatedBefore *time.Time
	// CustomerEmail keeps the returns of one shopper (any of their orders).
	CustomerEmail string
	// ExceptID leaves one return out (a shopper's other returns).
	ExceptID int64
	// OldestFirst lists oldest first (a queue), and After then means a larger ID.
	OldestFirst bool
	// After is the cursor: list returns with a smaller ID (newest first).
	After int64
	Limit int
}

// List returns a merchant's returns, newest first (or oldest first, f.OldestFirst),
// and whether there are more.
func (s *Store) List(ctx context.Context, merchantID int64, f Filter) ([]*Return, bool, error) {
	where := `r.merchant_id = $1`
	args := []any{merchantID}
	add := func(cond string, v any) {
		args = append(args, v)
		where += fmt.Sprintf(" AND "+cond, len(args))
	}
	if len(f.States) > 0 {
		states := make([]string, len(f.States))
		for i, st := range f.States {
			states[i] = string(st)
		}
		add("r.state = ANY($%d)", pq.Array(states))
	}
	if f.OrderID != 0 {
		add("r.order_id = $%d", f.OrderID)
	}
	if f.RMA != "" {
		add("r.rma = $%d", f.RMA)
	}
	if f.CreatedAfter != nil {
		add("r.created_at >= $%d", *f.CreatedAfter)
	}
	if f.CreatedBefore != nil {
		add("r.created_at < $%d", *f.CreatedBefore)
	}
	if f.CustomerEmail != "" {
		add("r.customer_email = $%d", NormalizeEmail(f.CustomerEmail))
	}
	if f.ExceptID != 0 {
		add("r.id <> $%d", f.ExceptID)
	}
	order := "DESC"
	if f.OldestFirst {
		order = "ASC"
		if f.After > 0 {
			add("r.id > $%d", f.After)
		}
	} else if f.After > 0 {
		add("r.id < $%d", f.After)
	}
	if f.Limit <= 0 {
		f.Limit = 50
	}
	var rows []returnRow
	err := s.db.SelectContext(ctx, &rows, `SELECT `+returnCols+` FROM returns r JOIN orders o ON o.id = r.order_id
		WHERE `+where+fmt.Sprintf(` ORDER BY r.id %s LIMIT %d`, order, f.Limit+1), args...)
	if err != nil {
		return nil, false, fmt.Errorf("returns: list: %w", err)
	}
	rows, more := cursor.Trim(rows, f.Limit)
	out := make([]*Return, 0, len(rows))
	ids := make([]int64, 0, len(rows))
	byID := map[int64]*Return{}
	for _, row := range rows {
		r, err := row.ret()
		if err != nil {
			return nil, false, err
		}
		out = append(out, r)
		ids = append(ids, r.ID)
		byID[r.ID] = r
	}
	if len(ids) > 0 {
		var items []struct {
			ReturnID int64 `db:"return_id"`
			Item
		}
		err = s.db.SelectContext(ctx, &items, `SELECT return_id, line_id, sku, name, quantity, received, accepted, rejected,
			reason, comment, condition, disposition, amount FROM return_items WHERE return_id = ANY($1) ORDER BY id`, pq.Array(ids))
		if err != nil {
			return nil, false, fmt.Errorf("returns: list items: %w", err)
		}
		for _, it := range items {
			byID[it.ReturnID].Items = append(byID[it.ReturnID].Items, it.Item)
		}
	}
	return out, more, nil
}

// Count counts a merchant's returns in any of states (every return without states).
func (s *Store) Count(ctx context.Context, merchantID int64, states ...State) (int, error) {
	names := make([]string, len(states))
	for i, st := range states {
		names[i] = string(st)
	}
	var n int
	err := s.db.GetContext(ctx, &n, `SELECT count(*) FROM returns WHERE merchant_id = $1
		AND (cardinality($2::text[]) = 0 OR state = ANY($2))`, merchantID, pq.Array(names))
	if err != nil {
		return 0, fmt.Errorf("returns: count: %w", err)
	}
	return n, nil
}
