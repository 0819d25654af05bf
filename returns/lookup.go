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

	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/internal/db"
)

// PublicIDPrefix starts every return's public ID.
const PublicIDPrefix = "ret_"

// lookup is the condition on r (the return) that finds idOrRMA, a public ID
// (ret_…) or an RMA number, for p, and its arguments: $1 is the merchant, $2 the
// key and, for a shopper, whose return must be of their order, $3 the order. The
// order is an argument, not part of the text, so that every shopper's request is
// the same prepared statement with the same plan. ok is false for what can be
// neither.
func lookup(p auth.Principal, idOrRMA string) (where string, args []any, ok bool) {
	col, k := "public_id", idOrRMA
	if !strings.HasPrefix(idOrRMA, PublicIDPrefix) {
		rma, ok := ParseRMA(idOrRMA)
		if !ok {
			return "", nil, false
		}
		col, k = "rma", rma
	}
	where, args = `r.`+col+` = $2`, []any{p.MerchantID, k}
	if p.Shopper() {
		where, args = where+` AND r.order_id = $3`, append(args, p.OrderID)
	}
	return where, args, true
}

// UpdateFor is Store.Update for the return that Find would find for p (by its public
// ID or its RMA number): the return is found and locked in one statement, and
// anything else is ErrNotFound.
func (s *Store) UpdateFor(ctx context.Context, p auth.Principal, idOrRMA string, fn func(context.Context, *Tx) error) (*Return, error) {
	where, args, ok := lookup(p, idOrRMA)
	if !ok {
		return nil, ErrNotFound
	}
	return s.update(ctx, where, args, nil, fn)
}

// UpdateForReading is UpdateFor with read riding on the statement that locks the
// return (Tx.LockRead).
func (s *Store) UpdateForReading(ctx context.Context, p auth.Principal, idOrRMA string, read LockRead, fn func(context.Context, *Tx) error) (*Return, error) {
	where, args, ok := lookup(p, idOrRMA)
	if !ok {
		return nil, ErrNotFound
	}
	return s.update(ctx, where, args, &read, fn)
}

// Find finds a return by its public ID (ret_…) or its RMA number (any case, with or without
// dashes) for the caller p: staff and integrations see their merchant's returns, a
// shopper only the returns of their order. Anything else is ErrNotFound, so that
// nobody learns whether another merchant's or order's return exists.
func (s *Store) Find(ctx context.Context, p auth.Principal, idOrRMA string) (*Return, error) {
	var r *Return
	var err error
	if strings.HasPrefix(idOrRMA, PublicIDPrefix) {
		r, err = s.ByPublicID(ctx, p.MerchantID, idOrRMA)
	} else if rma, ok := ParseRMA(idOrRMA); ok {
		r, err = s.ByRMA(ctx, p.MerchantID, rma)
	} else {
		err = ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if p.Shopper() && r.OrderID != p.OrderID {
		return nil, ErrNotFound
	}
	return r, nil
}

// Read is a return read with its order and, in the same statement, what a package
// above returns keeps of it (Extra), for a request that needs all three.
type Read struct {
	Return *Return
	Order  OrderRecord
	// Extra is the JSON that the caller's expression computed (null without one).
	Extra json.RawMessage
}

// FindWith is Find for a caller that also needs the return's order and rows of its
// own about the return, in one statement: extra is a JSON expression over the return
// (r) and its order (o), such as the return's parcels, and comes back as Read.Extra.
// The return's feedback is not read.
func (s *Store) FindWith(ctx context.Context, p auth.Principal, idOrRMA, extra string) (Read, error) {
	where, args, ok := lookup(p, idOrRMA)
	if !ok {
		return Read{}, ErrNotFound
	}
	return ReadWith(ctx, s.db, extra, where, args...)
}

// ReadWith reads, on q, the return that where picks (a condition on r, the return,
// with $1 the merchant), with its items, its order and extra as FindWith does.
func ReadWith(ctx context.Context, q sqlx.QueryerContext, extra, where string, args ...any) (Read, error) {
	var row readRow
	err := sqlx.GetContext(ctx, q, &row, readSelect(extra)+` WHERE r.merchant_id = $1 AND `+where, args...)
	if errors.Is(err, sql.ErrNoRows) {
		return Read{}, ErrNotFound
	}
	if err != nil {
		return Read{}, fmt.Errorf("returns: read %v: %w", args[1:], err)
	}
	return row.read()
}

// ReadJSON is an SQL expression, for use inside another statement (an outbox
// claim's Batch.Read, say), whose value is what ReadWith reads as JSON: the return
// that where picks (a condition on r, the return, and on the enclosing statement's
// rows), with its items, its order and extra; NULL when there is none. DecodeRead
// turns it into a Read.
func ReadJSON(extra, where string) string {
	return `(SELECT row_to_json(x) FROM (` + readSelect(extra) + ` WHERE ` + where + ` LIMIT 1) x)`
}

// DecodeRead decodes a ReadJSON value; ErrNotFound when it is null.
func DecodeRead(raw []byte) (Read, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return Read{}, ErrNotFound
	}
	var row readRow
	if err := db.UnmarshalRows(raw, &row); err != nil {
		return Read{}, fmt.Errorf("returns: read: %w", err)
	}
	return row.read()
}

func readSelect(extra string) string {
	if extra == "" {
		extra = `NULL::json`
	}
	return `SELECT ` + returnCols + `, ` + returnItemsJSON + `, o.data AS order_data,
		o.revision AS order_revision, o.created_at AS order_created_at, o.updated_at AS order_updated_at, ` + extra + ` AS extra
		FROM returns r JOIN orders o ON o.id = r.order_id`
}

// readRow is the row ReadWith and ReadJSON read.
type readRow struct {
	returnWithItems
	OrderData      []byte    `db:"order_data"`
	OrderRevision  int       `db:"order_revision"`
	OrderCreatedAt time.Time `db:"order_created_at"`
	OrderUpdatedAt time.Time `db:"order_updated_at"`
	Extra          []byte    `db:"extra"`
}

func (row readRow) read() (Read, error) {
	r, err := row.returnWithItems.ret()
	if err != nil {
		return Read{}, err
	}
	o, err := orderRow{ID: r.OrderID, Number: r.OrderNumber, Data: row.OrderData, Revision: row.OrderRevision,
		CreatedAt: row.OrderCreatedAt, UpdatedAt: row.OrderUpdatedAt}.record()
	if err != nil {
		return Read{}, err
	}
	return Read{Return: r, Order: o, Extra: row.Extra}, nil
}
