// Package fakestripe is a stateful imitation of the part of Stripe's API v1 that
// Roundtrip uses: refunds on charges and payment intents, Checkout Sessions in
// payment mode (checkout.go), Idempotency-Key replays, list pagination with
// expansion, and signed webhooks. stripe-go v76
// works against it unmodified (point a BackendConfig URL, or STRIPE_API_BASE, at
// Server.URL).
//
// stripe-mock checks the shape of requests but remembers nothing. This fake
// remembers every charge, refund, idempotency key and event, so tests,
// benchmarks and the load driver can check that a refund is paid exactly once,
// inject the failures that Stripe and networks produce (see Fault), and send
// webhooks twice or out of order. It is a normal package, not a test helper:
// it can also run inside a process (Handler) or on a fixed address
// (Options.Addr).
//
// What it imitates, and how:
//
//   - Requests are form-encoded, answers are JSON, errors have Stripe's shape
//     {"error":{"type","code","message","param"}}. Any Stripe-Version is accepted;
//     events are rendered for API version 2023-10-16 (Options.APIVersion).
//   - An Idempotency-Key on a POST is remembered with the endpoint and the
//     parameters. The same key and parameters replay the first answer with
//     Idempotent-Replayed: true and change nothing; the same key with other
//     parameters answers 400 idempotency_error; a request whose key is still in
//     use by a running request answers 409 idempotency_key_in_use (as Stripe
//     does; stripe-go retries 409 when it may retry at all). Answers of requests
//     that ran are remembered, errors included; answers of requests rejected
//     before running (parameter errors, unknown charge, amounts over what is
//     refundable, injected 429/500/503) are not, so a retry runs again.
//   - On API version 2023-10-16 Stripe sends charge.refunded when a refund is
//     created (its charge object does not include the refunds list, which is
//     not expanded in events since 2022-11-15) and charge.refund.updated when a
//     refund changes; refund.* events only for refunds without a charge. The
//     fake does the same; Options.RefundEvents and Options.ChargeRefundsInEvents
//     add what newer or older versions send.
package fakestripe

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync"
	"time"
)

// Refund statuses, as Stripe names them.
const (
	StatusPending        = "pending"
	StatusRequiresAction = "requires_action"
	StatusSucceeded      = "succeeded"
	StatusFailed         = "failed"
	StatusCanceled       = "canceled"
)

// Delivery says when webhooks are sent.
type Delivery int

const (
	// DeliverSync sends the events that an API request caused after its answer
	// has been written and flushed, before the handler returns; the events
	// caused by a method (SetRefundStatus) before the method returns. Failed
	// attempts are retried WebhookAttempts times.
	DeliverSync Delivery = iota
	// DeliverAsync queues events (at most WebhookQueue; more are recorded but
	// not sent) for WebhookWorkers goroutines that send them with retries.
	// Drain waits for the queue; Close stops the workers and waits for them.
	DeliverAsync
	// DeliverManual only records events; send them with Redeliver, in any
	// order and as often as wanted.
	DeliverManual
)

