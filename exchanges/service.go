package exchanges

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/roundtriphq/roundtrip/internal/money"
	"github.com/roundtriphq/roundtrip/internal/outbox"
	"github.com/roundtriphq/roundtrip/notify"
	"github.com/roundtriphq/roundtrip/refunds"
	"github.com/roundtriphq/roundtrip/returns"
)

// Publisher publishes an event to the shop's webhook endpoints in the caller's
// transaction (notify.Service).
type Publisher interface {
	Publish(ctx context.Context, tx sqlx.ExtContext, merchantID int64, eventType notify.EventType, data any, jobs ...outbox.Message) error
}

// Service runs exchanges; it is the returns store's Exchanges effect.
type Service struct {
	// Publisher, when set, tells the shop's systems about exchanges in the
	// transaction that changed them.
	Publisher Publisher
	// Checkout, when set, makes the Stripe Checkout Sessions of dearer replacements
	// (see checkout.go); without it they wait for a replica that has it.
	Checkout refunds.CheckoutGateway

	db      *sqlx.DB
	returns *returns.Store
	baseURL string
	log     *slog.Logger
}

var _ returns.Exchanges = (*Service)(nil)

// New returns the exchanges service. baseURL is the public URL the Checkout pages
// send the shopper back to (empty: none configured; the portal's links then lack a
// host and Checkout Sessions are not made).
func New(d *sqlx.DB, store *returns.Store, baseURL string, log *slog.Logger) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{db: d, returns: store, baseURL: strings.TrimRight(baseURL, "/"), log: log}
}

// ReleasedError refuses to cancel a return whose replacement was already released:
// the shopper has it, so the returned items must come back.
type ReleasedError struct{ RMA string }

func (e *ReleasedError) Error() string {
	return "exchanges: the replacement of " + e.RMA + " was already released"
}

// Changed applies a change of an exchange return to its exchange (returns.Exchanges).
func (s *Service) Changed(ctx context.Context, t *returns.Tx, ev returns.Event) error {
	if ev == returns.EventCreate {
		return s.open(ctx, t)
	}
	x, err := lockFor(ctx, t)
	if err != nil || x == nil {
		return err
	}
	switch ev {
	case returns.EventApprove:
		if x.Status != StatusReserved || x.ReleaseOn != string(returns.ReleaseInstant) {
			return nil
		}
		pol, err := t.Policy(ctx)
		if err != nil {
			return err
		}
		if rule := pol.SerialReturner; rule.Applies() {
			n, err := returns.RecentReturns(ctx, t.Tx, t.Return.MerchantID, t.Return.CustomerEmail, rule.PeriodDays)
			if err != nil {
				return err
			}
			if rule.Holds(n) {
				return t.Note(ctx, "system", "exchange_held", fmt.Sprintf("The replacement waits for the returned items: this shopper "+
					"started %d returns in the last %d days, more than the policy's %d, so the exchange is not instant.",
					n, rule.PeriodDays, rule.MaxReturns))
			}
		}
		return s.release(ctx, t, x, "at once (instant exchange)", false)
	case returns.EventCarrierScan:
		if x.Status == StatusReserved && x.ReleaseOn == string(returns.ReleaseOnCarrierScan) {
			return s.release(ctx, t, x, "on the carrier's first scan of the return parcel", false)
		}
	case returns.EventCancel, returns.EventReject, returns.EventExpire:
		switch {
		case x.Status.open():
			return s.cancel(ctx, t, x, string(ev))
		case ev == returns.EventExpire && x.UnreturnedAt == nil:
			return s.unreturned(ctx, t, x)
		case ev == returns.EventCancel:
			return &ReleasedError{RMA: t.Return.RMA}
		}
	}
	return nil
}

// Receive releases the replacement when a receipt accepted exchanged units
// (returns.Exchanges); when every exchanged unit was rejected the exchange is
// cancelled instead, and those units are not resolved.
func (s *Service) Receive(ctx context.Context, t *returns.Tx, accepted map[string]int) error {
	x, err := lockFor(ctx, t)
	if err != nil || x == nil || x.Status != StatusReserved {
		return err
	}
	anyAccepted, allRejected := false, true
	for _, it := range x.Items {
		if accepted[it.LineID] > 0 {
			anyAccepted = true
		}
		for _, ri := range t.Return.Items {
			if ri.LineID == it.LineID && ri.Rejected < ri.Quantity {
				allRejected = false
			}
		}
	}
	switch {
	case anyAccepted:
		return s.release(ctx, t, x, "on receipt of the returned items", false)
	case allRejected:
		return s.cancel(ctx, t, x, "rejected_items")
	}
	return nil
}

// Pending reports whether the return's exchange still waits for its release
// (returns.Exchanges).
func (s *Service) Pending(ctx context.Context, t *returns.Tx) (bool, error) {
	var st Status
	err := t.GetContext(ctx, &st, `SELECT coalesce((SELECT status FROM exchanges WHERE return_id = $1), 'cancelled')`, t.Return.ID)
	return st.open(), err
}

