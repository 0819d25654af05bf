package returns

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"
)

// The serial-returner rule counts a shopper's recent returns with the shop. The
// refunds package applies it when a receipt accepts units; the admin console shows
// the same count next to each return waiting for review.

// RecentReturns counts the returns a shopper (by email, as stored) started with the
// merchant within the last days days that still count: every return except
// cancelled and rejected ones.
func RecentReturns(ctx context.Context, q sqlx.QueryerContext, merchantID int64, email string, days int) (int, error) {
	var n int
	err := sqlx.GetContext(ctx, q, &n, `SELECT count(*) FROM returns WHERE merchant_id = $1 AND customer_email = $2
		AND state NOT IN ('cancelled', 'rejected') AND created_at > now() - $3 * interval '1 day'`,
		merchantID, NormalizeEmail(email), days)
	if err != nil {
		return 0, fmt.Errorf("returns: recent returns: %w", err)
	}
	return n, nil
}

// Applies reports whether the rule is on and complete.
func (s SerialReturner) Applies() bool {
	return s.Enabled && s.MaxReturns > 0 && s.PeriodDays > 0
}

// Holds reports whether the rule holds the refunds of a shopper with recent returns
// within its period (RecentReturns): more than MaxReturns.
func (s SerialReturner) Holds(recent int) bool {
	return s.Applies() && recent > s.MaxReturns
}