// Options configure a Server. The zero value works: a random local port,
// refunds that succeed at once, no webhooks.
type Options struct {
	// Addr is the address to listen on; empty means a random port on 127.0.0.1.
	Addr string
	// APIKey, when set, is the only secret key accepted; otherwise any key is.
	APIKey string
	// Now is the clock for created timestamps; default time.Now. Webhook
	// signatures always use the real time, so receivers' tolerance checks pass.
	Now func() time.Time

	// RequestLogSize is how many of the latest requests RequestLog keeps
	// (default 100,000), so that a long load run stays bounded. Requests
	// counts every request regardless.
	RequestLogSize int

	// RefundStatus is the status new refunds get: succeeded (default), pending
	// or requires_action.
	RefundStatus string
	// SettleAfter moves refunds that were created pending to succeeded after
	// this long, with a charge.refund.updated event. Zero leaves them pending
	// until SetRefundStatus.
	SettleAfter time.Duration
	// AutoCharges creates an unknown charge (or payment intent) the first time a
	// refund names it, with AutoChargeAmount in the request's currency or
	// Currency. Without it an unknown charge answers 404 resource_missing.
	AutoCharges      bool
	AutoChargeAmount int64  // default 1,000,000,000 minor units
	Currency         string // default "usd"

	// WebhookURL receives the events; empty means events are only recorded.
	WebhookURL string
	// WebhookSecret signs them (Stripe-Signature: t=…,v1=…).
	WebhookSecret string
	// Delivery says when events are sent; default DeliverSync.
	Delivery Delivery
	// WebhookAttempts is how many times automatic delivery tries one event
	// (default 3), waiting WebhookBackoff (default 50ms, doubling) in between.
	WebhookAttempts int
	WebhookBackoff  time.Duration
	// WebhookQueue bounds the DeliverAsync queue (default 1024);
	// WebhookWorkers sends from it (default 1, so events go out in order).
	WebhookQueue   int
	WebhookWorkers int
	// WebhookClient sends the events; default a client with a 10 s timeout.
	WebhookClient *http.Client
	// APIVersion is the api_version of events; default "2023-10-16".
	APIVersion string
	// RefundEvents also sends refund.created, refund.updated and refund.failed
	// for refunds on charges, as Stripe does from API version 2024-10-28.
	RefundEvents bool
	// ChargeRefundsInEvents includes the refunds list in the charge object of
	// charge.refunded events, as API versions before 2022-11-15 did.
	ChargeRefundsInEvents bool
}

// Refund is a refund as the fake holds it.
type Refund struct {
	ID                        string
	Charge                    string
	PaymentIntent             string
	Amount                    int64
	Currency                  string
	Status                    string
	FailureReason             string
	Reason                    string
	Metadata                  map[string]string
	Created                   time.Time
	BalanceTransaction        string
	FailureBalanceTransaction string
	// IdempotencyKey is the key of the request that created it; empty for a
	// seeded refund.
	IdempotencyKey string
}

// Charge is a charge as the fake holds it.
type Charge struct {
	ID            string
	PaymentIntent string
	Amount        int64
	// AmountRefunded counts refunds that are not failed or canceled.
	AmountRefunded int64
	Currency       string
	Created        time.Time
}

// Request is one API request as the fake received it.
type Request struct {
	Method string
	Path   string
	// Route is the matched route, such as "POST /v1/refunds/{id}/cancel", or
	// the method and path when no route matched.
	Route          string
	IdempotencyKey string
	StripeVersion  string
	Form           url.Values
	// Status is the HTTP status answered; 0 while running, or when no answer
	// was sent (a Timeout or LoseResponse fault, or Close).
	Status   int
	Replayed bool
	// Fault is the kind of the injected fault that hit the request, if any.
	Fault Kind
	At    time.Time
}

// Server is a running fake. Its methods are safe for concurrent use.
type Server struct {
	opts    Options
	handler http.Handler
	ts      *httptest.Server

	ctx     context.Context // cancelled by Close
	cancel  context.CancelFunc
	closing chan struct{}
	once    sync.Once
	bg      sync.WaitGroup // timers and webhook workers
	queue   chan *event

	mu       sync.Mutex
	closed   bool
	seq      int64
	charges  map[string]*charge
	byIntent map[string]string // payment intent → charge
	refunds  map[string]*refund
	order    []*refund            // creation order
	byMeta   map[string][]*refund // metadata key "\x00" value → refunds, in creation order
	// Checkout Sessions by ID and in creation order
	sessions     map[string]*CheckoutSession
	sessionOrder []*CheckoutSession
	idem         map[string]*idemEntry
	faults       []*faultState
	events       []*event
	requests     []*Request
	counts       map[string]int
	timers       map[*time.Timer]struct{}
	pending      int           // async events queued or being sent
	idle         chan struct{} // closed when pending drops to 0
}

