package returns

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/roundtriphq/roundtrip/internal/db"
	"github.com/roundtriphq/roundtrip/internal/outbox"

	"github.com/roundtriphq/roundtrip/internal/cursor"
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
	State         State       `json:"state" enum:"requested,approved,in_transit,partially_received,received,resolving,completed,refund_failed,rejected,cancelled,expired" example:"approved" doc:"Where the return stands: requested, approved, in_transit, partially_received, received, resolving, completed, refund_failed, rejected, cancelled or expired."`
	Resolution    Resolution  `json:"resolution" enum:"refund,store_credit,exchange" example:"refund"`
	Currency      string      `json:"currency" example:"EUR"`
	Total         int64       `json:"total" example:"4255" doc:"What the shopper gets back according to the quote, in minor units."`
	KeepIt        bool        `json:"keep_it" doc:"True for a returnless refund: nothing is sent back."`
	PolicyVersion int         `json:"policy_version" example:"3" doc:"The policy version the return was judged by."`
	CustomerEmail string      `json:"customer_email" example:"ada@example.com"`
	RejectReason  string      `json:"reject_reason,omitempty"`
	Items         []Item      `json:"items"`
	Quote         QuoteResult `json:"quote" doc:"The quote the shopper saw when the return was created."`
	Feedback      *Feedback   `json:"feedback,omitempty" doc:"The shopper's feedback after completion, when they gave it."`
	Parcels       []ParcelRef `json:"parcels,omitempty" doc:"The return's parcels with their tracking numbers, in the order they were issued, when the return is read through the API (GET /v1/returns, GET /v1/returns/{id}). Webhook payloads leave it out: label.issued carries each parcel."`
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
	Reason      ReasonCode `json:"reason" db:"reason" enum:"too_small,too_large,not_as_described,damaged,wrong_item,changed_mind,arrived_late,other" example:"too_small"`
	Comment     string     `json:"comment,omitempty" db:"comment"`
	Condition   *string    `json:"condition,omitempty" db:"condition" enum:"new,like_new,used,damaged,wrong_item,missing" doc:"Condition recorded at receipt: new, like_new, used, damaged, wrong_item or missing."`
	Disposition *string    `json:"disposition,omitempty" db:"disposition" enum:"restock,resale_hold,refurbish,recycle,dispose" doc:"What happens to the units: restock, resale_hold, refurbish, recycle or dispose."`
	Amount      int64      `json:"amount" db:"amount" doc:"The line's subtotal in the quote, minor units."`
}

// Store keeps orders, policies and returns in PostgreSQL. Every query filters on the
// merchant. What a return's changes set off in other domains is its Effects.
type Store struct {
	db      *sqlx.DB
	effects Effects
	now     func() time.Time
	// versions holds the policy versions read so far, by policyKey: a version is
	// never changed once saved (a change saves the next), so it needs no forgetting
	versions sync.Map
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
	// OrderID, when set, names the order (a shopper's token's); the order number
	// given with it must then be empty or that order's.
	OrderID int64
	// PhotoKey, when set, attaches the photos uploaded with it (AddPhotos) to the
	// return, in the transaction that creates it.
	PhotoKey string
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
	// the current policy and the order's other returns in one statement
	var row quoteRow
	err := s.db.GetContext(ctx, &row, `SELECT p.version AS policy_version, p.data AS policy_data, `+priorReturnsJSON+` AS prior
		FROM (SELECT 1) one LEFT JOIN LATERAL (SELECT version, data FROM policies WHERE merchant_id = $1
			ORDER BY version DESC LIMIT 1) p ON true`, merchantID, order.ID)
	if err != nil {
		return QuoteResult{}, Policy{}, fmt.Errorf("returns: quote: %w", err)
	}
	return s.quoteRead(ctx, merchantID, order, row, ask)
}

