package refunds

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// CreditEntry is one movement of store credit; entries are never changed.
type CreditEntry struct {
	ID        string    `json:"id" db:"public_id" example:"sc_7b2n5z8p1r4t6w9k3q0m2x5c8v"`
	Currency  string    `json:"currency" db:"currency" example:"EUR"`
	Amount    int64     `json:"amount" db:"amount" example:"2975" doc:"Minor units; negative for redemptions."`
	Kind      string    `json:"kind" db:"kind" example:"issued" doc:"issued, bonus, redeemed or adjusted."`
	ReturnID  *string   `json:"return_id,omitempty" db:"return_id" example:"ret_5kq2m9x4c8v1b7n3z6p0r4t2wd" doc:"The return's ID."`
	Note      string    `json:"note,omitempty" db:"note"`
	CreatedAt time.Time `json:"created_at" db:"created_at"`
}

// Balance is the store credit in one currency.
type Balance struct {
	Currency string `json:"currency" example:"EUR"`
	Amount   int64  `json:"amount" example:"3272"`
}

// Credit is a shopper's store credit.
type Credit struct {
	Email    string        `json:"email" example:"ada@example.com"`
	Balances []Balance     `json:"balances"`
	Entries  []CreditEntry `json:"entries"`
}

// StoreCredit reads a shopper's ledger; the balance is the sum of its entries.
func StoreCredit(ctx context.Context, d *sqlx.DB, merchantID int64, email string) (Credit, error) {
	c := Credit{Email: email, Balances: []Balance{}, Entries: []CreditEntry{}}
	err := d.SelectContext(ctx, &c.Entries, `SELECT c.public_id, c.currency, c.amount, c.kind, r.public_id AS return_id, c.note, c.created_at
		FROM store_credit_entries c LEFT JOIN returns r ON r.id = c.return_id
		WHERE c.merchant_id = $1 AND c.email = $2 ORDER BY c.id`, merchantID, email)
	if err != nil {
		return Credit{}, fmt.Errorf("refunds: store credit: %w", err)
	}
	sums := map[string]int64{}
	var order []string
	for _, e := range c.Entries {
		if _, ok := sums[e.Currency]; !ok {
			order = append(order, e.Currency)
		}
		sums[e.Currency] += e.Amount
	}
	for _, cur := range order {
		c.Balances = append(c.Balances, Balance{Currency: cur, Amount: sums[cur]})
	}
	return c, nil
}
