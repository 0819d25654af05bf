package refunds

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/jmoiron/sqlx"
)

// Total is what a merchant's refunds and store credit came to in one currency:
// over a period (refunded, paid outside, store credit issued), and now (store
// credit outstanding, failed refunds still to settle, refunds waiting for Stripe).
type Total struct {
	Currency string `json:"currency" example:"EUR"`
	// in the period
	Refunded       int64 `json:"refunded" doc:"Refunds that succeeded in the period, minor units."`
	RefundedCount  int64 `json:"refunded_count"`
	Outside        int64 `json:"refunded_outside" doc:"Failed refunds recorded in the period as paid back outside Roundtrip."`
	OutsideCount   int64 `json:"refunded_outside_count"`
	CreditIssued   int64 `json:"store_credit_issued" doc:"Store credit issued in the period, bonuses included."`
	CreditReplaced int64 `json:"store_credit_for_failed_refunds" doc:"Of that, store credit given for failed refunds."`
	// now
	CreditOutstanding int64 `json:"store_credit_outstanding" doc:"Store credit the shop owes now: unspent and not expired (the liability)."`
	Failed            int64 `json:"failed" doc:"Failed refunds not yet retried or settled, now."`
	FailedCount       int64 `json:"failed_count"`
	Waiting           int64 `json:"waiting" doc:"Refunds queued or waiting for Stripe (pending, requires_action), now."`
	WaitingCount      int64 `json:"waiting_count"`
}

// Totals adds up a merchant's refunds and store credit per currency: the flows of
// [from, to) and the balances of now.
func Totals(ctx context.Context, q sqlx.QueryerContext, merchantID int64, from, to time.Time) ([]Total, error) {
	byCur := map[string]*Total{}
	get := func(c string) *Total {
		if byCur[c] == nil {
			byCur[c] = &Total{Currency: c}
		}
		return byCur[c]
	}
	type row struct {
		Currency string `db:"currency"`
		A, N     int64
		B, M     int64
	}
	var rows []row
	err := sqlx.SelectContext(ctx, q, &rows, `SELECT currency,
		coalesce(sum(amount) FILTER (WHERE status = 'succeeded' AND settled_at >= $2 AND settled_at < $3), 0) AS a,
		count(*) FILTER (WHERE status = 'succeeded' AND settled_at >= $2 AND settled_at < $3) AS n,
		coalesce(sum(amount) FILTER (WHERE closed_as = 'outside' AND closed_at >= $2 AND closed_at < $3), 0) AS b,
		count(*) FILTER (WHERE closed_as = 'outside' AND closed_at >= $2 AND closed_at < $3) AS m
		FROM refunds WHERE merchant_id = $1 AND (settled_at >= $2 OR closed_at >= $2) GROUP BY currency`, merchantID, from, to)
	if err != nil {
		return nil, fmt.Errorf("refunds: totals: %w", err)
	}
	for _, r := range rows {
		t := get(r.Currency)
		t.Refunded, t.RefundedCount, t.Outside, t.OutsideCount = r.A, r.N, r.B, r.M
	}
	rows = rows[:0]
	err = sqlx.SelectContext(ctx, q, &rows, `SELECT currency,
		coalesce(sum(amount) FILTER (WHERE status = 'failed' AND closed_as IS NULL), 0) AS a,
		count(*) FILTER (WHERE status = 'failed' AND closed_as IS NULL) AS n,
		coalesce(sum(amount) FILTER (WHERE status IN ('queued', 'pending', 'requires_action')), 0) AS b,
		count(*) FILTER (WHERE status IN ('queued', 'pending', 'requires_action')) AS m
		FROM refunds WHERE merchant_id = $1 AND (status IN ('queued', 'pending', 'requires_action') OR (status = 'failed' AND closed_as IS NULL))
		GROUP BY currency`, merchantID)
	if err != nil {
		return nil, fmt.Errorf("refunds: totals: %w", err)
	}
	for _, r := range rows {
		t := get(r.Currency)
		t.Failed, t.FailedCount, t.Waiting, t.WaitingCount = r.A, r.N, r.B, r.M
	}
	rows = rows[:0]
	err = sqlx.SelectContext(ctx, q, &rows, `SELECT e.currency,
		coalesce(sum(e.amount), 0) AS a,
		coalesce(sum(e.amount) FILTER (WHERE f.id IS NOT NULL), 0) AS b, 0 AS n, 0 AS m
		FROM store_credit_entries e
		LEFT JOIN LATERAL (SELECT f.id FROM refunds f WHERE f.return_id = e.return_id AND f.closed_as = 'store_credit'
			AND f.amount = e.amount AND f.closed_at = e.created_at LIMIT 1) f ON true
		WHERE e.merchant_id = $1 AND e.kind IN ('issued', 'bonus') AND e.created_at >= $2 AND e.created_at < $3
		GROUP BY e.currency`, merchantID, from, to)
	if err != nil {
		return nil, fmt.Errorf("refunds: totals: %w", err)
	}
	for _, r := range rows {
		t := get(r.Currency)
		t.CreditIssued, t.CreditReplaced = r.A, r.B
	}
	rows = rows[:0]
	err = sqlx.SelectContext(ctx, q, &rows, `SELECT currency, coalesce(sum(balance), 0)::bigint AS a, 0 AS n, 0 AS b, 0 AS m
		FROM store_credits WHERE merchant_id = $1 AND balance > 0 AND (expires_at IS NULL OR expires_at > now())
		GROUP BY currency`, merchantID)
	if err != nil {
		return nil, fmt.Errorf("refunds: totals: %w", err)
	}
	for _, r := range rows {
		get(r.Currency).CreditOutstanding = r.A
	}
	out := make([]Total, 0, len(byCur))
	for _, t := range byCur {
		out = append(out, *t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Currency < out[j].Currency })
	return out, nil
}

// DayRefunded is the money that reached shoppers' payments on one day (UTC) in one
// currency: the refunds that succeeded that day.
type DayRefunded struct {
	Day      time.Time `db:"day"`
	Currency string    `db:"currency"`
	Count    int64     `db:"n"`
	Amount   int64     `db:"amount"`
}

// RefundedByDay sums the refunds that succeeded on each day of [from, to), per
// currency, oldest first; days without any are left out.
func RefundedByDay(ctx context.Context, q sqlx.QueryerContext, merchantID int64, from, to time.Time) ([]DayRefunded, error) {
	var rows []DayRefunded
	err := sqlx.SelectContext(ctx, q, &rows, `SELECT date_trunc('day', settled_at AT TIME ZONE 'UTC') AS day, currency,
		count(*) AS n, sum(amount)::bigint AS amount
		FROM refunds WHERE merchant_id = $1 AND status = 'succeeded' AND settled_at >= $2 AND settled_at < $3
		GROUP BY 1, 2 ORDER BY 1, 2`, merchantID, from, to)
	if err != nil {
		return nil, fmt.Errorf("refunds: refunded by day: %w", err)
	}
	return rows, nil
}
