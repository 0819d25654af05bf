// Package analytics answers why customers return things and what it costs, for a
// period: returns and units by reason, SKU and category, the return rate per SKU of
// the period's orders, refunds and store credit per currency, the share of
// merchant-fault reasons, and how long shoppers wait for their money. Every figure
// is one SQL aggregate over the merchant's rows; nothing is kept in memory beyond
// the answer.
//
// Definitions, all over the half-open period [from, to):
//
//   - Returns, items (return lines), units, by reason, by SKU and by category count
//     returns created in the period, whatever became of them.
//   - The return rate of a SKU is a cohort figure: of the orders placed in the period
//     (placed_at), units returned (requested in returns that were not cancelled,
//     rejected or expired, whenever they were made) divided by units ordered. SKUs
//     with orders but no returns have a rate of 0; SKUs returned from older orders have
//     none.
//   - Merchant-fault share: units with a merchant-fault reason (damaged, wrong_item,
//     not_as_described) over all units of the period's returns.
//   - Refunds per currency count refunds created in the period by their status now;
//     store credit counts entries written in the period.
//   - Time to refund: for returns created in the period whose money went back, the
//     time from the return's creation to its first refund that succeeded; p50 and p95
//     by percentile_cont (interpolated).
//   - Feedback counts the shoppers' answers first given in the period, as they are
//     now (a shopper may change theirs): count, mean ease, answers per ease, and the
//     comments under each reason of the return's items.
package analytics

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/roundtriphq/roundtrip/internal/money"
	"github.com/roundtriphq/roundtrip/internal/period"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/roundtriphq/roundtrip/returns"
)

// Summary is the analytics of one period.
type Summary struct {
	From               time.Time             `json:"from"`
	To                 time.Time             `json:"to"`
	Returns            int64                 `json:"returns" example:"412" doc:"Returns created in the period."`
	Items              int64                 `json:"items" example:"530" doc:"Their lines."`
	Units              int64                 `json:"units" example:"611" doc:"Their units."`
	MerchantFaultShare float64               `json:"merchant_fault_share" example:"0.184" doc:"Share of units (0 to 1) returned for a merchant-fault reason."`
	ByReason           []ReasonStat          `json:"by_reason" doc:"Every reason of the catalogue, in catalogue order."`
	BySKU              []SKUStat             `json:"by_sku" doc:"The SKUs returned most (by units), then the period's ordered SKUs by return rate, up to top."`
	ByCategory         []CategoryStat        `json:"by_category" doc:"By the order line's category; empty category for lines without one."`
	Refunds            []CurrencyRefunds     `json:"refunds" doc:"Refunds created in the period, per currency."`
	RefundsFailed      int64                 `json:"refunds_failed" example:"3" doc:"Refunds created in the period that are failed now, all currencies."`
	StoreCredit        []CurrencyStoreCredit `json:"store_credit" doc:"Store credit entries written in the period, per currency."`
	Exchanges          []CurrencyExchanges   `json:"exchanges" doc:"Sales kept by exchanges: replacements released in the period instead of refunds, per currency."`
	TimeToRefund       RefundTiming          `json:"time_to_refund"`
	ShippingCost       []CurrencyShipping    `json:"shipping_cost" doc:"Return shipping: what the labels of the period's returns cost the shop (labels bought through a carrier), per currency."`
	Feedback           FeedbackStats         `json:"feedback" doc:"The shoppers' answers to how easy their return was, first given in the period."`
}

// CurrencyShipping is the return shipping cost of the period's returns in one currency.
type CurrencyShipping struct {
	Currency  string `json:"currency" db:"currency" example:"USD"`
	Labels    int64  `json:"labels" db:"labels" example:"120" doc:"Labels bought."`
	Returns   int64  `json:"returns" db:"returns" example:"112" doc:"Returns with at least one bought label."`
	Amount    int64  `json:"amount" db:"amount" example:"66000" doc:"Minor units paid for the labels, voided ones included (a void's refund at the carrier comes later)."`
	PerReturn int64  `json:"per_return" db:"per_return" example:"589" doc:"Return shipping cost per return: amount / returns, rounded down."`
}

// ReasonStat counts the returns of one reason.
type ReasonStat struct {
	Reason        returns.ReasonCode `json:"reason" enum:"too_small,too_large,not_as_described,damaged,wrong_item,changed_mind,arrived_late,other" example:"too_small"`
	MerchantFault bool               `json:"merchant_fault"`
	Returns       int64              `json:"returns" example:"120" doc:"Returns with at least one line of this reason."`
	Items         int64              `json:"items" example:"131"`
	Units         int64              `json:"units" example:"150"`
}

