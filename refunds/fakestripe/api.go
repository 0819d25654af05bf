package fakestripe

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// call is one API request on its way through the pipeline.
type call struct {
	r      *http.Request
	form   url.Values
	key    string // Idempotency-Key
	reqID  string
	fault  *Fault
	rec    *Request // its entry in the request log
	events []*event // caused by the request, sent after the answer
}

// answer is what a request gets back.
type answer struct {
	status int
	body   []byte
	// save remembers the answer under the request's Idempotency-Key: the
	// request ran. Answers of requests rejected before running are not saved.
	save bool
}

// idemEntry is what an Idempotency-Key remembers.
type idemEntry struct {
	endpoint string // method and path
	params   string // canonical form
	running  bool
	answer   answer
	original string // Request-Id of the first request
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/refunds", s.handle(s.createRefund))
	mux.HandleFunc("GET /v1/refunds", s.handle(s.listRefunds))
	mux.HandleFunc("GET /v1/refunds/{id}", s.handle(s.getRefund))
	mux.HandleFunc("POST /v1/refunds/{id}", s.handle(s.updateRefund))
	mux.HandleFunc("POST /v1/refunds/{id}/cancel", s.handle(s.cancelRefund))
	mux.HandleFunc("GET /v1/charges/{id}", s.handle(s.getCharge))
	mux.HandleFunc("POST /v1/checkout/sessions", s.handle(s.createCheckoutSession))
	mux.HandleFunc("GET /v1/checkout/sessions/{id}", s.handle(s.getCheckoutSession))
	mux.HandleFunc("POST /v1/checkout/sessions/{id}/expire", s.handle(s.expireCheckoutSession))
	mux.HandleFunc("GET /v1/events", s.handle(s.listEvents))
	mux.HandleFunc("GET /v1/events/{id}", s.handle(s.getEvent))
	mux.HandleFunc("/", s.handle(func(c *call) answer {
		return errorAnswer(http.StatusNotFound, "invalid_request_error", "",
			fmt.Sprintf("Unrecognized request URL (%s: %s).", c.r.Method, c.r.URL.Path), "")
	}))
	return mux
}

// handle wraps an operation with what every request goes through: the
// request log, authentication, parameters, injected faults, idempotency, the
// answer and the webhooks it caused.
func (s *Server) handle(op func(*call) answer) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c := &call{r: r, key: strings.TrimSpace(r.Header.Get("Idempotency-Key")), reqID: newID("req")}
		route := r.Pattern
		if route == "" || route == "/" {
			route = r.Method + " " + r.URL.Path
		}
		rec := &Request{
			Method:         r.Method,
			Path:           r.URL.Path,
			Route:          route,
			IdempotencyKey: c.key,
			StripeVersion:  r.Header.Get("Stripe-Version"),
			At:             s.opts.Now(),
		}
		c.rec = rec
		s.mu.Lock()
		s.counts[route]++
		if n := s.opts.RequestLogSize; len(s.requests) >= 2*n {
			s.requests = slices.Clone(s.requests[len(s.requests)-n:])
		}
		s.requests = append(s.requests, rec)
		s.mu.Unlock()
		s.serve(w, c, op)
	}
}

// note updates the request's log entry. It is called before the client can
// see anything of the answer, so the log is complete when the client returns.
func (s *Server) note(c *call, update func(*Request)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	update(c.rec)
}