// QuoteOrder prices a return of the order with ID orderID (a shopper's) as QuoteAsked
// does, reading the order with the policy and its other returns in one statement.
func (s *Store) QuoteOrder(ctx context.Context, merchantID, orderID int64, ask Ask) (OrderRecord, QuoteResult, Policy, error) {
	var row struct {
		orderRow
		quoteRow
	}
	err := s.db.GetContext(ctx, &row, `SELECT o.id, o.number, o.data, o.revision, o.created_at, o.updated_at,
		p.version AS policy_version, p.data AS policy_data, `+priorReturnsJSON+` AS prior
		FROM orders o LEFT JOIN LATERAL (SELECT version, data FROM policies WHERE merchant_id = $1
			ORDER BY version DESC LIMIT 1) p ON true
		WHERE o.merchant_id = $1 AND o.id = $2`, merchantID, orderID)
	if errors.Is(err, sql.ErrNoRows) {
		return OrderRecord{}, QuoteResult{}, Policy{}, ErrNotFound
	}
	if err != nil {
		return OrderRecord{}, QuoteResult{}, Policy{}, fmt.Errorf("returns: quote: %w", err)
	}
	order, err := row.orderRow.record()
	if err != nil {
		return OrderRecord{}, QuoteResult{}, Policy{}, err
	}
	q, pol, err := s.quoteRead(ctx, merchantID, order, row.quoteRow, ask)
	return order, q, pol, err
}

// quoteRow is the current policy and the order's other returns, as a quote reads them.
type quoteRow struct {
	policyRow
	Prior []byte `db:"prior"`
}

// quoteRead prices a return of order with what row read.
func (s *Store) quoteRead(ctx context.Context, merchantID int64, order OrderRecord, row quoteRow, ask Ask) (QuoteResult, Policy, error) {
	pol, err := row.policy()
	if err != nil {
		return QuoteResult{}, Policy{}, err
	}
	var rows []priorReturn
	if err := json.Unmarshal(row.Prior, &rows); err != nil {
		return QuoteResult{}, Policy{}, fmt.Errorf("returns: prior returns: %w", err)
	}
	pr, _, err := priorOf(rows)
	if err != nil {
		return QuoteResult{}, Policy{}, err
	}
	q, err := s.priced(ctx, s.db, merchantID, pol, order, ask, pr)
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
	return s.priced(ctx, q, merchantID, pol, order, ask, pr)
}

