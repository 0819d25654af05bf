// Package exchanges sends shoppers a replacement (another size or colour) instead of
// their money back. It is the returns store's Exchanges effect (returns.Effects): in
// the transaction of each change of an exchange return it holds the replacements'
// stock at creation (so two shoppers are never promised the last unit), releases
// them to the shop when the policy's release point is reached (receipt, approval for
// an instant exchange, or the first carrier scan), and gives the stock back when the
// return is cancelled, rejected or expires. A replacement that costs more is paid
// through a Stripe Checkout Session first (checkout.go). The shop reports the
// shipment (POST /v1/exchanges/{id}/shipment); every step is published to the
// shop's webhooks (exchange.reserved, exchange.released, exchange.shipped,
// exchange.cancelled, exchange.unreturned).
//
// It writes the exchanges and exchange_lines tables; the stock it holds is the
// catalogue's (returns.HoldStock), and the ledger records the exchange's value in
// and out by a trigger on exchanges.
package exchanges

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/roundtriphq/roundtrip/returns"
)

// Status is where an exchange stands.
type Status string

// The statuses of an exchange.
const (
	// StatusAwaitingPayment: the replacement costs more; its units are held while the
	// shopper pays the difference through Stripe Checkout.
	StatusAwaitingPayment Status = "awaiting_payment"
	// StatusReserved: the units are held for the shopper until the release.
	StatusReserved Status = "reserved"
	// StatusReleased: the shop was told to ship the replacement.
	StatusReleased Status = "released"
	// StatusShipped: the shop reported the shipment.
	StatusShipped Status = "shipped"
	// StatusCancelled: the exchange will not happen; its units are no longer held.
	StatusCancelled Status = "cancelled"
)

// open reports whether the exchange still holds its units and waits for the release.
func (s Status) open() bool { return s == StatusAwaitingPayment || s == StatusReserved }

// ErrNotFound means no such exchange for this merchant (or this shopper).
var ErrNotFound = errors.New("exchanges: not found")

// StatusError is an operation the exchange's status does not allow.
type StatusError struct {
	Status Status
	Action string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("exchanges: cannot %s an exchange that is %s", e.Action, e.Status)
}

// Exchange is an exchange as GET /v1/exchanges/{id} answers it and webhooks carry it.
type Exchange struct {
	PublicID         string          `json:"id" example:"exch_6b9e2h5k8n1q4t7w0z3c6f9j2m"`
	ReturnPublicID   string          `json:"return_id" example:"ret_5kq2m9x4c8v1b7n3z6p0r4t2wd" doc:"The return's ID."`
	RMA              string          `json:"rma" example:"R-7KQ4-M2XD"`
	OrderNumber      string          `json:"order_number" example:"NW-10023"`
	Status           Status          `json:"status" enum:"awaiting_payment,reserved,released,shipped,cancelled" example:"reserved" doc:"awaiting_payment (the shopper pays the difference first), reserved (units held until the release), released (the shop ships), shipped, or cancelled."`
	ReleaseOn        string          `json:"release_on" enum:"on_receipt,instant,on_carrier_scan" example:"on_receipt" doc:"When the replacement is released to the shop: the policy's exchange_release when the exchange was made."`
	Reference        string          `json:"reference" example:"R-7KQ4-M2XD-X" doc:"Quote it on the replacement's shipment."`
	Currency         string          `json:"currency" example:"EUR"`
	ReturnedValue    int64           `json:"returned_value" example:"2700" doc:"What the exchanged items are worth (their quote subtotals), minor units."`
	ReplacementValue int64           `json:"replacement_value" example:"2500" doc:"The replacements' price, minor units."`
	Absorbed         int64           `json:"absorbed" example:"0" doc:"Extra price of dearer replacements the shop absorbs (its upsell allowance)."`
	AmountDue        int64           `json:"amount_due" example:"0" doc:"What the shopper pays for dearer replacements, through Stripe Checkout."`
	Paid             int64           `json:"paid" example:"0" doc:"What the shopper paid so far."`
	CheckoutURL      string          `json:"checkout_url,omitempty" example:"https://checkout.stripe.com/c/pay/cs_test_a1b2" doc:"While awaiting_payment: the Stripe Checkout page to pay amount_due. Absent while it is being made, or after it expired (ask for a new one)."`
	CheckoutExpires  *time.Time      `json:"checkout_expires_at,omitempty"`
	CustomerName     string          `json:"customer_name" example:"Ada Lovelace"`
	CustomerEmail    string          `json:"customer_email" example:"ada@example.com"`
	ShippingAddress  returns.Address `json:"shipping_address" doc:"Where the replacement goes: the order's shipping address."`
	Items            []ExchangeItem  `json:"items"`
	Carrier          string          `json:"carrier,omitempty" example:"DHL"`
	TrackingNumber   string          `json:"tracking_number,omitempty" example:"JD014600003828374657"`
	ReleasedAt       *time.Time      `json:"released_at,omitempty"`
	ShippedAt        *time.Time      `json:"shipped_at,omitempty"`
	CancelledAt      *time.Time      `json:"cancelled_at,omitempty"`
	UnreturnedAt     *time.Time      `json:"unreturned_at,omitempty" doc:"Set when an instant exchange's returned items never arrived within the label's validity."`
	UnreturnedValue  int64           `json:"unreturned_value,omitempty" doc:"With unreturned_at: the returned items' value the shop collects from the shopper, minor units."`
	CreatedAt        time.Time       `json:"created_at"`
	UpdatedAt        time.Time       `json:"updated_at"`

	// ID and ReturnID are internal keys; the API shows the public IDs.
	ID         int64  `json:"-"`
	ReturnID   int64  `json:"-"`
	MerchantID int64  `json:"-"`
	Attempt    int    `json:"-"`
	SessionID  string `json:"-"`
}