// serve runs the pipeline.
func (s *Server) serve(w http.ResponseWriter, c *call, op func(*call) answer) {
	r := c.r
	if a, ok := s.authenticate(r); !ok {
		s.write(w, c, a)
		return
	}
	form, err := readForm(r)
	if err != nil {
		s.write(w, c, errorAnswer(http.StatusBadRequest, "invalid_request_error", "",
			"Invalid request body: "+err.Error(), ""))
		return
	}
	c.form = form
	s.note(c, func(r *Request) { r.Form = form })

	f := s.takeFault(c)
	if f != nil {
		if f.Kind.before() && !f.Executed {
			f.arrive(s.closing)
			if f.Kind == Timeout {
				// Hang until the client gives up or the server closes; nothing runs.
				s.hang(r)
				abort(w)
				return
			}
			s.write(w, c, f.answer())
			return
		}
	}

	idempotent := r.Method == http.MethodPost && c.key != ""
	if idempotent {
		if a, original, replay, ok := s.beginIdempotent(c, r.Method+" "+r.URL.Path); !ok {
			if replay {
				if f != nil && f.Kind == Delay && !f.wait(s.closing) {
					abort(w)
					return
				}
				if f != nil && f.Kind == LoseResponse {
					abort(w)
					return
				}
				w.Header().Set("Idempotent-Replayed", "true")
				w.Header().Set("Original-Request", original)
				s.note(c, func(r *Request) { r.Replayed = true })
			}
			s.write(w, c, a)
			return
		}
	}

	if f != nil && f.Kind == Delay {
		f.arrive(s.closing)
		if !f.wait(s.closing) {
			if idempotent {
				s.endIdempotent(c, answer{})
			}
			abort(w)
			return
		}
	}

	var a answer
	switch {
	case f != nil && f.Kind == Decline:
		f.arrive(s.closing)
		a = f.answer()
		a.save = true
	default:
		if f != nil && f.Kind != Delay && f.Kind != Timeout {
			f.arrive(s.closing)
		}
		a = op(c)
		if f != nil && f.Kind.before() && f.Kind != Timeout && f.Executed {
			// The request ran, then failed: the error replaces its answer and is
			// remembered under the key, as Stripe does for 500s.
			a = f.answer()
			a.save = true
		}
	}
	if idempotent {
		s.endIdempotent(c, a)
	}

	// The webhooks go out after the answer, as Drain waits for them.
	evs := s.reserve(c.events)
	switch {
	case f != nil && f.Kind == Timeout:
		// Executed: the request ran and is remembered, but the client hears
		// nothing until it gives up. It arrives at the fault now, so that a
		// client that gives up on arrival finds it done (and a retry replays it).
		s.send(evs)
		f.arrive(s.closing)
		s.hang(r)
		abort(w)
		return
	case f != nil && f.Kind == LoseResponse:
		if !hijackClose(w) {
			s.send(evs)
			panic(http.ErrAbortHandler)
		}
		s.send(evs)
		return
	}
	s.write(w, c, a)
	s.send(evs)
}

func (s *Server) authenticate(r *http.Request) (answer, bool) {
	key := ""
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
		key = strings.TrimSpace(strings.TrimPrefix(h, "Bearer "))
	} else if user, _, ok := r.BasicAuth(); ok {
		key = user
	}
	if key == "" {
		return errorAnswer(http.StatusUnauthorized, "invalid_request_error", "",
			"You did not provide an API key. You need to provide your API key in the Authorization header, "+
				"using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').", ""), false
	}
	if s.opts.APIKey != "" && key != s.opts.APIKey {
		shown := key
		if len(shown) > 4 {
			shown = "****" + shown[len(shown)-4:]
		}
		return errorAnswer(http.StatusUnauthorized, "invalid_request_error", "",
			"Invalid API Key provided: "+shown, ""), false
	}
	return answer{}, true
}