// priced prices a return of order with what the order's other returns hold (pr),
// reading the variants asked in exchange in q.
func (s *Store) priced(ctx context.Context, q sqlx.QueryerContext, merchantID int64, pol Policy, order OrderRecord, ask Ask, pr Prior) (QuoteResult, error) {
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
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	// the order's lock, the current policy and the order's other returns in one
	// statement (FOR NO KEY UPDATE: nothing changes the order's keys, and rows
	// referring to the order need not wait). The other returns are read with the
	// statement's snapshot, which may predate a return that a concurrent request made
	// while this one waited for the lock: the insert below checks them again, under
	// the lock, and the return is quoted again with what it finds when they changed.
	var row struct {
		orderRow
		policyRow
		Prior []byte `db:"prior"`
	}
	where, lockKey := `o.number = $2`, any(orderNumber)
	if in.OrderID != 0 {
		where, lockKey = `o.id = $2`, in.OrderID
	}
	err = tx.GetContext(ctx, &row, `SELECT o.id, o.number, o.data, o.revision, o.created_at, o.updated_at,
		p.version AS policy_version, p.data AS policy_data, `+priorReturnsJSONOf(`o.id`)+` AS prior
		FROM orders o LEFT JOIN LATERAL (SELECT version, data FROM policies WHERE merchant_id = $1
			ORDER BY version DESC LIMIT 1) p ON true
		WHERE o.merchant_id = $1 AND `+where+` FOR NO KEY UPDATE OF o`, merchantID, lockKey)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("returns: lock order: %w", err)
	}
	if in.OrderID != 0 && orderNumber != "" && !strings.EqualFold(strings.TrimSpace(orderNumber), row.Number) {
		return nil, ErrNotFound
	}
	order, err := row.orderRow.record()
	if err != nil {
		return nil, err
	}
	pol, err := row.policyRow.policy()
	if err != nil {
		return nil, err
	}
	var others []priorReturn
	if err := json.Unmarshal(row.Prior, &others); err != nil {
		return nil, fmt.Errorf("returns: prior returns: %w", err)
	}
	items := make([]QuoteItem, len(in.Items))
	for i, it := range in.Items {
		items[i] = it.QuoteItem
	}
	ask := Ask{Items: items, Resolution: in.Resolution, DifferenceAs: in.DifferenceAs}
	var (
		q         QuoteResult
		quoteJSON []byte
		key       *string
		id        int64
		rma       string
		cols      itemColumns
		stamps    struct {
			Same      bool       `db:"same"`
			ID        *int64     `db:"id"`
			PublicID  *string    `db:"public_id"`
			CreatedAt *time.Time `db:"created_at"`
			UpdatedAt *time.Time `db:"updated_at"`
		}
	)
	if in.IdempotencyKey != "" {
		key = &in.IdempotencyKey
	}
	comments := map[string]string{}
	for _, it := range in.Items {
		comments[it.LineID] = it.Comment
	}
	// after the first round, others are read under the lock, by a statement of their own
	for round := 0; ; round++ {
		fresh := round > 0
		if fresh {
			if others, err = priorReturns(ctx, tx, merchantID, order.ID); err != nil {
				return nil, err
			}
		}
		pr, _, err := priorOf(others)
		if err != nil {
			return nil, err
		}
		if q, err = s.priced(ctx, tx, merchantID, pol, order, ask, pr); err != nil {
			return nil, err
		}
		if !q.Eligible && !fresh {
			continue // a return cancelled meanwhile may have given the units back
		}
		if !q.Eligible {
			if in.IdempotencyKey != "" {
				// a retry of a request that made its return: the order's units are now
				// that return's, so the quote refuses them; answer the return
				if r, err := s.byIdempotencyKey(ctx, merchantID, in.IdempotencyKey); err == nil {
					return r, nil
				} else if !errors.Is(err, ErrNotFound) {
					return nil, err
				}
			}
			return nil, &NotEligibleError{Quote: q}
		}
		if quoteJSON, err = json.Marshal(q); err != nil {
			return nil, err
		}
		cols = itemsOf(q, comments) // its eligible lines
		note := "Return requested: " + q.Summary()
		// the return, its items and its first timeline entry in one statement, when the
		// order's other returns are still those it was quoted with (same); an RMA
		// already taken (or the idempotency key, by a concurrent request) inserts nothing
		same := true
		for attempt := 0; ; attempt++ {
			rma, err = NewRMA(rand.Reader)
			if err != nil {
				return nil, err
			}
			err = tx.GetContext(ctx, &stamps, `WITH held AS (SELECT coalesce(array_agg(id ORDER BY id), '{}') = $22::bigint[] AS same
					FROM returns WHERE merchant_id = $1 AND order_id = $2 AND state NOT IN ('cancelled', 'rejected', 'expired')),
				r AS (INSERT INTO returns (merchant_id, order_id, rma, state, resolution,
					policy_version, currency, quote, total, keep_it, customer_email, idempotency_key, created_by)
					SELECT $1::bigint, $2::bigint, $3::text, 'requested', $4::text, $5::int, $6::text, $7::jsonb, $8::bigint,
						$9::bool, $10::text, $11::text, $12::text FROM held WHERE held.same
					ON CONFLICT DO NOTHING RETURNING id, public_id, created_at, updated_at),
				i AS (INSERT INTO return_items (merchant_id, return_id, line_id, sku, name, quantity, first_unit, reason, comment, amount)
					SELECT $1, r.id, x.line_id, x.sku, x.name, x.quantity, x.first_unit, x.reason, x.comment, x.amount
					FROM r, unnest($13::text[], $14::text[], $15::text[], $16::int[], $17::int[], $18::text[], $19::text[], $20::bigint[])
						WITH ORDINALITY AS x(line_id, sku, name, quantity, first_unit, reason, comment, amount, n)
					ORDER BY x.n),
				e AS (INSERT INTO return_events (merchant_id, return_id, actor, event, from_state, to_state, note)
					SELECT $1, r.id, $12, 'create', NULL, 'requested', $21 FROM r)
				SELECT held.same, r.id, r.public_id, r.created_at, r.updated_at FROM held LEFT JOIN r ON true`,
				append(append([]any{merchantID, order.ID, rma, in.Resolution, pol.Version, q.Currency, quoteJSON, q.Total, q.KeepIt,
					NormalizeEmail(order.Order.Customer.Email), key, in.Actor}, cols.args()...), note, db.Array(priorIDs(others)))...)
			if err != nil {
				return nil, fmt.Errorf("returns: insert return: %w", err)
			}
			if !stamps.Same {
				same = false
				break
			}
			if stamps.ID != nil {
				id = *stamps.ID
				break
			}
			// a unique key was taken: the idempotency key by a concurrent request (answer
			// its return), else the RMA (draw another)
			if key != nil {
				if r, err := s.byIdempotencyKey(ctx, merchantID, *key); err == nil {
					tx.Rollback()
					return r, nil
				} else if !errors.Is(err, ErrNotFound) {
					return nil, err
				}
			}
			if attempt >= 5 {
				return nil, fmt.Errorf("returns: insert return: no free RMA after %d attempts", attempt+1)
			}
		}
		if same {
			break
		}
		if round >= 3 {
			// read under the lock, they change only when a return of the order ends
			return nil, errors.New("returns: insert return: the order's returns keep changing")
		}
	}
	if in.PhotoKey != "" {
		if _, err := tx.ExecContext(ctx, `UPDATE return_photos SET return_id = $1
			WHERE merchant_id = $2 AND order_id = $3 AND upload_key = $4 AND return_id IS NULL`, id, merchantID, order.ID, in.PhotoKey); err != nil {
			return nil, fmt.Errorf("returns: attach photos: %w", err)
		}
	}
	// the return as stored, without reading it back
	r := &Return{ID: id, PublicID: *stamps.PublicID, MerchantID: merchantID, OrderID: order.ID, OrderNumber: order.Number, RMA: rma,
		State: StateRequested, Resolution: in.Resolution, PolicyVersion: pol.Version, Currency: q.Currency,
		Total: q.Total, KeepIt: q.KeepIt, CustomerEmail: NormalizeEmail(order.Order.Customer.Email),
		CreatedAt: *stamps.CreatedAt, UpdatedAt: *stamps.UpdatedAt, Items: cols.items()}
	if err := json.Unmarshal(quoteJSON, &r.Quote); err != nil {
		return nil, err
	}
	// the insert's updated_at is its default, now(): the transaction's, as a change
	// of the return made in it writes (Tx.now)
	// a return the policy approves at once is approved in this transaction: the
	// notice of its creation rides on the approval's statement (Tx.Follows)
	t := &Tx{Tx: tx, Return: r, store: s, order: &order, policy: &pol, now: *stamps.UpdatedAt, following: !pol.ManualReview}
	if err := s.setOff(ctx, t, EventCreate); err != nil {
		return nil, err
	}
	t.following = false
	if !pol.ManualReview {
		why := "Approved automatically by the return policy."
		if q.KeepIt {
			why = "Approved automatically: the refund is below the keep-it threshold, so nothing needs to be sent back."
		}
		if err := t.Transition(ctx, EventApprove, "system", why); err != nil {
			return nil, err
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return r, nil
}

func (s *Store) byIdempotencyKey(ctx context.Context, merchantID int64, key string) (*Return, error) {
	return getWhere(ctx, s.db, `r.merchant_id = $1 AND r.idempotency_key = $2`, merchantID, key)
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
	if err := decodedQuotes.decode(row.ID, row.Quote, &r.Quote); err != nil {
		return nil, fmt.Errorf("returns: stored quote of %d: %w", row.ID, err)
	}
	return r, nil
}

// returnItemsJSON is the return's items as one JSON array, in the order they were
// added, so that a return and its items come back in one statement.
const returnItemsJSON = `coalesce((SELECT json_agg(json_build_object('line_id', i.line_id, 'sku', i.sku,
	'name', i.name, 'quantity', i.quantity, 'received', i.received, 'accepted', i.accepted, 'rejected', i.rejected,
	'reason', i.reason, 'comment', i.comment, 'condition', i.condition, 'disposition', i.disposition,
	'amount', i.amount) ORDER BY i.id) FROM return_items i WHERE i.return_id = r.id), '[]') AS items`

// ParcelRef is a parcel as its return shows it: enough to follow it without another
// call (GET /v1/returns/{id}/parcels has the rest).
type ParcelRef struct {
	Number         int    `json:"number" db:"number" example:"1" doc:"Parcel n of the return."`
	TrackingNumber string `json:"tracking_number" db:"tracking_number" example:"RR123456785GB"`
	Carrier        string `json:"carrier" db:"carrier" example:"own" doc:"own (the shop's own labels) or shippo."`
	Status         string `json:"status" db:"status" enum:"preparing,issued,voided" example:"issued"`
}

// returnWithItems is a returns row with its items.
type returnWithItems struct {
	returnRow
	Items []byte `db:"items"`
}

func (row returnWithItems) ret() (*Return, error) {
	r, err := row.returnRow.ret()
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(row.Items, &r.Items); err != nil {
		return nil, fmt.Errorf("returns: items of %d: %w", row.ID, err)
	}
	return r, nil
}

// get reads a return with its items, in one statement; lock takes its row lock
// (inside a transaction).
func get(ctx context.Context, q sqlx.QueryerContext, merchantID, id int64, lock bool) (*Return, error) {
	if lock {
		r, _, err := getLocked(ctx, q, `r.id = $2`, merchantID, id)
		return r, err
	}
	return getWhere(ctx, q, `r.merchant_id = $1 AND r.id = $2`, merchantID, id)
}

func getWhere(ctx context.Context, q sqlx.QueryerContext, where string, args ...any) (*Return, error) {
	var row returnWithItems
	err := sqlx.GetContext(ctx, q, &row, `SELECT `+returnCols+`, `+returnItemsJSON+`
		FROM returns r JOIN orders o ON o.id = r.order_id WHERE `+where, args...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("returns: get %v: %w", args[1:], err)
	}
	r, err := row.ret()
	if err != nil {
		return nil, err
	}
	return withFeedback(ctx, q, r)
}

// getLocked reads a return with its items under the return's row lock, in one
// statement: a row per item, the items locked with the return. The items must be
// locked rows of the statement, not a subquery: a statement that waited for the lock
// sees the newest version of the rows it locks, but a subquery would still read the
// items as they were before the other transaction (a concurrent receipt) committed.
// The lock is FOR NO KEY UPDATE (no change of a return touches its keys): it orders
// the changes of one return, but lets rows that refer to the return (its timeline,
// emails, links) be written meanwhile, where FOR UPDATE would hold their foreign-key
// checks until this transaction ends.
// where is a condition on r whose arguments are args: $1 the merchant, $2 the key
// (a return's ID, public ID or RMA), then any the condition adds (a shopper's
// order). It answers what else the lock's statement read (locked).
func getLocked(ctx context.Context, q sqlx.QueryerContext, where string, args ...any) (*Return, locked, error) {
	return getLockedReading(ctx, q, where, nil, args...)
}

// getLockedReading is getLocked with read's value read in the same statement
// (locked.Read).
func getLockedReading(ctx context.Context, q sqlx.QueryerContext, where string, read *LockRead, args ...any) (*Return, locked, error) {
	var rows []lockedRow
	cols := lockedCols
	if read != nil {
		expr, more := outbox.Ahead(len(args), outbox.Part{With: read.Expr, Args: read.Args})
		cols += `, (` + expr + `)::text AS lock_read`
		args = append(args[:len(args):len(args)], more...)
	}
	err := sqlx.SelectContext(ctx, q, &rows, `SELECT `+cols+lockedFrom+
		`WHERE r.merchant_id = $1 AND `+where+` ORDER BY i.id FOR NO KEY UPDATE OF r, i`, args...)
	if err != nil {
		return nil, locked{}, fmt.Errorf("returns: get %v: %w", args[1], err)
	}
	return lockedReturn(ctx, q, rows)
}

// lockedCols and lockedFrom are getLocked's columns and tables: a row per item.
const (
	lockedCols = returnCols + `, i.line_id, i.sku, i.name, i.quantity, i.received,
		i.accepted, i.rejected, i.reason, i.comment, i.condition, i.disposition, i.amount, now() AS tx_now,
		r.arrived_at AS arrived_at`
	lockedFrom = ` FROM returns r JOIN orders o ON o.id = r.order_id JOIN return_items i ON i.return_id = r.id `
)

// lockedRow is a row of getLocked's statement.
type lockedRow struct {
	returnRow
	Item
	locked
}

// lockedReturn is the return that getLocked's rows (one per item) make up.
func lockedReturn(ctx context.Context, q sqlx.QueryerContext, rows []lockedRow) (*Return, locked, error) {
	if len(rows) == 0 {
		return nil, locked{}, ErrNotFound
	}
	r, err := rows[0].returnRow.ret()
	if err != nil {
		return nil, locked{}, err
	}
	r.Items = make([]Item, len(rows))
	for i, row := range rows {
		r.Items[i] = row.Item
	}
	r, err = withFeedback(ctx, q, r)
	return r, rows[0].locked, err
}

// LockedJSON is getLocked's statement as a scalar subquery, for a statement of
// another domain's that takes the locks its change needs, the return's among them, in
// one round trip (Store.LockFrom reads its answer): it locks the return whose ID is
// the SQL expression id (none when that is NULL) as getLocked does, its rows
// answered as one JSON array (NULL when there is none). The locks are taken where
// the expression stands in the statement, after those of the columns before it.
func LockedJSON(id string) string {
	return `(SELECT json_agg(x ORDER BY x.item_seq) FROM (SELECT ` + lockedCols + `, i.id AS item_seq` + lockedFrom +
		`WHERE r.id = ` + id + ` FOR NO KEY UPDATE OF r, i) x)`
}

// LockFrom is Lock for the return that a statement of the caller's transaction
// already locked and read (LockedJSON): raw is that statement's answer. ErrNotFound
// when it is NULL or the return is another merchant's.
func (s *Store) LockFrom(ctx context.Context, tx *sqlx.Tx, merchantID int64, raw []byte) (*Tx, error) {
	var rows []lockedRow
	if len(raw) > 0 && string(raw) != "null" {
		if err := db.UnmarshalRows(raw, &rows); err != nil {
			return nil, fmt.Errorf("returns: locked return: %w", err)
		}
	}
	if len(rows) > 0 && rows[0].MerchantID != merchantID {
		return nil, ErrNotFound
	}
	r, l, err := lockedReturn(ctx, tx, rows)
	if err != nil {
		return nil, err
	}
	return &Tx{Tx: tx, Return: r, store: s, now: l.Now, arrivedAt: l.ArrivedAt}, nil
}

// locked is what getLocked reads with a return besides the return: the
// transaction's now() (what updated_at = now() writes in it), and when a parcel of
// the return was first scanned at the warehouse (nil: never), which only a change
// holding the lock writes.
type locked struct {
	Now       time.Time  `db:"tx_now"`
	ArrivedAt *time.Time `db:"arrived_at"`
	// Read is a LockRead's value, when the statement had one
	Read *string `db:"lock_read"`
}

// LockRead is a read of another domain's that rides on the statement locking the
// return of a change (UpdateReading, UpdateForReading), so that the change needs no
// statement of its own for it: Expr is an SQL expression of the locked return r (its
// columns, r.id), with parameters Args numbered from $1; the change reads its value as
// text (Tx.LockRead). It is evaluated with the statement's snapshot, taken before the
// lock was waited for: rows another transaction committed while this one waited are
// not in it, so a read that decides what to write must be backed by a constraint.
// The statement reads a row per item: an expression that draws (nextval) belongs in
// an uncorrelated subquery, which is evaluated once.
type LockRead struct {
	Expr string
	Args []any
}

// withFeedback adds the shopper's feedback to a completed return.
func withFeedback(ctx context.Context, q sqlx.QueryerContext, r *Return) (*Return, error) {
	if r.State == StateCompleted {
		var err error
		if r.Feedback, err = feedbackOf(ctx, q, r); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// WithParcels adds their parcels to returns read for the API, in one statement. The
// parcels table is the labels package's; a return shows only what a client
// following it needs.
func (s *Store) WithParcels(ctx context.Context, rs ...*Return) error {
	ids := make([]int64, len(rs))
	byID := make(map[int64]*Return, len(rs))
	for i, r := range rs {
		ids[i], byID[r.ID] = r.ID, r
		r.Parcels = []ParcelRef{}
	}
	if len(ids) == 0 {
		return nil
	}
	var rows []struct {
		ReturnID int64 `db:"return_id"`
		ParcelRef
	}
	if err := sqlx.SelectContext(ctx, s.db, &rows, `SELECT return_id, number, tracking_number, carrier, status
		FROM parcels WHERE return_id = ANY($1) ORDER BY return_id, number`, db.Array(ids)); err != nil {
		return fmt.Errorf("returns: parcels: %w", err)
	}
	for _, row := range rows {
		r := byID[row.ReturnID]
		r.Parcels = append(r.Parcels, row.ParcelRef)
	}
	return nil
}

// Get reads a return.
func (s *Store) Get(ctx context.Context, merchantID, id int64) (*Return, error) {
	return get(ctx, s.db, merchantID, id, false)
}

// ByRMA finds a return by its RMA number (canonical form).
func (s *Store) ByRMA(ctx context.Context, merchantID int64, rma string) (*Return, error) {
	return getWhere(ctx, s.db, `r.merchant_id = $1 AND r.rma = $2`, merchantID, rma)
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
func (s *Store) transition(ctx context.Context, t *Tx, ev Event, actor, note string, in func([]outbox.Part) error) error {
	r := t.Return
	to, err := Next(r.State, ev)
	if err != nil {
		return err
	}
	// the state change and its timeline entry, in one statement; with a change of
	// the same transaction whose write is still to come (a receipt's, which the
	// resolution it sets off carries), one write for both
	steps := append(t.pendingChange(), step{ev: ev, from: r.State, to: to, actor: actor, note: note})
	t.steps = steps
	change := changePart(r, steps)
	// updated_at is the transaction's now(), known since the lock (or the insert):
	// the change rides on the caller's statement (in), or on the statement of its
	// notification (setOff), or runs on its own before any other effect. t.Return
	// stays as the database will have it.
	r.State, r.UpdatedAt = to, t.now
	if ev == EventReject {
		r.RejectReason = note
	}
	if in != nil {
		// with whatever else the change had not written yet (a receipt's items)
		if err := in(append(t.Carried(), change)); err != nil {
			return err
		}
	} else {
		t.carry = append(t.carry, change)
	}
	return s.setOff(ctx, t, ev)
}

// step is one transition of a return within a change.
type step struct {
	ev          Event
	from, to    State
	actor, note string
}

// The writes of a change's transitions: one (changeOne), or several of one
// transaction whose writes were still to come (changeMany: the last state, and the
// timeline entries in their order). pendingChange knows them by their text.
const (
	changeOne = `return_change AS (UPDATE returns SET state = $3, updated_at = now(),
			reject_reason = CASE WHEN $4 = 'reject' THEN $5 ELSE reject_reason END
			WHERE merchant_id = $1 AND id = $2 RETURNING id),
		return_timeline AS (INSERT INTO return_events (merchant_id, return_id, actor, event, from_state, to_state, note)
			SELECT $1, return_change.id, $6, $4, $7, $3, $5 FROM return_change)`
	changeMany = `return_change AS (UPDATE returns SET state = $3, updated_at = now(),
			reject_reason = CASE WHEN $4 THEN $5 ELSE reject_reason END
			WHERE merchant_id = $1 AND id = $2 RETURNING id),
		return_timeline AS (INSERT INTO return_events (merchant_id, return_id, actor, event, from_state, to_state, note)
			SELECT $1, return_change.id, x.actor, x.event, x.from_state, x.to_state, x.note
			FROM return_change, unnest($6::text[], $7::text[], $8::text[], $9::text[], $10::text[])
				WITH ORDINALITY AS x(actor, event, from_state, to_state, note, n)
			ORDER BY x.n)`
)

// changePart is the write of steps, r's transitions not written yet, in order. A
// statement updates a row once, so two transitions of one statement are one update
// to the last state.
func changePart(r *Return, steps []step) outbox.Part {
	if len(steps) == 1 {
		st := steps[0]
		return outbox.Part{With: changeOne, Args: []any{r.MerchantID, r.ID, st.to, string(st.ev), st.note, st.actor, st.from}}
	}
	n := len(steps)
	actors, events, froms, tos, notes := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	rejected, reason := false, ""
	for i, st := range steps {
		actors[i], events[i], froms[i], tos[i], notes[i] = st.actor, string(st.ev), string(st.from), string(st.to), st.note
		if st.ev == EventReject {
			rejected, reason = true, st.note
		}
	}
	return outbox.Part{With: changeMany, Args: []any{r.MerchantID, r.ID, steps[n-1].to, rejected, reason,
		db.Array(actors), db.Array(events), db.Array(froms), db.Array(tos), db.Array(notes)}}
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
	// OldestFirst lists oldest first (a queue), and After then means the returns
	// made after it.
	OldestFirst bool
	// After is the cursor: the public ID of the last return of the page before; the
	// list goes on with the returns made before it (newest first). A return that is not
	// the merchant's is refused with cursor.Unknown.
	After string
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
		add("r.state = ANY($%d)", db.Array(states))
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
	order, after := "DESC", "r.id < $%d"
	if f.OldestFirst {
		order, after = "ASC", "r.id > $%d"
	}
	if f.After != "" {
		key, err := cursor.Resolve(ctx, s.db, `SELECT id FROM returns WHERE merchant_id = $1 AND public_id = $2`, merchantID, f.After)
		if err != nil {
			return nil, false, err
		}
		add(after, key)
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
			reason, comment, condition, disposition, amount FROM return_items WHERE return_id = ANY($1) ORDER BY id`, db.Array(ids))
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
		AND (cardinality($2::text[]) = 0 OR state = ANY($2))`, merchantID, db.Array(names))
	if err != nil {
		return 0, fmt.Errorf("returns: count: %w", err)
	}
	return n, nil
}

// itemColumns are a new return's items as the columns of its insert.
type itemColumns struct {
	lineIDs, skus, names, reasons, comments []string
	quantities, firsts, amounts             []int64
}

// itemsOf are the eligible lines of q as a new return's items, with the shopper's
// comments by line; ineligible lines were reported by the quote.
func itemsOf(q QuoteResult, comments map[string]string) itemColumns {
	var c itemColumns
	for _, l := range q.Lines {
		if !l.Eligible {
			continue
		}
		first := 0
		if len(l.Units) > 0 {
			first = l.Units[0].First
		}
		c.lineIDs, c.skus, c.names = append(c.lineIDs, l.LineID), append(c.skus, l.SKU), append(c.names, l.Name)
		c.quantities, c.firsts = append(c.quantities, int64(l.Quantity)), append(c.firsts, int64(first))
		c.reasons, c.comments = append(c.reasons, string(l.Reason)), append(c.comments, comments[l.LineID])
		c.amounts = append(c.amounts, l.Subtotal)
	}
	return c
}

// args are the columns as the insert's array parameters, in its order.
func (c itemColumns) args() []any {
	return []any{db.Array(c.lineIDs), db.Array(c.skus), db.Array(c.names), db.Array(c.quantities), db.Array(c.firsts),
		db.Array(c.reasons), db.Array(c.comments), db.Array(c.amounts)}
}

// items are the columns as the return's items, as stored.
func (c itemColumns) items() []Item {
	items := make([]Item, len(c.lineIDs))
	for i := range c.lineIDs {
		items[i] = Item{LineID: c.lineIDs[i], SKU: c.skus[i], Name: c.names[i], Quantity: int(c.quantities[i]),
			Reason: ReasonCode(c.reasons[i]), Comment: c.comments[i], Amount: c.amounts[i]}
	}
	return items
}
