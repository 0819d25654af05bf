package fakestripe

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Checkout Sessions in payment mode: made with their line items' price_data, paid
// (CompleteCheckout) or expired (ExpireCheckout, or POST …/expire) as the hosted page
// would, each change sending checkout.session.completed or checkout.session.expired.

// CheckoutSession is a Checkout Session as the fake holds it.
type CheckoutSession struct {
	ID            string
	URL           string
	Status        string // open, complete, expired
	PaymentStatus string // unpaid, paid
	AmountTotal   int64
	Currency      string
	CustomerEmail string
	SuccessURL    string
	CancelURL     string
	PaymentIntent string
	Metadata      map[string]string
	// PaymentIntentMetadata is payment_intent_data[metadata].
	PaymentIntentMetadata map[string]string
	Created               time.Time
	ExpiresAt             time.Time
	// IdempotencyKey is the key of the request that made it.
	IdempotencyKey string
}

func (s *Server) createCheckoutSession(c *call) answer {
	if a, ok := checkParams(c.form, []string{"mode", "success_url", "cancel_url", "customer_email", "expires_at", "currency",
		"client_reference_id", "locale"}, "metadata", "line_items", "payment_intent_data", "expand"); !ok {
		return a
	}
	f := c.form
	if f.Get("mode") != "payment" {
		return invalid(http.StatusBadRequest, "parameter_invalid", "Only mode=payment is imitated.", "mode")
	}
	if f.Get("success_url") == "" {
		return invalid(http.StatusBadRequest, "parameter_missing", "Missing required param: success_url.", "success_url")
	}
	var total int64
	currency := ""
	for i := 0; ; i++ {
		p := fmt.Sprintf("line_items[%d]", i)
		q := f.Get(p + "[quantity]")
		if q == "" && f.Get(p+"[price_data][unit_amount]") == "" {
			if i == 0 {
				return invalid(http.StatusBadRequest, "parameter_missing", "Missing required param: line_items.", "line_items")
			}
			break
		}
		n, err1 := strconv.ParseInt(q, 10, 64)
		amount, err2 := strconv.ParseInt(f.Get(p+"[price_data][unit_amount]"), 10, 64)
		cur := lower(f.Get(p + "[price_data][currency]"))
		switch {
		case err1 != nil || n < 1:
			return invalid(http.StatusBadRequest, "parameter_invalid_integer", "Invalid integer: "+q, p+"[quantity]")
		case err2 != nil || amount < 0:
			return invalid(http.StatusBadRequest, "parameter_invalid_integer", "Invalid unit_amount.", p+"[price_data][unit_amount]")
		case cur == "" || (currency != "" && cur != currency):
			return invalid(http.StatusBadRequest, "parameter_invalid", "Every line item needs the same currency.", p+"[price_data][currency]")
		case f.Get(p+"[price_data][product_data][name]") == "":
			return invalid(http.StatusBadRequest, "parameter_missing", "Missing required param: product_data[name].", p+"[price_data][product_data][name]")
		}
		currency = cur
		total += n * amount
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Now()
	cs := &CheckoutSession{ID: newID("cs_test"), Status: "open", PaymentStatus: "unpaid", AmountTotal: total, Currency: currency,
		CustomerEmail: f.Get("customer_email"), SuccessURL: f.Get("success_url"), CancelURL: f.Get("cancel_url"),
		Metadata: metadata(f, nil), PaymentIntentMetadata: prefixed(f, "payment_intent_data[metadata]"),
		Created: now, ExpiresAt: now.Add(24 * time.Hour), IdempotencyKey: c.key}
	if v := f.Get("expires_at"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return invalid(http.StatusBadRequest, "parameter_invalid_integer", "Invalid integer: "+v, "expires_at")
		}
		cs.ExpiresAt = time.Unix(n, 0)
	}
	cs.URL = s.ts.URL + "/pay/" + cs.ID
	if s.sessions == nil {
		s.sessions = map[string]*CheckoutSession{}
	}
	s.sessions[cs.ID] = cs
	s.sessionOrder = append(s.sessionOrder, cs)
	return ok200(checkoutJSON(cs))
}