type charge struct {
	Charge
	refunds []*refund
}

type refund struct {
	Refund
	seq int64
}

// New starts a fake Stripe listening on opts.Addr (default a random port on
// 127.0.0.1). It panics when it cannot listen, as httptest.NewServer does.
// Close it when done.
func New(opts Options) *Server {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.RefundStatus == "" {
		opts.RefundStatus = StatusSucceeded
	}
	if opts.AutoChargeAmount <= 0 {
		opts.AutoChargeAmount = 1_000_000_000
	}
	if opts.Currency == "" {
		opts.Currency = "usd"
	}
	if opts.RequestLogSize <= 0 {
		opts.RequestLogSize = 100_000
	}
	if opts.WebhookAttempts <= 0 {
		opts.WebhookAttempts = 3
	}
	if opts.WebhookBackoff <= 0 {
		opts.WebhookBackoff = 50 * time.Millisecond
	}
	if opts.WebhookQueue <= 0 {
		opts.WebhookQueue = 1024
	}
	if opts.WebhookWorkers <= 0 {
		opts.WebhookWorkers = 1
	}
	if opts.WebhookClient == nil {
		// A transport of its own: httptest servers closing in parallel tests close the
		// idle connections of http.DefaultTransport, which breaks a webhook that was
		// about to reuse one.
		// It keeps a connection per webhook worker open, as Stripe would.
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = max(opts.WebhookWorkers, 2)
		opts.WebhookClient = &http.Client{Timeout: 10 * time.Second, Transport: t}
	}
	if opts.APIVersion == "" {
		opts.APIVersion = "2023-10-16"
	}
	switch opts.RefundStatus {
	case StatusSucceeded, StatusPending, StatusRequiresAction:
	default:
		panic(fmt.Sprintf("fakestripe: RefundStatus %q is not succeeded, pending or requires_action", opts.RefundStatus))
	}

	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		opts:     opts,
		ctx:      ctx,
		cancel:   cancel,
		closing:  make(chan struct{}),
		charges:  make(map[string]*charge),
		byIntent: make(map[string]string),
		refunds:  make(map[string]*refund),
		byMeta:   make(map[string][]*refund),
		idem:     make(map[string]*idemEntry),
		counts:   make(map[string]int),
		timers:   make(map[*time.Timer]struct{}),
	}
	s.handler = s.routes()

	if opts.Delivery == DeliverAsync && opts.WebhookURL != "" {
		s.queue = make(chan *event, opts.WebhookQueue)
		for range opts.WebhookWorkers {
			s.bg.Add(1)
			go s.deliverQueued()
		}
	}

	s.ts = httptest.NewUnstartedServer(s.handler)
	if opts.Addr != "" {
		l, err := net.Listen("tcp", opts.Addr)
		if err != nil {
			s.Close()
			panic(fmt.Sprintf("fakestripe: listen on %s: %v", opts.Addr, err))
		}
		s.ts.Listener.Close()
		s.ts.Listener = l
	}
	s.ts.Start()
	return s
}

// URL is the base URL of the API, such as http://127.0.0.1:41234, for
// stripe.BackendConfig.URL or STRIPE_API_BASE.
func (s *Server) URL() string { return s.ts.URL }

// Handler serves the API, for mounting the fake in another server as well.
func (s *Server) Handler() http.Handler { return s.handler }

// Close stops the server: hanging and delayed requests are dropped, pending
// status timers stopped, webhook workers stopped; it waits for all of them.
// Events still queued are not sent. Close is idempotent.
func (s *Server) Close() {
	s.once.Do(func() {
		s.mu.Lock()
		s.closed = true
		for t := range s.timers {
			if t.Stop() {
				s.bg.Done() // its callback will never run
			}
		}
		clear(s.timers)
		s.mu.Unlock()

		close(s.closing)
		s.cancel()
		if s.ts != nil {
			s.ts.Close()
		}
		s.bg.Wait()
	})
}