// open records a new exchange return's exchange and holds its replacements' units:
// another exchange holding the last unit fails the creation (*returns.OutOfStockError).
func (s *Service) open(ctx context.Context, t *returns.Tx) error {
	r := t.Return
	ex := r.Quote.Exchange
	if ex == nil {
		return nil
	}
	var lines []returns.QuoteLine
	for _, l := range r.Quote.Lines {
		if l.Eligible && l.Exchange != nil {
			lines = append(lines, l)
		}
	}
	if len(lines) == 0 {
		return nil
	}
	// hold each variant once, in SKU order, so that exchanges of several variants
	// never wait for each other in a cycle
	need := map[string]int{}
	for _, l := range lines {
		need[l.Exchange.SKU] += l.Quantity
	}
	skus := make([]string, 0, len(need))
	for sku := range need {
		skus = append(skus, sku)
	}
	slices.Sort(skus)
	for _, sku := range skus {
		if err := returns.HoldStock(ctx, t.Tx, r.MerchantID, sku, need[sku]); err != nil {
			return err
		}
	}
	order, err := t.Order(ctx)
	if err != nil {
		return err
	}
	pol, err := t.Policy(ctx)
	if err != nil {
		return err
	}
	c := order.Order.Customer
	addr, err := json.Marshal(c.Address)
	if err != nil {
		return err
	}
	status := StatusReserved
	if ex.AmountDue > 0 {
		status = StatusAwaitingPayment
	}
	var id int64
	err = t.GetContext(ctx, &id, `INSERT INTO exchanges (merchant_id, return_id, status, release_on, currency, returned_value,
		replacement_value, absorbed, amount_due, shipping_address, customer_name, reference)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id`,
		r.MerchantID, r.ID, status, pol.ExchangeRelease, r.Currency, ex.ReturnedValue, ex.ReplacementValue, ex.Absorbed,
		ex.AmountDue, addr, strings.TrimSpace(c.FirstName+" "+c.LastName), r.RMA+"-X")
	if err != nil {
		return fmt.Errorf("exchanges: open: %w", err)
	}
	var words []string
	for _, l := range lines {
		options, _ := json.Marshal(l.Exchange.Options)
		if l.Exchange.Options == nil {
			options = []byte("[]")
		}
		_, err := t.ExecContext(ctx, `INSERT INTO exchange_lines (merchant_id, exchange_id, line_id, quantity, sku, product_id, name,
			options, unit_price, returned_value, image_url) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			r.MerchantID, id, l.LineID, l.Quantity, l.Exchange.SKU, l.Exchange.ProductID, l.Exchange.Name, options,
			l.Exchange.UnitPrice, l.Subtotal, l.Exchange.ImageURL)
		if err != nil {
			return fmt.Errorf("exchanges: open: %w", err)
		}
		words = append(words, fmt.Sprintf("%d × %s", l.Quantity, l.Exchange.Name))
	}
	note := "Replacement reserved: " + strings.Join(words, ", ") + "."
	if status == StatusAwaitingPayment {
		note = fmt.Sprintf("Replacement held while the shopper pays the difference of %s: %s.",
			money.Format(ex.AmountDue, r.Currency), strings.Join(words, ", "))
		if err := s.queueCheckout(ctx, t.Tx, r.MerchantID, id, 0); err != nil {
			return err
		}
	}
	if err := t.Note(ctx, "system", "exchange", note); err != nil {
		return err
	}
	if status == StatusReserved {
		return s.publish(ctx, t.Tx, r.MerchantID, id, notify.ExchangeReserved)
	}
	return nil
}

// release tells the shop to ship the replacement. settle, when the returned items
// are already here (a replacement paid for late), resolves the return so that it
// completes.
func (s *Service) release(ctx context.Context, t *returns.Tx, x *Exchange, when string, settle bool) error {
	if _, err := t.ExecContext(ctx, `UPDATE exchanges SET status = 'released', released_at = now(), updated_at = now()
		WHERE id = $1`, x.ID); err != nil {
		return fmt.Errorf("exchanges: release %d: %w", x.ID, err)
	}
	if err := t.Note(ctx, "system", "exchange_released", fmt.Sprintf("Replacement released to the shop to ship %s: %s.", when, itemWords(x))); err != nil {
		return err
	}
	if err := s.publish(ctx, t.Tx, x.MerchantID, x.ID, notify.ExchangeReleased); err != nil {
		return err
	}
	if !settle {
		return nil
	}
	switch t.Return.State {
	case returns.StateReceived, returns.StatePartiallyReceived, returns.StateResolving:
		accepted := map[string]int{}
		for _, it := range t.Return.Items {
			accepted[it.LineID] = it.Accepted
		}
		return t.Resolve(ctx, 0, accepted, "system")
	}
	return nil
}

// cancel gives the exchange's units back.
func (s *Service) cancel(ctx context.Context, t *returns.Tx, x *Exchange, why string) error {
	for _, it := range x.Items {
		if err := returns.ReleaseStock(ctx, t.Tx, x.MerchantID, it.SKU, it.Quantity); err != nil {
			return err
		}
	}
	if _, err := t.ExecContext(ctx, `UPDATE exchanges SET status = 'cancelled', cancelled_at = now(), updated_at = now()
		WHERE id = $1`, x.ID); err != nil {
		return fmt.Errorf("exchanges: cancel %d: %w", x.ID, err)
	}
	if x.Status == StatusAwaitingPayment && x.SessionID != "" {
		// its payment page must not take money any more
		if _, err := outbox.Enqueue(ctx, t.Tx, outbox.Message{MerchantID: x.MerchantID, Kind: JobExpireCheckout,
			Payload: expirePayload{ExchangeID: x.ID, SessionID: x.SessionID}, MaxAttempts: 25}); err != nil {
			return err
		}
	}
	note := "Exchange cancelled: the replacement is no longer held."
	if why == "rejected_items" {
		note = "Exchange cancelled: every exchanged item was rejected at the warehouse, so no replacement is sent."
	}
	if err := t.Note(ctx, "system", "exchange_cancelled", note); err != nil {
		return err
	}
	return s.publish(ctx, t.Tx, x.MerchantID, x.ID, notify.ExchangeCancelled)
}

// unreturned records that an instant exchange's returned items never came back
// within the label's validity, and tells the shop to collect their value. Roundtrip
// charges nothing itself: the orders it receives carry the payment's PaymentIntent
// and charge, not a saved payment method (customer and off-session consent) that an
// off-session PaymentIntent would need, so the shop, which holds the customer
// relationship, collects.
func (s *Service) unreturned(ctx context.Context, t *returns.Tx, x *Exchange) error {
	if _, err := t.ExecContext(ctx, `UPDATE exchanges SET unreturned_at = now(), updated_at = now() WHERE id = $1`, x.ID); err != nil {
		return fmt.Errorf("exchanges: unreturned %d: %w", x.ID, err)
	}
	if err := t.Note(ctx, "system", "exchange_unreturned", fmt.Sprintf("The returned items never arrived although the replacement "+
		"was released: the shop was asked to collect their value, %s.", money.Format(x.ReturnedValue, x.Currency))); err != nil {
		return err
	}
	return s.publish(ctx, t.Tx, x.MerchantID, x.ID, notify.ExchangeUnreturned)
}

// publish publishes the exchange as GET /v1/exchanges/{id} answers it, read in tx.
func (s *Service) publish(ctx context.Context, tx *sqlx.Tx, merchantID, id int64, typ notify.EventType) error {
	if s.Publisher == nil {
		return nil
	}
	x, err := Get(ctx, tx, merchantID, id)
	if err != nil {
		return err
	}
	return s.Publisher.Publish(ctx, tx, merchantID, typ, x)
}

func itemWords(x *Exchange) string {
	words := make([]string, len(x.Items))
	for i, it := range x.Items {
		words[i] = fmt.Sprintf("%d × %s", it.Quantity, it.Name)
	}
	return strings.Join(words, ", ")
}

// Shipment is the shop's report of the replacement's shipment.
type Shipment struct {
	Carrier        string
	TrackingNumber string
	Actor          string
}

// Ship records the replacement's shipment: the shop took the units from its own
// stock, so they are no longer held. Reporting the same shipment again changes
// nothing; another one is refused.
func (s *Service) Ship(ctx context.Context, merchantID, id int64, sh Shipment) (*Exchange, error) {
	x, err := Get(ctx, s.db, merchantID, id)
	if err != nil {
		return nil, err
	}
	_, err = s.returns.Update(ctx, merchantID, x.ReturnID, func(ctx context.Context, t *returns.Tx) error {
		x, err = lockFor(ctx, t)
		if err != nil {
			return err
		}
		switch x.Status {
		case StatusShipped:
			if x.Carrier == sh.Carrier && x.TrackingNumber == sh.TrackingNumber {
				return nil
			}
			return &StatusError{Status: x.Status, Action: "ship again"}
		case StatusReleased:
		default:
			return &StatusError{Status: x.Status, Action: "ship"}
		}
		for _, it := range x.Items {
			if err := returns.ReleaseStock(ctx, t.Tx, merchantID, it.SKU, it.Quantity); err != nil {
				return err
			}
		}
		if _, err := t.ExecContext(ctx, `UPDATE exchanges SET status = 'shipped', carrier = $2, tracking_number = $3,
			shipped_at = now(), updated_at = now() WHERE id = $1`, x.ID, sh.Carrier, sh.TrackingNumber); err != nil {
			return fmt.Errorf("exchanges: ship %d: %w", x.ID, err)
		}
		if err := t.Note(ctx, sh.Actor, "exchange_shipped", fmt.Sprintf("Replacement shipped with %s, tracking number %s.",
			sh.Carrier, sh.TrackingNumber)); err != nil {
			return err
		}
		return s.publish(ctx, t.Tx, merchantID, x.ID, notify.ExchangeShipped)
	})
	if err != nil {
		return nil, err
	}
	return Get(ctx, s.db, merchantID, id)
}
