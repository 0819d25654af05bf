package returns

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/roundtriphq/roundtrip/internal/db"
	"github.com/roundtriphq/roundtrip/internal/ratelimit"
)

// Orders as the shop sent them, and what their returns hold.

type orderRow struct {
	ID        int64     `db:"id"`
	Number    string    `db:"number"`
	Data      []byte    `db:"data"`
	Revision  int       `db:"revision"`
	CreatedAt time.Time `db:"created_at"`
	UpdatedAt time.Time `db:"updated_at"`
}

func (r orderRow) record() (OrderRecord, error) {
	rec := OrderRecord{ID: r.ID, Number: r.Number, Revision: r.Revision, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
	if err := decodedOrders.decode(r.ID, r.Data, &rec.Order); err != nil {
		return OrderRecord{}, fmt.Errorf("returns: order %s: %w", r.Number, err)
	}
	return rec, nil
}

const orderCols = `id, number, data, revision, created_at, updated_at`

// PutOrder creates or replaces an order. created is true for a new order.
func (s *Store) PutOrder(ctx context.Context, merchantID int64, number string, o Order) (rec OrderRecord, created bool, err error) {
	data, err := json.Marshal(o)
	if err != nil {
		return OrderRecord{}, false, err
	}
	var row struct {
		orderRow
		Inserted bool `db:"inserted"`
	}
	err = s.db.GetContext(ctx, &row, `INSERT INTO orders (merchant_id, number, email, currency, data)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (merchant_id, number) DO UPDATE SET email = EXCLUDED.email, currency = EXCLUDED.currency,
			data = EXCLUDED.data, revision = orders.revision + 1, updated_at = now()
			WHERE orders.data IS DISTINCT FROM EXCLUDED.data
		RETURNING `+orderCols+`, (xmax = 0) AS inserted`,
		merchantID, number, NormalizeEmail(o.Customer.Email), o.Currency, data)
	if errors.Is(err, sql.ErrNoRows) {
		// the same order again: nothing changed
		rec, err := s.Order(ctx, merchantID, number)
		return rec, false, err
	}
	if err != nil {
		return OrderRecord{}, false, fmt.Errorf("returns: put order %s: %w", number, err)
	}
	rec, err = row.orderRow.record()
	return rec, row.Inserted, err
}

// Order finds an order by number.
func (s *Store) Order(ctx context.Context, merchantID int64, number string) (OrderRecord, error) {
	return s.order(ctx, s.db, `merchant_id = $1 AND number = $2`, merchantID, number)
}

// OrderByID finds an order by ID.
func (s *Store) OrderByID(ctx context.Context, merchantID, id int64) (OrderRecord, error) {
	return s.order(ctx, s.db, `merchant_id = $1 AND id = $2`, merchantID, id)
}

// RecentOrders returns a merchant's most recently created orders, newest first, at
// most limit (default 20).
func (s *Store) RecentOrders(ctx context.Context, merchantID int64, limit int) ([]OrderRecord, error) {
	if limit <= 0 {
		limit = 20
	}
	var rows []orderRow
	err := s.db.SelectContext(ctx, &rows, `SELECT `+orderCols+` FROM orders WHERE merchant_id = $1
		ORDER BY id DESC LIMIT $2`, merchantID, limit)
	if err != nil {
		return nil, fmt.Errorf("returns: recent orders: %w", err)
	}
	out := make([]OrderRecord, 0, len(rows))
	for _, r := range rows {
		rec, err := r.record()
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
	return out, nil
}

// FindOrder finds an order by number and the shopper's email (any case, spaces around).
func (s *Store) FindOrder(ctx context.Context, merchantID int64, number, email string) (OrderRecord, error) {
	where, args := byNumberAndEmail(merchantID, number, email)
	return s.order(ctx, s.db, where, args...)
}

// byNumberAndEmail is the condition on orders that FindOrder looks an order up by.
func byNumberAndEmail(merchantID int64, number, email string) (where string, args []any) {
	return `merchant_id = $1 AND lower(number) = lower($2) AND email = $3`,
		[]any{merchantID, strings.TrimSpace(number), NormalizeEmail(email)}
}

// FindOrderCounted is FindOrder in the statement that counts a failed attempt on
// bucket against limit (ratelimit.Limiter.CountMiss) and, first, the hit client (the
// client address's attempts, when its Limiter is set): one round trip for a portal
// sign-in, which writes nothing on bucket when the order is found at the first try.
// An attempt over either limit answers how long to wait, and no order. Finding the
// order after failed attempts forgets them (only failures count). A nil limit counts
// nothing on bucket.
func (s *Store) FindOrderCounted(ctx context.Context, merchantID int64, number, email string,
	limit *ratelimit.Limiter, bucket string, client ratelimit.Hit, now time.Time) (OrderRecord, time.Duration, error) {
	where, args := byNumberAndEmail(merchantID, number, email)
	if limit == nil {
		if wait, err := ratelimit.AllowAll(ctx, now, client); err != nil || wait > 0 {
			return OrderRecord{}, wait, err
		}
		o, err := s.order(ctx, s.db, where, args...)
		return o, 0, err
	}
	res, err := limit.CountMiss(ctx, now, client, bucket, `SELECT `+orderCols+` FROM orders WHERE `+where, args...)
	switch {
	case err != nil:
		return OrderRecord{}, 0, err
	case !res.OK:
		return OrderRecord{}, res.RetryAfter, nil
	case res.Row == nil:
		return OrderRecord{}, 0, ErrNotFound
	}
	var row orderRow
	if err := db.UnmarshalRows(res.Row, &row); err != nil {
		return OrderRecord{}, 0, fmt.Errorf("returns: order: %w", err)
	}
	o, err := row.record()
	if err != nil {
		return OrderRecord{}, 0, err
	}
	if res.Earlier {
		if err := limit.Reset(ctx, bucket); err != nil {
			return OrderRecord{}, 0, err
		}
	}
	return o, 0, nil
}

func (s *Store) order(ctx context.Context, q sqlx.QueryerContext, where string, args ...any) (OrderRecord, error) {
	var row orderRow
	err := sqlx.GetContext(ctx, q, &row, `SELECT `+orderCols+` FROM orders WHERE `+where, args...)
	if errors.Is(err, sql.ErrNoRows) {
		return OrderRecord{}, ErrNotFound
	}
	if err != nil {
		return OrderRecord{}, fmt.Errorf("returns: order: %w", err)
	}
	return row.record()
}

// LineHoldings is what the order's returns hold of each line.
type LineHoldings struct {
	// Open are units in returns still under way.
	Open map[string]int
	// Returned are units in completed returns.
	Returned map[string]int
}

// prior gathers what the order's active returns hold (cancelled, rejected and expired
// returns hold nothing), for quoting another return.
func prior(ctx context.Context, q sqlx.QueryerContext, merchantID, orderID int64) (Prior, LineHoldings, error) {
	rows, err := priorReturns(ctx, q, merchantID, orderID)
	if err != nil {
		return Prior{}, LineHoldings{}, err
	}
	return priorOf(rows)
}

// priorReturns reads the order's active returns, by ID.
func priorReturns(ctx context.Context, q sqlx.QueryerContext, merchantID, orderID int64) ([]priorReturn, error) {
	var rows []priorReturn
	err := sqlx.SelectContext(ctx, q, &rows, `SELECT id, state, quote FROM returns
		WHERE merchant_id = $1 AND order_id = $2 AND state NOT IN ('cancelled', 'rejected', 'expired') ORDER BY id`, merchantID, orderID)
	if err != nil {
		return nil, fmt.Errorf("returns: prior returns: %w", err)
	}
	return rows, nil
}

// priorReturn is another return of the order, as prior reads it.
type priorReturn struct {
	ID    int64           `db:"id" json:"id"`
	State string          `db:"state" json:"state"`
	Quote json.RawMessage `db:"quote" json:"quote"`
}

// priorIDs are the IDs of rows, which priorReturns and priorReturnsJSONOf order.
func priorIDs(rows []priorReturn) []int64 {
	ids := make([]int64, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	return ids
}

// priorReturnsJSON is prior's query as one JSON array, for a statement that reads it
// with something else ($1 the merchant, $2 the order).
var priorReturnsJSON = priorReturnsJSONOf(`$2`)

// priorReturnsJSONOf is priorReturnsJSON for the order whose ID is the SQL expression
// order ($1 the merchant).
func priorReturnsJSONOf(order string) string {
	return `coalesce((SELECT json_agg(json_build_object('id', x.id, 'state', x.state, 'quote', x.quote) ORDER BY x.id)
	FROM returns x WHERE x.merchant_id = $1 AND x.order_id = ` + order + ` AND x.state NOT IN ('cancelled', 'rejected', 'expired')), '[]')`
}

func priorOf(rows []priorReturn) (Prior, LineHoldings, error) {
	p := Prior{Units: map[string][]UnitRange{}}
	h := LineHoldings{Open: map[string]int{}, Returned: map[string]int{}}
	for _, r := range rows {
		var qr QuoteResult
		if err := json.Unmarshal(r.Quote, &qr); err != nil {
			return Prior{}, LineHoldings{}, fmt.Errorf("returns: stored quote: %w", err)
		}
		p.Refunded += qr.PaymentAmount
		p.ShippingRefunded += qr.ShippingRefund
		for _, l := range qr.Lines {
			if !l.Eligible {
				continue
			}
			p.Units[l.LineID] = append(p.Units[l.LineID], l.Units...)
			if State(r.State) == StateCompleted {
				h.Returned[l.LineID] += l.Quantity
			} else {
				h.Open[l.LineID] += l.Quantity
			}
		}
	}
	return p, h, nil
}

// Holdings returns what the order's returns hold per line.
func (s *Store) Holdings(ctx context.Context, merchantID, orderID int64) (LineHoldings, error) {
	_, h, err := prior(ctx, s.db, merchantID, orderID)
	return h, err
}