// AddCharge adds a succeeded charge of amount minor units in currency, paid
// through paymentIntent (may be empty), or replaces the charge with that ID
// (its refunds stay). An empty id gets a generated ch_… one.
func (s *Server) AddCharge(id, paymentIntent string, amount int64, currency string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addCharge(id, paymentIntent, amount, currency)
}

func (s *Server) addCharge(id, paymentIntent string, amount int64, currency string) *charge {
	if id == "" {
		id = newID("ch")
	}
	ch, ok := s.charges[id]
	if !ok {
		ch = &charge{Charge: Charge{ID: id, Created: s.opts.Now()}}
		s.charges[id] = ch
	}
	if ch.PaymentIntent != "" {
		delete(s.byIntent, ch.PaymentIntent)
	}
	ch.PaymentIntent = paymentIntent
	ch.Amount = amount
	ch.Currency = lower(currency)
	if paymentIntent != "" {
		s.byIntent[paymentIntent] = id
	}
	return ch
}

// Charge returns the charge with that ID.
func (s *Server) Charge(id string) (Charge, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.charges[id]
	if !ok {
		return Charge{}, false
	}
	return ch.snapshot(), true
}

// SeedRefund stores a refund that exists in Stripe only, as if made in the
// dashboard, for reconciliation tests; no event is sent. Missing fields are
// filled in (ID, Created, Status succeeded, BalanceTransaction, Currency and
// PaymentIntent from the charge). An unknown charge is created, fully paid by
// the refund's amount. SeedRefund returns the refund as stored.
func (s *Server) SeedRefund(r Refund) Refund {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.ID == "" {
		r.ID = newID("re")
	}
	if r.Created.IsZero() {
		r.Created = s.opts.Now()
	}
	if r.Status == "" {
		r.Status = StatusSucceeded
	}
	if r.BalanceTransaction == "" {
		r.BalanceTransaction = newID("txn")
	}
	if r.Status == StatusFailed && r.FailureBalanceTransaction == "" {
		r.FailureBalanceTransaction = newID("txn")
	}
	if r.Charge == "" && r.PaymentIntent != "" {
		r.Charge = s.byIntent[r.PaymentIntent]
	}
	if r.Charge == "" {
		r.Charge = newID("ch")
	}
	ch, ok := s.charges[r.Charge]
	if !ok {
		cur := r.Currency
		if cur == "" {
			cur = s.opts.Currency
		}
		ch = s.addCharge(r.Charge, r.PaymentIntent, r.Amount, cur)
	}
	if r.Currency == "" {
		r.Currency = ch.Currency
	}
	r.Currency = lower(r.Currency)
	if r.PaymentIntent == "" {
		r.PaymentIntent = ch.PaymentIntent
	}
	r.Metadata = clone(r.Metadata)
	s.seq++
	rf := &refund{Refund: r, seq: s.seq}
	if old, ok := s.refunds[r.ID]; ok {
		s.dropRefund(old)
	}
	s.addRefund(rf)
	ch.refunds = append(ch.refunds, rf)
	return rf.snapshot()
}

// addRefund files rf by ID, in creation order and by its metadata. s.mu is held.
func (s *Server) addRefund(rf *refund) {
	s.refunds[rf.ID] = rf
	s.order = append(s.order, rf)
	for k, v := range rf.Metadata {
		s.byMeta[k+"\x00"+v] = append(s.byMeta[k+"\x00"+v], rf)
	}
}

