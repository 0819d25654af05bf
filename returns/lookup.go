package returns

import (
	"context"
	"strings"

	"github.com/roundtriphq/roundtrip/internal/auth"
)

// PublicIDPrefix starts every return's public ID.
const PublicIDPrefix = "ret_"

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