func readForm(r *http.Request) (url.Values, error) {
	if r.Method == http.MethodGet || r.Method == http.MethodDelete {
		return url.ParseQuery(r.URL.RawQuery)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	return url.ParseQuery(string(body))
}

// beginIdempotent claims c.key. ok is true when the request should run; else
// a is the answer: a replay (replay true, with the first request's ID), an
// idempotency_error or a 409 while the key is in use.
func (s *Server) beginIdempotent(c *call, endpoint string) (a answer, original string, replay, ok bool) {
	params := c.form.Encode()
	s.mu.Lock()
	defer s.mu.Unlock()
	e, found := s.idem[c.key]
	if !found {
		s.idem[c.key] = &idemEntry{endpoint: endpoint, params: params, running: true, original: c.reqID}
		return answer{}, "", false, true
	}
	if e.running {
		a := errorAnswer(http.StatusConflict, "invalid_request_error", "idempotency_key_in_use",
			"There is currently another in-progress request using this Idempotent Key (that probably means "+
				"you submitted twice, and the other request is still going through): "+c.key+
				". Please try again later.", "")
		return a, "", false, false
	}
	if e.endpoint != endpoint {
		return errorAnswer(http.StatusBadRequest, "idempotency_error", "",
			"Keys for idempotent requests can only be used for the same endpoint they were first used for ("+
				e.endpoint+", not "+endpoint+"). Try using a key other than '"+c.key+"' if you meant to execute a different request.",
			""), "", false, false
	}
	if e.params != params {
		return errorAnswer(http.StatusBadRequest, "idempotency_error", "",
			"Keys for idempotent requests can only be used with the same parameters they were first used with. "+
				"Try using a key other than '"+c.key+"' if you meant to execute a different request.", ""), "", false, false
	}
	return e.answer, e.original, true, false
}

// endIdempotent remembers a under c.key when the request ran, and frees the
// key otherwise.
func (s *Server) endIdempotent(c *call, a answer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !a.save {
		delete(s.idem, c.key)
		return
	}
	e := s.idem[c.key]
	e.running = false
	e.answer = a
}

// write sends a.
func (s *Server) write(w http.ResponseWriter, c *call, a answer) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Request-Id", c.reqID)
	h.Set("Stripe-Version", s.opts.APIVersion)
	h.Set("Content-Length", strconv.Itoa(len(a.body)))
	if c.key != "" {
		h.Set("Idempotency-Key", c.key)
	}
	if a.status == http.StatusConflict {
		h.Set("Stripe-Should-Retry", "true")
	}
	s.note(c, func(r *Request) { r.Status = a.status })
	w.WriteHeader(a.status)
	_, _ = w.Write(a.body)
	if fl, ok := w.(http.Flusher); ok {
		fl.Flush()
	}
}

// hang waits until the client gives up or the server closes.
func (s *Server) hang(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-s.closing:
	}
}

// abort drops the connection without an answer.
func abort(w http.ResponseWriter) {
	if !hijackClose(w) {
		panic(http.ErrAbortHandler)
	}
}

func hijackClose(w http.ResponseWriter) bool {
	hj, ok := w.(http.Hijacker)
	if !ok {
		return false
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return false
	}
	_ = conn.Close()
	return true
}

// Operations. Each runs with s.mu taken for its whole duration, so that every
// request sees and leaves a consistent state.