// SKUStat is one SKU's returns, and its return rate when the period has orders of it.
type SKUStat struct {
	SKU           string   `json:"sku" example:"TEE-BLK-M"`
	Name          string   `json:"name,omitempty" example:"Black T-shirt, M"`
	Category      string   `json:"category,omitempty" example:"t-shirts"`
	Items         int64    `json:"items" example:"40" doc:"Return lines of the period's returns."`
	Units         int64    `json:"units" example:"44" doc:"Units of the period's returns."`
	UnitsOrdered  *int64   `json:"units_ordered,omitempty" example:"400" doc:"Units in orders placed in the period."`
	UnitsReturned *int64   `json:"units_returned_of_ordered,omitempty" example:"38" doc:"Of units_ordered, how many were returned (at any time)."`
	ReturnRate    *float64 `json:"return_rate,omitempty" example:"0.095" doc:"units_returned_of_ordered / units_ordered."`
}

// CategoryStat counts the returns of one product category.
type CategoryStat struct {
	Category string `json:"category" example:"t-shirts"`
	Items    int64  `json:"items" example:"60"`
	Units    int64  `json:"units" example:"71"`
}

// CurrencyRefunds sums refunds in one currency, by their status now.
type CurrencyRefunds struct {
	Currency        string `json:"currency" db:"currency" example:"EUR"`
	Count           int64  `json:"count" db:"count" example:"380"`
	Amount          int64  `json:"amount" db:"amount" example:"1123400" doc:"Minor units."`
	Succeeded       int64  `json:"succeeded" db:"succeeded" example:"370"`
	SucceededAmount int64  `json:"succeeded_amount" db:"succeeded_amount" example:"1098000"`
	InFlight        int64  `json:"in_flight" db:"in_flight" example:"7" doc:"queued, pending or requires_action."`
	InFlightAmount  int64  `json:"in_flight_amount" db:"in_flight_amount" example:"19400"`
	Failed          int64  `json:"failed" db:"failed" example:"3"`
	FailedAmount    int64  `json:"failed_amount" db:"failed_amount" example:"6000"`
	Canceled        int64  `json:"canceled" db:"canceled" example:"0"`
}

// CurrencyStoreCredit sums store credit in one currency.
type CurrencyStoreCredit struct {
	Currency string `json:"currency" db:"currency" example:"EUR"`
	Issued   int64  `json:"issued" db:"issued" example:"45000" doc:"Minor units issued for returns."`
	Bonus    int64  `json:"bonus" db:"bonus" example:"4500" doc:"Bonus on top."`
	Redeemed int64  `json:"redeemed" db:"redeemed" example:"12000" doc:"Spent by shoppers (a positive number), less redemptions given back."`
}

// CurrencyExchanges is what exchanges kept in one currency: "exchanges kept 12 sales
// worth €540.00".
type CurrencyExchanges struct {
	Currency    string `json:"currency" db:"currency" example:"EUR"`
	Kept        int64  `json:"kept" db:"kept" example:"12" doc:"Exchanges whose replacement was released in the period."`
	Worth       int64  `json:"worth" db:"worth" example:"54000" doc:"What their returned items were worth (the sales kept instead of refunded), minor units."`
	Replacement int64  `json:"replacement" db:"replacement" example:"55500" doc:"The replacements' value, minor units."`
	Paid        int64  `json:"paid" db:"paid" example:"1500" doc:"Price differences shoppers paid for dearer replacements, minor units."`
	Summary     string `json:"summary" db:"-" example:"Exchanges kept 12 sales worth €540.00."`
}