func (s *Server) getCheckoutSession(c *call) answer {
	s.mu.Lock()
	defer s.mu.Unlock()
	cs, ok := s.sessions[c.r.PathValue("id")]
	if !ok {
		return invalid(http.StatusNotFound, "resource_missing", "No such checkout.session: '"+c.r.PathValue("id")+"'", "id")
	}
	return ok200(checkoutJSON(cs))
}

func (s *Server) expireCheckoutSession(c *call) answer {
	s.mu.Lock()
	defer s.mu.Unlock()
	ev, err := s.expire(c, c.r.PathValue("id"))
	if err != nil {
		return invalid(http.StatusBadRequest, "", err.Error(), "id")
	}
	c.events = append(c.events, ev)
	return ok200(checkoutJSON(s.sessions[c.r.PathValue("id")]))
}

func (s *Server) expire(c *call, id string) (*event, error) {
	cs, ok := s.sessions[id]
	switch {
	case !ok:
		return nil, fmt.Errorf("no such checkout.session: %s", id)
	case cs.Status != "open":
		return nil, fmt.Errorf("only an open Checkout Session can be expired; this one is %s", cs.Status)
	}
	cs.Status = "expired"
	return s.emit(c, "checkout.session.expired", checkoutJSON(cs), nil), nil
}

// CompleteCheckout pays an open session as the shopper would on the hosted page,
// and sends checkout.session.completed.
func (s *Server) CompleteCheckout(id string) error {
	s.mu.Lock()
	cs, ok := s.sessions[id]
	if !ok || cs.Status != "open" {
		s.mu.Unlock()
		return fmt.Errorf("fakestripe: no open checkout session %s", id)
	}
	cs.Status, cs.PaymentStatus = "complete", "paid"
	cs.PaymentIntent = newID("pi")
	s.addCharge(newID("ch"), cs.PaymentIntent, cs.AmountTotal, cs.Currency)
	ev := s.emit(nil, "checkout.session.completed", checkoutJSON(cs), nil)
	s.mu.Unlock()
	s.dispatch([]*event{ev})
	return nil
}

// ExpireCheckout lets an open session expire unpaid and sends
// checkout.session.expired.
func (s *Server) ExpireCheckout(id string) error {
	s.mu.Lock()
	ev, err := s.expire(nil, id)
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("fakestripe: %w", err)
	}
	s.dispatch([]*event{ev})
	return nil
}

// CheckoutSessions returns every session, in creation order.
func (s *Server) CheckoutSessions() []CheckoutSession {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]CheckoutSession, len(s.sessionOrder))
	for i, cs := range s.sessionOrder {
		out[i] = *cs
		out[i].Metadata = clone(cs.Metadata)
	}
	return out
}

func checkoutJSON(cs *CheckoutSession) map[string]any {
	var pi any
	if cs.PaymentIntent != "" {
		pi = cs.PaymentIntent
	}
	email := any(nil)
	if cs.CustomerEmail != "" {
		email = cs.CustomerEmail
	}
	return map[string]any{
		"id": cs.ID, "object": "checkout.session", "mode": "payment", "url": cs.URL, "status": cs.Status,
		"payment_status": cs.PaymentStatus, "amount_total": cs.AmountTotal, "amount_subtotal": cs.AmountTotal,
		"currency": cs.Currency, "customer_email": email, "success_url": cs.SuccessURL, "cancel_url": cs.CancelURL,
		"payment_intent": pi, "metadata": cs.Metadata, "created": cs.Created.Unix(), "expires_at": cs.ExpiresAt.Unix(),
		"livemode": false,
	}
}

// prefixed reads the prefix[key] parameters.
func prefixed(form map[string][]string, prefix string) map[string]string {
	out := map[string]string{}
	keys := make([]string, 0, len(form))
	for k := range form {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if key, ok := strings.CutPrefix(k, prefix+"["); ok && strings.HasSuffix(key, "]") {
			out[strings.TrimSuffix(key, "]")] = form[k][len(form[k])-1]
		}
	}
	return out
}