func (s *Server) dropRefund(rf *refund) {
	s.order = slices.DeleteFunc(s.order, func(x *refund) bool { return x == rf })
	for k, v := range rf.Metadata {
		key := k + "\x00" + v
		if list := slices.DeleteFunc(s.byMeta[key], func(x *refund) bool { return x == rf }); len(list) > 0 {
			s.byMeta[key] = list
		} else {
			delete(s.byMeta, key)
		}
	}
	if ch, ok := s.charges[rf.Charge]; ok {
		ch.refunds = slices.DeleteFunc(ch.refunds, func(x *refund) bool { return x == rf })
	}
}

// SetRefundStatus moves a refund to status (pending, requires_action,
// succeeded, failed or canceled), as Stripe does when a refund settles or
// fails later, and sends charge.refund.updated (and refund.updated /
// refund.failed with Options.RefundEvents). failureReason is used for failed
// (default "unknown"). Setting the status a refund already has does nothing.
func (s *Server) SetRefundStatus(id, status, failureReason string) error {
	s.mu.Lock()
	evs, err := s.setStatus(nil, id, status, failureReason)
	s.mu.Unlock()
	if err != nil {
		return err
	}
	s.dispatch(evs)
	return nil
}

// Refund returns the refund with that ID.
func (s *Server) Refund(id string) (Refund, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rf, ok := s.refunds[id]
	if !ok {
		return Refund{}, false
	}
	return rf.snapshot(), true
}

// Refunds returns every refund, oldest first.
func (s *Server) Refunds() []Refund {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Refund, len(s.order))
	for i, rf := range s.order {
		out[i] = rf.snapshot()
	}
	return out
}

// RefundCount returns the number of refunds.
func (s *Server) RefundCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.order)
}

// RefundsByMetadata returns the refunds whose metadata has key = val, oldest
// first.
func (s *Server) RefundsByMetadata(key, val string) []Refund {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Refund
	for _, rf := range s.byMeta[key+"\x00"+val] {
		out = append(out, rf.snapshot())
	}
	return out
}

// Requests returns how many requests each route received, keyed like
// "POST /v1/refunds" or "GET /v1/refunds/{id}".
func (s *Server) Requests() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.counts))
	for k, v := range s.counts {
		out[k] = v
	}
	return out
}

// RequestLog returns the requests received (the latest
// Options.RequestLogSize), in arrival order.
func (s *Server) RequestLog() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	reqs := s.requests
	if n := s.opts.RequestLogSize; len(reqs) > n {
		reqs = reqs[len(reqs)-n:]
	}
	out := make([]Request, len(reqs))
	for i, r := range reqs {
		out[i] = *r
		out[i].Form = cloneValues(r.Form)
	}
	return out
}

func (ch *charge) refunded() int64 {
	var n int64
	for _, rf := range ch.refunds {
		if rf.Status != StatusFailed && rf.Status != StatusCanceled {
			n += rf.Amount
		}
	}
	return n
}

func (ch *charge) snapshot() Charge {
	c := ch.Charge
	c.AmountRefunded = ch.refunded()
	return c
}

func (rf *refund) snapshot() Refund {
	r := rf.Refund
	r.Metadata = clone(r.Metadata)
	return r
}

// scheduleSettle moves a pending refund to succeeded after SettleAfter.
// s.mu is held.
func (s *Server) scheduleSettle(id string) {
	if s.closed || s.opts.SettleAfter <= 0 {
		return
	}
	s.bg.Add(1)
	var t *time.Timer
	t = time.AfterFunc(s.opts.SettleAfter, func() {
		defer s.bg.Done()
		s.mu.Lock()
		delete(s.timers, t)
		if s.closed {
			s.mu.Unlock()
			return
		}
		var evs []*event
		if rf, ok := s.refunds[id]; ok && rf.Status == StatusPending {
			evs, _ = s.setStatus(nil, id, StatusSucceeded, "")
		}
		s.mu.Unlock()
		s.dispatch(evs)
	})
	s.timers[t] = struct{}{}
}

func newID(prefix string) string {
	return prefix + "_" + rand.Text()[:24]
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func clone(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}