func (s *Server) createRefund(c *call) answer {
	if a, ok := checkParams(c.form, []string{"charge", "payment_intent", "amount", "currency", "reason",
		"instructions_email", "refund_application_fee", "reverse_transfer", "origin"}, "metadata", "expand"); !ok {
		return a
	}
	expand, a, ok := expansions(c.form, "", "balance_transaction", "charge", "payment_intent")
	if !ok {
		return a
	}
	chargeID, intentID := c.form.Get("charge"), c.form.Get("payment_intent")
	currency := lower(c.form.Get("currency"))

	s.mu.Lock()
	defer s.mu.Unlock()

	if chargeID == "" && intentID == "" {
		return invalid(http.StatusBadRequest, "parameter_missing",
			"One of the following params should be provided for this request: payment_intent or charge.", "charge")
	}
	ch := s.charges[chargeID]
	if chargeID == "" {
		ch = s.charges[s.byIntent[intentID]]
	}
	if ch == nil && s.opts.AutoCharges {
		cur := currency
		if cur == "" {
			cur = s.opts.Currency
		}
		if chargeID == "" {
			chargeID = newID("ch")
		}
		ch = s.addCharge(chargeID, intentID, s.opts.AutoChargeAmount, cur)
	}
	switch {
	case ch == nil && chargeID != "":
		return invalid(http.StatusNotFound, "resource_missing", "No such charge: '"+chargeID+"'", "charge")
	case ch == nil:
		return invalid(http.StatusNotFound, "resource_missing", "No such payment_intent: '"+intentID+"'", "payment_intent")
	case intentID != "" && ch.PaymentIntent != intentID:
		return invalid(http.StatusBadRequest, "", "Charge "+ch.ID+" does not belong to PaymentIntent "+intentID+".", "payment_intent")
	}

	left := ch.Amount - ch.refunded()
	amount := left
	if v := c.form.Get("amount"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return invalid(http.StatusBadRequest, "parameter_invalid_integer", "Invalid positive integer", "amount")
		}
		amount = n
	}
	if currency != "" && currency != ch.Currency {
		return invalid(http.StatusBadRequest, "", fmt.Sprintf(
			"The currency of the refund (%s) must match the currency of the charge (%s).", currency, ch.Currency), "currency")
	}
	reason := c.form.Get("reason")
	switch reason {
	case "", "duplicate", "fraudulent", "requested_by_customer":
	default:
		return invalid(http.StatusBadRequest, "", "Invalid reason: must be one of duplicate, fraudulent, or requested_by_customer", "reason")
	}
	if left <= 0 {
		return invalid(http.StatusBadRequest, "charge_already_refunded", "Charge "+ch.ID+" has already been refunded.", "")
	}
	if amount > left {
		return invalid(http.StatusBadRequest, "amount_too_large", fmt.Sprintf(
			"Refund amount (%d %s) is greater than unrefunded amount on charge (%d %s)",
			amount, ch.Currency, left, ch.Currency), "amount")
	}

	s.seq++
	rf := &refund{seq: s.seq, Refund: Refund{
		ID:                 newID("re"),
		Charge:             ch.ID,
		PaymentIntent:      ch.PaymentIntent,
		Amount:             amount,
		Currency:           ch.Currency,
		Status:             s.opts.RefundStatus,
		Reason:             reason,
		Metadata:           metadata(c.form, nil),
		Created:            s.opts.Now(),
		BalanceTransaction: newID("txn"),
		IdempotencyKey:     c.key,
	}}
	if c.fault != nil && c.fault.Kind == FailRefund {
		rf.Status = StatusFailed
		rf.FailureReason = c.fault.FailureReason
		if rf.FailureReason == "" {
			rf.FailureReason = "expired_or_canceled_card"
		}
		rf.FailureBalanceTransaction = newID("txn")
	}
	s.addRefund(rf)
	ch.refunds = append(ch.refunds, rf)

	c.events = append(c.events, s.emit(c, "charge.refunded", s.chargeJSON(ch, s.opts.ChargeRefundsInEvents), nil))
	if s.opts.RefundEvents {
		c.events = append(c.events, s.emit(c, "refund.created", s.refundJSON(rf, nil), nil))
	}
	if rf.Status == StatusPending {
		s.scheduleSettle(rf.ID)
	}
	return ok200(s.refundJSON(rf, expand))
}

