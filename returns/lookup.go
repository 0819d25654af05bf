package returns

import (
	"context"
	"strconv"

	"github.com/roundtriphq/roundtrip/internal/auth"
)

// FindID is Find for a caller that goes on to lock the return (Store.Update, which
// answers ErrNotFound outside the merchant): staff that give the return's ID need
// no read at all. A shopper's return is checked against their order.
func (s *Store) FindID(ctx context.Context, p auth.Principal, idOrRMA string) (int64, error) {
	if id, err := strconv.ParseInt(idOrRMA, 10, 64); err == nil && !p.Shopper() {
		return id, nil
	}
	r, err := s.Find(ctx, p, idOrRMA)
	if err != nil {
		return 0, err
	}
	return r.ID, nil
}

// Find finds a return by its ID or its RMA number (any case, with or without
// dashes) for the caller p: staff and integrations see their merchant's returns, a
// shopper only the returns of their order. Anything else is ErrNotFound, so that
// nobody learns whether another merchant's or order's return exists.
func (s *Store) Find(ctx context.Context, p auth.Principal, idOrRMA string) (*Return, error) {
	var r *Return
	var err error
	if id, perr := strconv.ParseInt(idOrRMA, 10, 64); perr == nil {
		r, err = s.Get(ctx, p.MerchantID, id)
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
