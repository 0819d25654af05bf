package returns

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/roundtriphq/roundtrip/internal/auth"
)

// PublicIDPrefix starts every return's public ID.
const PublicIDPrefix = "ret_"

// FindID is Find for a caller that goes on to lock the return (Store.Update, which
// answers ErrNotFound outside the merchant): it reads only the return's internal key,
// by its public ID (ret_…) or its RMA number, in one statement. A shopper's return is
// checked against their order. A bare number is not a return's ID.
func (s *Store) FindID(ctx context.Context, p auth.Principal, idOrRMA string) (int64, error) {
	col, key := "public_id", idOrRMA
	if !strings.HasPrefix(idOrRMA, PublicIDPrefix) {
		rma, ok := ParseRMA(idOrRMA)
		if !ok {
			return 0, ErrNotFound
		}
		col, key = "rma", rma
	}
	q, args := `SELECT id FROM returns WHERE merchant_id = $1 AND `+col+` = $2`, []any{p.MerchantID, key}
	if p.Shopper() {
		q += ` AND order_id = $3`
		args = append(args, p.OrderID)
	}
	var id int64
	err := s.db.GetContext(ctx, &id, q, args...)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, ErrNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("returns: find: %w", err)
	}
	return id, nil
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