func (s *Server) getRefund(c *call) answer {
	if a, ok := checkParams(c.form, nil, "", "expand"); !ok {
		return a
	}
	expand, a, ok := expansions(c.form, "", "balance_transaction", "charge", "payment_intent")
	if !ok {
		return a
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rf, found := s.refunds[c.r.PathValue("id")]
	if !found {
		return invalid(http.StatusNotFound, "resource_missing", "No such refund: '"+c.r.PathValue("id")+"'", "id")
	}
	return ok200(s.refundJSON(rf, expand))
}

func (s *Server) updateRefund(c *call) answer {
	if a, ok := checkParams(c.form, nil, "metadata", "expand"); !ok {
		return a
	}
	expand, a, ok := expansions(c.form, "", "balance_transaction", "charge", "payment_intent")
	if !ok {
		return a
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rf, found := s.refunds[c.r.PathValue("id")]
	if !found {
		return invalid(http.StatusNotFound, "resource_missing", "No such refund: '"+c.r.PathValue("id")+"'", "id")
	}
	old := clone(rf.Metadata)
	rf.Metadata = metadata(c.form, rf.Metadata)
	if !mapsEqual(old, rf.Metadata) {
		c.events = append(c.events, s.refundUpdated(c, rf, map[string]any{"metadata": old})...)
	}
	return ok200(s.refundJSON(rf, expand))
}

func (s *Server) cancelRefund(c *call) answer {
	if a, ok := checkParams(c.form, nil, "", "expand"); !ok {
		return a
	}
	expand, a, ok := expansions(c.form, "", "balance_transaction", "charge", "payment_intent")
	if !ok {
		return a
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id := c.r.PathValue("id")
	rf, found := s.refunds[id]
	if !found {
		return invalid(http.StatusNotFound, "resource_missing", "No such refund: '"+id+"'", "id")
	}
	if rf.Status != StatusRequiresAction {
		return invalid(http.StatusBadRequest, "", "You can only cancel a refund with a status of requires_action; "+
			id+" is "+rf.Status+".", "")
	}
	evs, _ := s.setStatus(c, id, StatusCanceled, "")
	c.events = append(c.events, evs...)
	return ok200(s.refundJSON(rf, expand))
}

func (s *Server) listRefunds(c *call) answer {
	if a, ok := checkParams(c.form, []string{"charge", "payment_intent", "limit", "starting_after", "ending_before"},
		"created", "expand"); !ok {
		return a
	}
	expand, a, ok := expansions(c.form, "data.", "balance_transaction", "charge", "payment_intent")
	if !ok {
		return a
	}
	created, a, ok := createdFilter(c.form)
	if !ok {
		return a
	}
	s.mu.Lock()
	defer s.mu.Unlock()

	items := make([]*refund, 0, len(s.order))
	for _, rf := range s.order {
		if v := c.form.Get("charge"); v != "" && rf.Charge != v {
			continue
		}
		if v := c.form.Get("payment_intent"); v != "" && rf.PaymentIntent != v {
			continue
		}
		if !created(rf.Created.Unix()) {
			continue
		}
		items = append(items, rf)
	}
	slices.SortFunc(items, func(a, b *refund) int { // newest first, as Stripe lists
		if d := b.Created.Unix() - a.Created.Unix(); d != 0 {
			return sign(d)
		}
		return sign(b.seq - a.seq)
	})
	page, more, a, ok := paginate(c.form, items, func(rf *refund) string { return rf.ID }, "refund")
	if !ok {
		return a
	}
	data := make([]any, len(page))
	for i, rf := range page {
		data[i] = s.refundJSON(rf, expand)
	}
	return ok200(listJSON("/v1/refunds", data, more))
}

func (s *Server) getCharge(c *call) answer {
	if a, ok := checkParams(c.form, nil, "", "expand"); !ok {
		return a
	}
	expand, a, ok := expansions(c.form, "", "refunds")
	if !ok {
		return a
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, found := s.charges[c.r.PathValue("id")]
	if !found {
		return invalid(http.StatusNotFound, "resource_missing", "No such charge: '"+c.r.PathValue("id")+"'", "id")
	}
	return ok200(s.chargeJSON(ch, expand["refunds"]))
}

func (s *Server) getEvent(c *call) answer {
	if a, ok := checkParams(c.form, nil, "", "expand"); !ok {
		return a
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ev := range s.events {
		if ev.ID == c.r.PathValue("id") {
			return answer{status: http.StatusOK, body: ev.Payload}
		}
	}
	return invalid(http.StatusNotFound, "resource_missing", "No such event: '"+c.r.PathValue("id")+"'", "id")
}

func (s *Server) listEvents(c *call) answer {
	if a, ok := checkParams(c.form, []string{"type", "limit", "starting_after", "ending_before", "delivery_success"},
		"created", "types"); !ok {
		return a
	}
	created, a, ok := createdFilter(c.form)
	if !ok {
		return a
	}
	var types []string
	if v := c.form.Get("type"); v != "" {
		types = append(types, v)
	}
	for k, vs := range c.form {
		if strings.HasPrefix(k, "types[") {
			types = append(types, vs...)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var items []*event
	for i := len(s.events) - 1; i >= 0; i-- { // newest first
		ev := s.events[i]
		if created(ev.Created.Unix()) && typeMatches(types, ev.Type) {
			items = append(items, ev)
		}
	}
	page, more, a, ok := paginate(c.form, items, func(ev *event) string { return ev.ID }, "event")
	if !ok {
		return a
	}
	data := make([]any, len(page))
	for i, ev := range page {
		data[i] = json.RawMessage(ev.Payload)
	}
	return ok200(listJSON("/v1/events", data, more))
}

// setStatus moves refund id to status and returns the events it caused.
// s.mu is held; c is nil when no request caused it.
func (s *Server) setStatus(c *call, id, status, failureReason string) ([]*event, error) {
	rf, ok := s.refunds[id]
	if !ok {
		return nil, fmt.Errorf("fakestripe: no refund %s", id)
	}
	switch status {
	case StatusPending, StatusRequiresAction, StatusSucceeded, StatusFailed, StatusCanceled:
	default:
		return nil, fmt.Errorf("fakestripe: unknown refund status %q", status)
	}
	if rf.Status == status {
		return nil, nil
	}
	prev := map[string]any{"status": rf.Status}
	if rf.FailureReason != "" {
		prev["failure_reason"] = rf.FailureReason
	}
	rf.Status = status
	rf.FailureReason = ""
	if status == StatusFailed {
		rf.FailureReason = failureReason
		if rf.FailureReason == "" {
			rf.FailureReason = "unknown"
		}
		if rf.FailureBalanceTransaction == "" {
			rf.FailureBalanceTransaction = newID("txn")
		}
		if _, had := prev["failure_reason"]; !had {
			prev["failure_reason"] = nil
		}
	}
	if status == StatusPending {
		s.scheduleSettle(id)
	}
	return s.refundUpdated(c, rf, prev), nil
}

// refundUpdated records the events Stripe sends when a refund changes.
func (s *Server) refundUpdated(c *call, rf *refund, prev map[string]any) []*event {
	evs := []*event{s.emit(c, "charge.refund.updated", s.refundJSON(rf, nil), prev)}
	if s.opts.RefundEvents {
		evs = append(evs, s.emit(c, "refund.updated", s.refundJSON(rf, nil), prev))
		if rf.Status == StatusFailed && prev["status"] != StatusFailed {
			evs = append(evs, s.emit(c, "refund.failed", s.refundJSON(rf, nil), prev))
		}
	}
	return evs
}

// JSON objects, rendered as API version 2023-10-16 shows them.

func (s *Server) refundJSON(rf *refund, expand map[string]bool) map[string]any {
	var intent any
	if rf.PaymentIntent != "" {
		intent = rf.PaymentIntent
	}
	var reason any
	if rf.Reason != "" {
		reason = rf.Reason
	}
	m := map[string]any{
		"id":                       rf.ID,
		"object":                   "refund",
		"amount":                   rf.Amount,
		"balance_transaction":      rf.BalanceTransaction,
		"charge":                   rf.Charge,
		"created":                  rf.Created.Unix(),
		"currency":                 rf.Currency,
		"destination_details":      map[string]any{"type": "card", "card": map[string]any{"type": "refund"}},
		"metadata":                 clone(rf.Metadata),
		"payment_intent":           intent,
		"reason":                   reason,
		"receipt_number":           nil,
		"source_transfer_reversal": nil,
		"status":                   rf.Status,
		"transfer_reversal":        nil,
	}
	if rf.Status == StatusFailed {
		m["failure_reason"] = rf.FailureReason
		m["failure_balance_transaction"] = rf.FailureBalanceTransaction
	}
	if expand["balance_transaction"] {
		m["balance_transaction"] = balanceTransactionJSON(rf.BalanceTransaction, rf, -rf.Amount)
		if rf.FailureBalanceTransaction != "" {
			m["failure_balance_transaction"] = balanceTransactionJSON(rf.FailureBalanceTransaction, rf, rf.Amount)
		}
	}
	ch := s.charges[rf.Charge]
	if expand["charge"] && ch != nil {
		m["charge"] = s.chargeJSON(ch, false)
	}
	if expand["payment_intent"] && ch != nil && rf.PaymentIntent != "" {
		m["payment_intent"] = map[string]any{
			"id":                  rf.PaymentIntent,
			"object":              "payment_intent",
			"amount":              ch.Amount,
			"amount_received":     ch.Amount,
			"currency":            ch.Currency,
			"latest_charge":       ch.ID,
			"status":              "succeeded",
			"created":             ch.Created.Unix(),
			"livemode":            false,
			"metadata":            map[string]string{},
			"capture_method":      "automatic",
			"payment_method":      nil,
			"confirmation_method": "automatic",
		}
	}
	return m
}

func balanceTransactionJSON(id string, rf *refund, amount int64) map[string]any {
	typ, category := "refund", "refund"
	if amount > 0 {
		typ, category = "refund_failure", "refund_failure"
	}
	return map[string]any{
		"id":                 id,
		"object":             "balance_transaction",
		"amount":             amount,
		"available_on":       rf.Created.Unix(),
		"created":            rf.Created.Unix(),
		"currency":           rf.Currency,
		"description":        "REFUND FOR CHARGE",
		"exchange_rate":      nil,
		"fee":                0,
		"fee_details":        []any{},
		"net":                amount,
		"reporting_category": category,
		"source":             rf.ID,
		"status":             "available",
		"type":               typ,
	}
}

func (s *Server) chargeJSON(ch *charge, withRefunds bool) map[string]any {
	refunded := ch.refunded()
	var intent any
	if ch.PaymentIntent != "" {
		intent = ch.PaymentIntent
	}
	m := map[string]any{
		"id":              ch.ID,
		"object":          "charge",
		"amount":          ch.Amount,
		"amount_captured": ch.Amount,
		"amount_refunded": refunded,
		"billing_details": map[string]any{"address": nil, "email": nil, "name": nil, "phone": nil},
		"captured":        true,
		"created":         ch.Created.Unix(),
		"currency":        ch.Currency,
		"disputed":        false,
		"livemode":        false,
		"metadata":        map[string]string{},
		"paid":            true,
		"payment_intent":  intent,
		"refunded":        refunded == ch.Amount,
		"status":          "succeeded",
	}
	if withRefunds {
		data := make([]any, 0, len(ch.refunds))
		for i := len(ch.refunds) - 1; i >= 0; i-- {
			data = append(data, s.refundJSON(ch.refunds[i], nil))
		}
		m["refunds"] = map[string]any{
			"object":      "list",
			"data":        data,
			"has_more":    false,
			"total_count": len(data),
			"url":         "/v1/charges/" + ch.ID + "/refunds",
		}
	}
	return m
}

func listJSON(path string, data []any, more bool) map[string]any {
	return map[string]any{"object": "list", "data": data, "has_more": more, "url": path}
}

// Parameters.

// checkParams answers 400 parameter_unknown for a parameter that is neither
// in plain nor of the form prefix[…] for one of the prefixes.
func checkParams(form url.Values, plain []string, prefixes ...string) (answer, bool) {
	for k := range form {
		if slices.Contains(plain, k) {
			continue
		}
		known := false
		for _, p := range prefixes {
			if p != "" && (k == p || strings.HasPrefix(k, p+"[")) {
				known = true
			}
		}
		if !known {
			return invalid(http.StatusBadRequest, "parameter_unknown", "Received unknown parameter: "+k, k), false
		}
	}
	return answer{}, true
}

// expansions returns the expand[] parameters without prefix, refusing those
// not in allowed.
func expansions(form url.Values, prefix string, allowed ...string) (map[string]bool, answer, bool) {
	out := make(map[string]bool)
	for k, vs := range form {
		if k != "expand" && !strings.HasPrefix(k, "expand[") {
			continue
		}
		for _, v := range vs {
			field, ok := strings.CutPrefix(v, prefix)
			if !ok || !slices.Contains(allowed, field) {
				return nil, invalid(http.StatusBadRequest, "", "This property cannot be expanded ("+v+").", "expand"), false
			}
			out[field] = true
		}
	}
	return out, answer{}, true
}

// metadata applies the metadata[…] parameters to old: an empty value unsets
// a key, as in Stripe.
func metadata(form url.Values, old map[string]string) map[string]string {
	out := clone(old)
	for k, vs := range form {
		key, ok := strings.CutPrefix(k, "metadata[")
		if !ok || !strings.HasSuffix(key, "]") {
			continue
		}
		key = strings.TrimSuffix(key, "]")
		if v := vs[len(vs)-1]; v == "" {
			delete(out, key)
		} else {
			out[key] = v
		}
	}
	return out
}

// createdFilter reads created=… and created[gt|gte|lt|lte]=….
func createdFilter(form url.Values) (func(int64) bool, answer, bool) {
	type bound struct {
		op string
		v  int64
	}
	var bounds []bound
	for _, op := range []string{"", "gt", "gte", "lt", "lte"} {
		key := "created"
		if op != "" {
			key = "created[" + op + "]"
		}
		v := form.Get(key)
		if v == "" {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, invalid(http.StatusBadRequest, "parameter_invalid_integer", "Invalid integer: "+v, key), false
		}
		bounds = append(bounds, bound{op, n})
	}
	return func(t int64) bool {
		for _, b := range bounds {
			switch {
			case b.op == "" && t != b.v,
				b.op == "gt" && t <= b.v,
				b.op == "gte" && t < b.v,
				b.op == "lt" && t >= b.v,
				b.op == "lte" && t > b.v:
				return false
			}
		}
		return true
	}, answer{}, true
}

// paginate cuts one page out of items (newest first) by limit,
// starting_after and ending_before.
func paginate[T any](form url.Values, items []T, id func(T) string, object string) ([]T, bool, answer, bool) {
	limit := 10
	if v := form.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return nil, false, invalid(http.StatusBadRequest, "parameter_invalid_integer",
				"Invalid limit: must be an integer between 1 and 100", "limit"), false
		}
		limit = n
	}
	find := func(param string) (int, answer, bool) {
		cursor := form.Get(param)
		i := slices.IndexFunc(items, func(x T) bool { return id(x) == cursor })
		if i < 0 {
			return 0, invalid(http.StatusBadRequest, "resource_missing",
				"No such "+object+": '"+cursor+"'", param), false
		}
		return i, answer{}, true
	}
	switch {
	case form.Get("starting_after") != "":
		i, a, ok := find("starting_after")
		if !ok {
			return nil, false, a, false
		}
		rest := items[i+1:]
		if len(rest) > limit {
			return rest[:limit], true, answer{}, true
		}
		return rest, false, answer{}, true
	case form.Get("ending_before") != "":
		i, a, ok := find("ending_before")
		if !ok {
			return nil, false, a, false
		}
		if i > limit {
			return items[i-limit : i], true, answer{}, true
		}
		return items[:i], false, answer{}, true
	}
	if len(items) > limit {
		return items[:limit], true, answer{}, true
	}
	return items, false, answer{}, true
}

func typeMatches(types []string, typ string) bool {
	if len(types) == 0 {
		return true
	}
	for _, t := range types {
		if t == typ || (strings.HasSuffix(t, ".*") && strings.HasPrefix(typ, strings.TrimSuffix(t, "*"))) {
			return true
		}
	}
	return false
}

// Answers.

func ok200(v any) answer {
	return answer{status: http.StatusOK, body: mustJSON(v), save: true}
}

// invalid is an error found before the request ran: not remembered under its
// Idempotency-Key.
func invalid(status int, code, message, param string) answer {
	return errorAnswer(status, "invalid_request_error", code, message, param)
}

// errorAnswer renders Stripe's error shape; extra are more key, value pairs.
func errorAnswer(status int, typ, code, message, param string, extra ...string) answer {
	e := map[string]any{"type": typ, "message": message}
	for i := 0; i+1 < len(extra); i += 2 {
		e[extra[i]] = extra[i+1]
	}
	if code != "" {
		e["code"] = code
		e["doc_url"] = "https://stripe.com/docs/error-codes/" + strings.ReplaceAll(code, "_", "-")
	}
	if param != "" {
		e["param"] = param
	}
	return answer{status: status, body: mustJSON(map[string]any{"error": e})}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("fakestripe: " + err.Error()) // only our own maps are marshalled
	}
	return b
}

func sign(d int64) int {
	switch {
	case d < 0:
		return -1
	case d > 0:
		return 1
	}
	return 0
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