// ExchangeItem is one replacement: quantity units of a variant, for one returned line.
type ExchangeItem struct {
	LineID        string                  `json:"line_id" db:"line_id" example:"line-1" doc:"The returned order line."`
	Quantity      int                     `json:"quantity" db:"quantity" example:"1"`
	SKU           string                  `json:"sku" db:"sku" example:"TEE-BLK-L"`
	ProductID     string                  `json:"product_id" db:"product_id" example:"tee-classic"`
	Name          string                  `json:"name" db:"name" example:"Classic T-shirt, black, L"`
	Options       []returns.VariantOption `json:"options" db:"-"`
	UnitPrice     int64                   `json:"unit_price" db:"unit_price" example:"2500"`
	ReturnedValue int64                   `json:"returned_value" db:"returned_value" example:"2700" doc:"The returned line's subtotal."`
	ImageURL      string                  `json:"image_url,omitempty" db:"image_url"`
	RawOptions    []byte                  `json:"-" db:"options"`
}

type row struct {
	ID               int64      `db:"id"`
	PublicID         string     `db:"public_id"`
	MerchantID       int64      `db:"merchant_id"`
	ReturnID         int64      `db:"return_id"`
	ReturnPublicID   string     `db:"return_public_id"`
	RMA              string     `db:"rma"`
	OrderNumber      string     `db:"order_number"`
	Email            string     `db:"customer_email"`
	Status           Status     `db:"status"`
	ReleaseOn        string     `db:"release_on"`
	Currency         string     `db:"currency"`
	ReturnedValue    int64      `db:"returned_value"`
	ReplacementValue int64      `db:"replacement_value"`
	Absorbed         int64      `db:"absorbed"`
	AmountDue        int64      `db:"amount_due"`
	Paid             int64      `db:"paid"`
	Attempt          int        `db:"checkout_attempt"`
	SessionID        *string    `db:"checkout_session_id"`
	CheckoutURL      *string    `db:"checkout_url"`
	CheckoutExpires  *time.Time `db:"checkout_expires_at"`
	Address          []byte     `db:"shipping_address"`
	CustomerName     string     `db:"customer_name"`
	Reference        string     `db:"reference"`
	Carrier          *string    `db:"carrier"`
	Tracking         *string    `db:"tracking_number"`
	ReleasedAt       *time.Time `db:"released_at"`
	ShippedAt        *time.Time `db:"shipped_at"`
	CancelledAt      *time.Time `db:"cancelled_at"`
	UnreturnedAt     *time.Time `db:"unreturned_at"`
	CreatedAt        time.Time  `db:"created_at"`
	UpdatedAt        time.Time  `db:"updated_at"`
}

const cols = `x.id, x.public_id, x.merchant_id, x.return_id, r.public_id AS return_public_id, r.rma, o.number AS order_number, r.customer_email, x.status, x.release_on,
	x.currency, x.returned_value, x.replacement_value, x.absorbed, x.amount_due, x.paid, x.checkout_attempt,
	x.checkout_session_id, x.checkout_url, x.checkout_expires_at, x.shipping_address, x.customer_name, x.reference,
	x.carrier, x.tracking_number, x.released_at, x.shipped_at, x.cancelled_at, x.unreturned_at, x.created_at, x.updated_at`