// Exchanges sums, per currency, the exchanges whose replacement was released in p:
// the sales they kept instead of refunding.
func Exchanges(ctx context.Context, q sqlx.QueryerContext, merchantID int64, p period.Period) ([]CurrencyExchanges, error) {
	out := []CurrencyExchanges{}
	to := p.To
	if to.IsZero() {
		to = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if err := sqlx.SelectContext(ctx, q, &out, `SELECT currency, count(*) AS kept,
		coalesce(sum(returned_value), 0)::bigint AS worth, coalesce(sum(replacement_value), 0)::bigint AS replacement,
		coalesce(sum(paid), 0)::bigint AS paid
		FROM exchanges WHERE merchant_id = $1 AND released_at >= $2 AND released_at < $3
		GROUP BY currency ORDER BY currency`, merchantID, p.From, to); err != nil {
		return nil, fmt.Errorf("analytics: exchanges: %w", err)
	}
	for i := range out {
		x := &out[i]
		sales := "sales"
		if x.Kept == 1 {
			sales = "sale"
		}
		x.Summary = fmt.Sprintf("Exchanges kept %d %s worth %s.", x.Kept, sales, money.Format(x.Worth, x.Currency))
	}
	return out, nil
}

// RefundTiming is how long shoppers waited for their money.
type RefundTiming struct {
	Returns    int64    `json:"returns" example:"350" doc:"Returns of the period with a refund that succeeded."`
	P50Seconds *float64 `json:"p50_seconds,omitempty" example:"86400" doc:"Median seconds from the return's creation to its first refund that succeeded."`
	P95Seconds *float64 `json:"p95_seconds,omitempty" example:"432000"`
}

// Summarize computes the summary of a merchant's period; top bounds BySKU (default 50).
func Summarize(ctx context.Context, q sqlx.QueryerContext, merchantID int64, p period.Period, top int) (*Summary, error) {
	if top <= 0 {
		top = 50
	}
	s := &Summary{From: p.From, To: p.To, ByReason: []ReasonStat{}, BySKU: []SKUStat{}, ByCategory: []CategoryStat{},
		Refunds: []CurrencyRefunds{}, StoreCredit: []CurrencyStoreCredit{}, Exchanges: []CurrencyExchanges{},
		ShippingCost: []CurrencyShipping{}}
	args := []any{merchantID, p.From, p.To}

	var head struct {
		Returns int64 `db:"returns"`
		Items   int64 `db:"items"`
		Units   int64 `db:"units"`
	}
	if err := sqlx.GetContext(ctx, q, &head, `SELECT count(DISTINCT r.id) AS returns, count(i.id) AS items,
		coalesce(sum(i.quantity), 0) AS units
		FROM returns r LEFT JOIN return_items i ON i.return_id = r.id
		WHERE r.merchant_id = $1 AND r.created_at >= $2 AND r.created_at < $3`, args...); err != nil {
		return nil, fmt.Errorf("analytics: returns: %w", err)
	}
	s.Returns, s.Items, s.Units = head.Returns, head.Items, head.Units

	var err error
	if s.ByReason, err = Reasons(ctx, q, merchantID, p); err != nil {
		return nil, err
	}
	var faultUnits int64
	for _, st := range s.ByReason {
		if st.MerchantFault {
			faultUnits += st.Units
		}
	}
	if s.Units > 0 {
		s.MerchantFaultShare = round4(float64(faultUnits) / float64(s.Units))
	}

	if err := bySKU(ctx, q, s, args, top); err != nil {
		return nil, err
	}

	if err := sqlx.SelectContext(ctx, q, &s.Refunds, `SELECT currency, count(*) AS count, sum(amount)::bigint AS amount,
		count(*) FILTER (WHERE status = 'succeeded') AS succeeded,
		coalesce(sum(amount) FILTER (WHERE status = 'succeeded'), 0)::bigint AS succeeded_amount,
		count(*) FILTER (WHERE status IN ('queued', 'pending', 'requires_action')) AS in_flight,
		coalesce(sum(amount) FILTER (WHERE status IN ('queued', 'pending', 'requires_action')), 0)::bigint AS in_flight_amount,
		count(*) FILTER (WHERE status = 'failed') AS failed,
		coalesce(sum(amount) FILTER (WHERE status = 'failed'), 0)::bigint AS failed_amount,
		count(*) FILTER (WHERE status = 'canceled') AS canceled
		FROM refunds WHERE merchant_id = $1 AND created_at >= $2 AND created_at < $3
		GROUP BY currency ORDER BY currency`, args...); err != nil {
		return nil, fmt.Errorf("analytics: refunds: %w", err)
	}
	for _, r := range s.Refunds {
		s.RefundsFailed += r.Failed
	}

	if err := sqlx.SelectContext(ctx, q, &s.StoreCredit, `SELECT currency,
		coalesce(sum(amount) FILTER (WHERE kind = 'issued'), 0)::bigint AS issued,
		coalesce(sum(amount) FILTER (WHERE kind = 'bonus'), 0)::bigint AS bonus,
		coalesce(-sum(amount) FILTER (WHERE kind IN ('redeemed', 'reversed')), 0)::bigint AS redeemed
		FROM store_credit_entries WHERE merchant_id = $1 AND created_at >= $2 AND created_at < $3
		GROUP BY currency ORDER BY currency`, args...); err != nil {
		return nil, fmt.Errorf("analytics: store credit: %w", err)
	}
	x, err := Exchanges(ctx, q, merchantID, p)
	if err != nil {
		return nil, err
	}
	s.Exchanges = x

	if err := sqlx.SelectContext(ctx, q, &s.ShippingCost, `SELECT p.label_currency AS currency, count(*) AS labels,
		count(DISTINCT p.return_id) AS returns, sum(p.label_amount)::bigint AS amount,
		(sum(p.label_amount) / count(DISTINCT p.return_id))::bigint AS per_return
		FROM parcels p JOIN returns r ON r.id = p.return_id
		WHERE r.merchant_id = $1 AND r.created_at >= $2 AND r.created_at < $3 AND p.label_amount IS NOT NULL
		GROUP BY p.label_currency ORDER BY p.label_currency`, args...); err != nil {
		return nil, fmt.Errorf("analytics: shipping cost: %w", err)
	}

	var timing struct {
		N   int64    `db:"n"`
		P50 *float64 `db:"p50"`
		P95 *float64 `db:"p95"`
	}
	if err := sqlx.GetContext(ctx, q, &timing, `SELECT count(*) AS n,
		percentile_cont(0.5) WITHIN GROUP (ORDER BY secs) AS p50, percentile_cont(0.95) WITHIN GROUP (ORDER BY secs) AS p95
		FROM (SELECT extract(epoch FROM min(f.settled_at) - r.created_at)::float8 AS secs
			FROM returns r JOIN refunds f ON f.return_id = r.id AND f.status = 'succeeded' AND f.settled_at IS NOT NULL
			WHERE r.merchant_id = $1 AND r.created_at >= $2 AND r.created_at < $3 GROUP BY r.id, r.created_at) t`, args...); err != nil {
		return nil, fmt.Errorf("analytics: time to refund: %w", err)
	}
	s.TimeToRefund = RefundTiming{Returns: timing.N, P50Seconds: timing.P50, P95Seconds: timing.P95}
	if s.Feedback, err = Feedback(ctx, q, merchantID, p); err != nil {
		return nil, err
	}
	return s, nil
}

// Reasons counts the returns created in a period by reason, one entry for every
// reason in returns.Reasons() order (zero when none).
func Reasons(ctx context.Context, q sqlx.QueryerContext, merchantID int64, p period.Period) ([]ReasonStat, error) {
	var rows []struct {
		Reason  string `db:"reason"`
		Returns int64  `db:"returns"`
		Items   int64  `db:"items"`
		Units   int64  `db:"units"`
	}
	if err := sqlx.SelectContext(ctx, q, &rows, `SELECT i.reason, count(DISTINCT r.id) AS returns, count(*) AS items,
		sum(i.quantity) AS units
		FROM returns r JOIN return_items i ON i.return_id = r.id
		WHERE r.merchant_id = $1 AND r.created_at >= $2 AND ($3::timestamptz IS NULL OR r.created_at < $3)
		GROUP BY i.reason`, merchantID, p.From, nullTime(p.To)); err != nil {
		return nil, fmt.Errorf("analytics: reasons: %w", err)
	}
	out := []ReasonStat{}
	for _, rc := range returns.Reasons() {
		st := ReasonStat{Reason: rc.Code, MerchantFault: rc.MerchantFault}
		for _, r := range rows {
			if r.Reason == string(rc.Code) {
				st.Returns, st.Items, st.Units = r.Returns, r.Items, r.Units
			}
		}
		out = append(out, st)
	}
	return out, nil
}

// DayRefunds is the refunds created on one day (UTC) in one currency.
type DayRefunds struct {
	Day      time.Time `db:"day"`
	Currency string    `db:"currency"`
	Count    int64     `db:"n"`
	Amount   int64     `db:"amount"`
}

// RefundsByDay sums the refunds created on each day (UTC) from the day of from on,
// per currency, oldest first; days without refunds are left out.
func RefundsByDay(ctx context.Context, q sqlx.QueryerContext, merchantID int64, from time.Time) ([]DayRefunds, error) {
	var rows []DayRefunds
	err := sqlx.SelectContext(ctx, q, &rows, `SELECT date_trunc('day', created_at AT TIME ZONE 'UTC') AS day, currency,
		count(*) AS n, sum(amount)::bigint AS amount
		FROM refunds WHERE merchant_id = $1 AND created_at >= $2 GROUP BY 1, 2 ORDER BY 1, 2`, merchantID, from)
	if err != nil {
		return nil, fmt.Errorf("analytics: refunds by day: %w", err)
	}
	return rows, nil
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

type skuRow struct {
	SKU      string `db:"sku"`
	Name     string `db:"name"`
	Category string `db:"category"`
	Items    int64  `db:"items"`
	Units    int64  `db:"units"`
}

type cohortRow struct {
	SKU      string `db:"sku"`
	Name     string `db:"name"`
	Category string `db:"category"`
	Ordered  int64  `db:"ordered"`
	Returned int64  `db:"returned"`
}

// bySKU fills BySKU and ByCategory.
func bySKU(ctx context.Context, q sqlx.QueryerContext, s *Summary, args []any, top int) error {
	var rows []skuRow
	if err := sqlx.SelectContext(ctx, q, &rows, `SELECT i.sku, max(i.name) AS name, coalesce(max(ol.l->>'category'), '') AS category,
		count(*) AS items, sum(i.quantity) AS units
		FROM returns r JOIN return_items i ON i.return_id = r.id JOIN orders o ON o.id = r.order_id
		LEFT JOIN LATERAL (SELECT x AS l FROM jsonb_array_elements(o.data->'lines') x WHERE x->>'id' = i.line_id LIMIT 1) ol ON true
		WHERE r.merchant_id = $1 AND r.created_at >= $2 AND r.created_at < $3
		GROUP BY i.sku`, args...); err != nil {
		return fmt.Errorf("analytics: skus: %w", err)
	}
	cats := map[string]*CategoryStat{}
	for _, r := range rows {
		c := cats[r.Category]
		if c == nil {
			c = &CategoryStat{Category: r.Category}
			cats[r.Category] = c
		}
		c.Items += r.Items
		c.Units += r.Units
	}
	for _, c := range cats {
		s.ByCategory = append(s.ByCategory, *c)
	}
	slices.SortFunc(s.ByCategory, func(a, b CategoryStat) int {
		return cmp.Or(cmp.Compare(b.Units, a.Units), cmp.Compare(a.Category, b.Category))
	})

	// the cohort: units of the period's orders, and how many of them went back
	var cohort []cohortRow
	if err := sqlx.SelectContext(ctx, q, &cohort, `WITH lines AS (
			SELECT o.id AS order_id, l->>'id' AS line_id, l->>'sku' AS sku, l->>'name' AS name,
				coalesce(l->>'category', '') AS category, (l->>'quantity')::bigint AS quantity
			FROM orders o, jsonb_array_elements(o.data->'lines') l
			WHERE o.merchant_id = $1 AND (o.data->>'placed_at')::timestamptz >= $2 AND (o.data->>'placed_at')::timestamptz < $3),
		back AS (
			SELECT r.order_id, i.line_id, sum(i.quantity) AS units FROM returns r JOIN return_items i ON i.return_id = r.id
			WHERE r.merchant_id = $1 AND r.order_id IN (SELECT order_id FROM lines) AND r.state <> ALL($4)
			GROUP BY r.order_id, i.line_id)
		SELECT l.sku, max(l.name) AS name, max(l.category) AS category, sum(l.quantity)::bigint AS ordered,
			coalesce(sum(least(coalesce(b.units, 0), l.quantity)), 0)::bigint AS returned
		FROM lines l LEFT JOIN back b ON b.order_id = l.order_id AND b.line_id = l.line_id
		GROUP BY l.sku`, append(args, pq.Array([]string{string(returns.StateCancelled), string(returns.StateRejected),
		string(returns.StateExpired)}))...); err != nil {
		return fmt.Errorf("analytics: return rates: %w", err)
	}
	stats := map[string]*SKUStat{}
	for _, r := range rows {
		stats[r.SKU] = &SKUStat{SKU: r.SKU, Name: r.Name, Category: r.Category, Items: r.Items, Units: r.Units}
	}
	for _, c := range cohort {
		st := stats[c.SKU]
		if st == nil {
			st = &SKUStat{SKU: c.SKU, Name: c.Name, Category: c.Category}
			stats[c.SKU] = st
		}
		ordered, returned := c.Ordered, c.Returned
		st.UnitsOrdered, st.UnitsReturned = &ordered, &returned
		if ordered > 0 {
			rate := round4(float64(returned) / float64(ordered))
			st.ReturnRate = &rate
		}
	}
	for _, st := range stats {
		s.BySKU = append(s.BySKU, *st)
	}
	rate := func(x SKUStat) float64 {
		if x.ReturnRate == nil {
			return -1
		}
		return *x.ReturnRate
	}
	slices.SortFunc(s.BySKU, func(a, b SKUStat) int {
		return cmp.Or(cmp.Compare(b.Units, a.Units), cmp.Compare(rate(b), rate(a)), cmp.Compare(a.SKU, b.SKU))
	})
	if len(s.BySKU) > top {
		s.BySKU = s.BySKU[:top]
	}
	return nil
}

func round4(x float64) float64 { return math.Round(x*10000) / 10000 }