const from = ` FROM exchanges x JOIN returns r ON r.id = x.return_id JOIN orders o ON o.id = r.order_id `

// get reads one exchange with its items; lock takes its row lock.
func get(ctx context.Context, q sqlx.QueryerContext, where string, lock bool, args ...any) (*Exchange, error) {
	query := `SELECT ` + cols + from + `WHERE ` + where
	if lock {
		query += ` FOR UPDATE OF x`
	}
	var rw row
	err := sqlx.GetContext(ctx, q, &rw, query, args...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("exchanges: get: %w", err)
	}
	x := &Exchange{ID: rw.ID, PublicID: rw.PublicID, MerchantID: rw.MerchantID, ReturnID: rw.ReturnID, ReturnPublicID: rw.ReturnPublicID, RMA: rw.RMA, OrderNumber: rw.OrderNumber,
		CustomerEmail: rw.Email, Status: rw.Status, ReleaseOn: rw.ReleaseOn, Currency: rw.Currency, ReturnedValue: rw.ReturnedValue,
		ReplacementValue: rw.ReplacementValue, Absorbed: rw.Absorbed, AmountDue: rw.AmountDue, Paid: rw.Paid, Attempt: rw.Attempt,
		CheckoutExpires: rw.CheckoutExpires, CustomerName: rw.CustomerName, Reference: rw.Reference, ReleasedAt: rw.ReleasedAt,
		ShippedAt: rw.ShippedAt, CancelledAt: rw.CancelledAt, UnreturnedAt: rw.UnreturnedAt, CreatedAt: rw.CreatedAt, UpdatedAt: rw.UpdatedAt}
	if rw.SessionID != nil {
		x.SessionID = *rw.SessionID
	}
	if rw.CheckoutURL != nil && x.Status == StatusAwaitingPayment {
		x.CheckoutURL = *rw.CheckoutURL
	}
	if rw.Carrier != nil {
		x.Carrier = *rw.Carrier
	}
	if rw.Tracking != nil {
		x.TrackingNumber = *rw.Tracking
	}
	if x.UnreturnedAt != nil {
		x.UnreturnedValue = x.ReturnedValue
	}
	if err := json.Unmarshal(rw.Address, &x.ShippingAddress); err != nil {
		return nil, fmt.Errorf("exchanges: address of %d: %w", x.ID, err)
	}
	if err := sqlx.SelectContext(ctx, q, &x.Items, `SELECT line_id, quantity, sku, product_id, name, options, unit_price,
		returned_value, image_url FROM exchange_lines WHERE exchange_id = $1 ORDER BY id`, x.ID); err != nil {
		return nil, fmt.Errorf("exchanges: items of %d: %w", x.ID, err)
	}
	for i := range x.Items {
		it := &x.Items[i]
		it.Options = []returns.VariantOption{}
		if err := json.Unmarshal(it.RawOptions, &it.Options); err != nil {
			return nil, fmt.Errorf("exchanges: options of %d: %w", x.ID, err)
		}
	}
	return x, nil
}

// ByReturn reads the exchange of a return (ErrNotFound: it has none).
func ByReturn(ctx context.Context, q sqlx.QueryerContext, merchantID, returnID int64) (*Exchange, error) {
	return get(ctx, q, `x.merchant_id = $1 AND x.return_id = $2`, false, merchantID, returnID)
}

// ByPublicID reads the merchant's exchange with public ID publicID (exch_…).
func ByPublicID(ctx context.Context, q sqlx.QueryerContext, merchantID int64, publicID string) (*Exchange, error) {
	return get(ctx, q, `x.merchant_id = $1 AND x.public_id = $2`, false, merchantID, publicID)
}

// Get reads an exchange.
func Get(ctx context.Context, q sqlx.QueryerContext, merchantID, id int64) (*Exchange, error) {
	return get(ctx, q, `x.merchant_id = $1 AND x.id = $2`, false, merchantID, id)
}

// lockFor takes the row lock of the exchange of t's return, in t (nil, nil: it has none).
func lockFor(ctx context.Context, t *returns.Tx) (*Exchange, error) {
	x, err := get(ctx, t.Tx, `x.merchant_id = $1 AND x.return_id = $2`, true, t.Return.MerchantID, t.Return.ID)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	return x, err
}
